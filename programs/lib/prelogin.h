/* prelogin.h: the limits of a pre-login program (postie-popup,
   postie-imapup), read from control/<proto>timeout, <proto>faildelay,
   <proto>maxbad, <proto>maxfail, <proto>logintime, <proto>maxcmds, and
   the failed-login pause, and the start, the replies and the read
   deadlines both share. */
#ifndef PRELOGIN_H
#define PRELOGIN_H

#include <stddef.h>
#include <skalibs/tai.h>
#include "timedio.h"
#include "ucspitls.h"

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

/* The start of a pre-login session: ignores SIGPIPE, starts the clock,
   makes descriptors 0 and 1 non-blocking (exits 111 if it cannot), readies
   *tls, goes to the instance, reads the controls of proto into *l
   (prelogin_controls) and sets *loginend to logintime from now. Returns
   1, or 0 on a temporary failure (warned on stderr): the caller answers
   it in its protocol and exits 111. */
extern int prelogin_start (prelogin *l, char const *proto, ucspitls *tls, tain *loginend) ;

/* The client's descriptors: 0 and 1, the TLS pipes after STARTTLS.
   Input is read one byte at a time, never past the end of a command
   line, on purpose: at a login the checkpassword chain's last program
   (postie-pop3d, postie-imapd) takes over the same descriptors and reads
   the next command from them, and at STLS or STARTTLS the input switches
   to TLS; a byte read ahead here would be lost to the one, or read as if
   it came through TLS by the other. */
extern timedio prelogin_io ;

/* Writes s to the client within l->timeout seconds, at once (one write:
   nothing waits in the output buffer). A write that fails or times out
   ends the session: exit 0 (the client is gone). */
extern void prelogin_out (prelogin const *l, char const *s) ;

/* Sets *d to the deadline of the next read: l->timeout seconds from now
   (the clock must have been read), or loginend if that comes first.
   Returns 1 when it is loginend (the session ends then, however active),
   0 when it is the inactivity timeout. */
extern int prelogin_deadline (prelogin const *l, tain const *loginend, tain *d) ;

/* The TLS handshake after the client was told to begin it (STLS,
   STARTTLS): drops what prelogin_io's input holds (nothing, read byte by
   byte), starts TLS within l->timeout seconds, then switches prelogin_io
   to the TLS pipes. A failed handshake ends the session: exit 0 (logged when it was
   not the client's doing). */
extern void prelogin_starttls (prelogin const *l, ucspitls *tls) ;

/* Sleeps secs seconds (the clock must have been read). */
extern void prelogin_pause (unsigned long secs) ;

/* A login through the checkpassword chain argv (cprun.h: the client on
   the TLS pipes once TLS is on, else on fds 0 and 1; the timestamp
   <pid.time@hostname>). A good one: the session was served, exit 0. One
   that failed is logged (cprun_logfail) and returns -1 for a temporary
   failure (the caller answers it and exits 111); a bad one is counted in
   *nfail after l->faildelay seconds, and returns 1, or 2 when *nfail has
   reached l->maxfail (the caller says so and ends the session). */
extern int prelogin_login (prelogin const *l, unsigned long *nfail, char const *const *argv, char const *hostname,
                           ucspitls const *tls, char const *name, size_t namelen, char const *pw, size_t pwlen) ;

#endif
