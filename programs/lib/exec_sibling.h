/* exec_sibling.h: running another postie program by name. */
#ifndef EXEC_SIBLING_H
#define EXEC_SIBLING_H

#include <stddef.h>

/* Executes name with argv (environ unchanged): a name with a slash as
   is; else from the directory this program was run from
   (/proc/self/exe), so that postie's own programs are found whatever the
   caller's PATH holds (cron's short /usr/bin:/bin, a directory the
   caller may not enter, another program of the same name); only when
   that directory has no such file (ENOENT), or cannot be known, through
   PATH. Returns only on failure, with errno set. */
extern void exec_sibling (char const *name, char const *const *argv) ;

/* The path of name next to this program's own binary into buf (n bytes):
   1 when that file exists, 0 when it does not or the directory cannot be
   known (errno set), so that the caller may fall back to PATH. */
extern int sibling_path (char *buf, size_t n, char const *name) ;

#endif
