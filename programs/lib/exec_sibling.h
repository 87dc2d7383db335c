/* exec_sibling.h: running another postie program by name. */
#ifndef EXEC_SIBLING_H
#define EXEC_SIBLING_H

/* Executes name with argv (environ unchanged): a name with a slash as
   is; else through PATH, and when PATH does not have it (ENOENT), from
   the directory this program was run from (/proc/self/exe), so that a
   program started with a short PATH (cron's /usr/bin:/bin, for a
   sendmail linked from /usr/sbin) still finds its siblings. Returns only
   on failure, with errno set. */
extern void exec_sibling (char const *name, char const *const *argv) ;

#endif
