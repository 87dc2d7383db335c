/* prelogin.h: the limits of a pre-login program (postie-popup,
   postie-imapup), read from control/<proto>timeout, <proto>faildelay,
   <proto>maxbad, <proto>maxfail, <proto>logintime, <proto>maxcmds, and
   the failed-login pause. */
#ifndef PRELOGIN_H
#define PRELOGIN_H

typedef struct prelogin_s prelogin ;
struct prelogin_s
{
  unsigned long timeout ;    /* seconds of inactivity, 1 to 86400 */
  unsigned long faildelay ;  /* seconds before a failed login's answer, at most 60 */
  unsigned long maxbad ;     /* bad commands, at least 1 */
  unsigned long maxfail ;    /* failed logins, at least 1 */
  unsigned long logintime ;  /* seconds before a login must succeed, 1 to 86400 */
  unsigned long maxcmds ;    /* commands before a login must succeed, at least 1 */
} ;

/* Reads the six control files (the current directory is the instance);
   a missing one keeps the value l holds (the default), then clamps.
   Returns 1, or 0 when one cannot be read (warned on stderr). */
extern int prelogin_controls (prelogin *l, char const *proto) ;

/* Sleeps secs seconds (the clock must have been read). */
extern void prelogin_pause (unsigned long secs) ;

#endif
