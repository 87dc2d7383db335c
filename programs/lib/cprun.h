/* cprun.h: running the checkpassword chain (qmail's checkpassword
   interface) for a pre-login program: postie-popup, postie-imapup. */
#ifndef CPRUN_H
#define CPRUN_H

#include <stddef.h>

/* Runs argv (checkpassword, then the session program and its arguments)
   with "name\0password\0<pid.time@hostname>\0" on fd 3 and the client on
   fd 0 and fd 1: rfd and wfd when they are >= 0 (the UCSPI-TLS pipes
   after STARTTLS), else the caller's own fd 0 and fd 1. Waits for it.
   Returns 0 when it exited 0 (the session was served: the caller exits),
   1 for a bad login (exit 1, or a name and password too long to pass),
   -1 for a temporary failure (anything else; logged). The copies of the
   password it made are wiped. */
extern int cprun (char const *const *argv, char const *hostname,
                  char const *name, size_t namelen, char const *pw, size_t pwlen,
                  int rfd, int wfd) ;

/* Logs a login that did not succeed (result "failed" or "tempfail") on
   stderr: "PROG: login user=NAME ip=... port=... RESULT". A good one is
   logged by the session program, which knows it was. */
extern void cprun_logfail (char const *name, size_t namelen, char const *result) ;

#endif
