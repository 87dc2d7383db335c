/* envmod.h: the environment of the program to run next, as ours with
   some variables set or unset, built without allocating in an array the
   caller provides (on its stack). postie-checkpassword (USER, HOME,
   SHELL, MAILDIR) and postie-tlsd (the UCSPI-TLS variables) use it. */
#ifndef ENVMOD_H
#define ENVMOD_H

#include <stddef.h>
#include <sys/types.h>

/* The most variables an environment built here may hold, counted as
   the caller's environment plus the changes: the array is on the
   caller's stack (8 bytes a variable), so it has a bound. */
#define ENVMOD_MAX 4096
#define ENVMOD_MAXS "4096"

/* How many entries (the final null included) envmod needs for envp
   changed by the n bytes of modifs; 0 when that is more than
   ENVMOD_MAX variables. */
extern size_t envmod_size (char const *const *envp, char const *modifs, size_t n) ;

/* Builds into v (vmax entries) envp changed by modifs: n bytes of
   NUL-terminated entries, "NAME=value" to set NAME, "NAME" to unset it
   (an empty entry, and a last one without its NUL, are ignored). An
   entry's name is what comes before its first '=' (all of it when it
   has none). Every entry of envp whose name is one of modifs' names is
   left out, however many times it appears: a duplicate, earlier or
   later, never survives beside the new value (getenv returns the first
   of a name, other readers the last). Then each value set is appended,
   in modifs' order, each name once, with the last value modifs gives
   it (a name set then unset ends unset). Nothing is copied: v points
   into envp and modifs. Returns the number of variables (v[that] is
   null), or -1 with errno E2BIG when they do not fit in vmax. */
extern ssize_t envmod (char const **v, size_t vmax, char const *const *envp, char const *modifs, size_t n) ;

#endif
