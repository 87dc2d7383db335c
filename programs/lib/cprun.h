/* cprun.h: running a checkpassword program (D. J. Bernstein's
   checkpassword interface, doc/postie-checkpassword.md) for postie-popup,
   postie-imapup (the program then serves the session) and postie-smtpd
   (the program only checks: AUTH). */
#ifndef CPRUN_H
#define CPRUN_H

#include <stddef.h>

/* cprun's rfd for the child's fd 0 and fd 1. */
#define CPRUN_OWN (-1)   /* the caller's own fd 0 and fd 1 (the client) */
#define CPRUN_NULL (-2)  /* /dev/null: a program that only checks never
                            talks to the client */

/* How the program is run, besides the login. */
typedef struct cprun_how_s cprun_how ;
struct cprun_how_s
{
  char const *const *argv ;  /* the program, its arguments, then what it
                                runs after a good login; found through PATH */
  char const *stamp ;        /* the timestamp after the password on fd 3:
                                "<...@host>" (cprun_stamp, or the caller's) */
  int rfd ;                  /* the child's fd 0 and fd 1: rfd and wfd when */
  int wfd ;                  /*  rfd >= 0 (the UCSPI-TLS pipes), else CPRUN_* */
  unsigned long timeout ;    /* seconds it may take; 0: no limit. Past it,
                                its process group is killed (SIGKILL) */
} ;

/* The largest timestamp cprun_stamp writes, its NUL included. */
#define CPRUN_STAMP_MAX (1 + 20 + 1 + 20 + 1 + 255 + 2)

/* Writes "<pid.time@hostname>" and a NUL into s (CPRUN_STAMP_MAX bytes),
   hostname cut at 255 bytes: qmail-popup's timestamp. */
extern void cprun_stamp (char *s, char const *hostname) ;

/* Runs how->argv with "name\0password\0stamp\0" on its fd 3 (a pipe),
   fd 0 and fd 1 as how says, fd 2 ours, in a process group of its own
   when how->timeout is set, with no signal blocked and SIGPIPE at its
   default. Waits for it, at most how->timeout seconds (SIGALRM, see
   cprun.c). Returns 0 when it exited 0 (a good login), 1 for a bad login
   (exit 1, or a name, password and stamp over 512 bytes: then nothing is
   run), -1 for a temporary failure (any other exit, a signal, a timeout,
   or a system call that failed: warned on stderr). The copies of the
   password it made are wiped. */
extern int cprun (cprun_how const *how, char const *name, size_t namelen, char const *pw, size_t pwlen) ;

/* Logs a login that did not succeed (result "failed" or "tempfail") on
   stderr: "PROG: login user=NAME ip=... port=... RESULT". A good one is
   logged by the session program, which knows it was. */
extern void cprun_logfail (char const *name, size_t namelen, char const *result) ;

#endif
