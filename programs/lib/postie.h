/* postie.h: what every postie program shares: finding the instance,
   reading control files. */
#ifndef POSTIE_H
#define POSTIE_H

#include <stddef.h>
#include <skalibs/stralloc.h>

/* On a large static buffer of a program exec'd per message or per
   connection: the linker puts it (section .lbss) after every other
   variable, its own and the C library's, so that those share the one or
   two pages after .data instead of being spread between buffers of
   which a run touches the first page only. Each page first touched is a
   page fault, about 12 us on a virtual machine whose page faults trap to
   the hypervisor (doc/bench.md, profile notes). .lbss is x86-64's
   (the compiler makes it a NOBITS section there, the linker script
   places it); elsewhere the buffer stays in .bss, and so it does under
   AddressSanitizer, which puts no redzones around a variable placed in
   a section by name. */
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define POSTIE_LARGE __attribute__((section(".lbss")))
#else
#define POSTIE_LARGE
#endif

#ifndef POSTIE_HOME_DEFAULT
#define POSTIE_HOME_DEFAULT "/etc/postie"
#endif

/* The instance directory: POSTIE_HOME from the environment, unless the
   program runs with raised privileges (set-uid or set-gid), else the
   directory compiled in. */
extern char const *postie_home (void) ;

/* control_list: lists control/ once (returns 0, or -1 with errno set:
   then nothing is listed). From then on, a name missing from the listing
   is a missing file for every control_* call without an open(), and
   control_listed(name) says whether it was there (1 when nothing was
   listed). For programs that live one connection or one message: a file
   added after the listing is seen by the next one. */
extern int control_list (void) ;
extern int control_listed (char const *name) ;

/* control_readline: the first line of control/<name> (relative to the
   current directory, which is the instance), without its newline and
   trailing blanks, into sa (replacing its contents, NUL-terminated).
   Returns 1 when read, 0 when the file does not exist (sa then holds def,
   which may be 0 for the empty string), -1 on error (errno set).
   A line longer than max bytes is an error (ERANGE). */
extern int control_readline (stralloc *sa, char const *name, char const *def, size_t max) ;

/* control_readulong: the first line of control/<name> as a decimal number.
   Missing file: *u = def, returns 0. Returns 1 when read, -1 on error:
   unreadable (errno set) or not a number (errno = EINVAL). */
extern int control_readulong (unsigned long *u, char const *name, unsigned long def) ;

/* control_strerror: why the last control_* call failed, for a log line
   after "unable to read control/NAME: ": what is wrong with the file's
   contents ("not a number", "line too long", "file too large"), or
   strerror(errno) for a system error. */
extern char const *control_strerror (void) ;

/* control_readlines: every non-empty, non-comment line of control/<name>,
   each NUL-terminated, concatenated into sa. Returns 1, 0 (missing: sa
   empty), or -1. The file may be at most max bytes (ERANGE). */
extern int control_readlines (stralloc *sa, char const *name, size_t max) ;

#endif
