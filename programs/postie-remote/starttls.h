/* starttls.h: postie-remote's TLS, through postie-tlsc (starttls.c).
   postie-remote links no TLS library: once the server has said 220 to
   STARTTLS, it runs postie-tlsc on the connection and talks cleartext
   to it through two pipes (doc/postie-remote.md, "TLS"). */
#ifndef STARTTLS_H
#define STARTTLS_H

#include <sys/types.h>
#include <skalibs/stralloc.h>
#include <skalibs/tai.h>

typedef struct tlsc_s tlsc ;
struct tlsc_s
{
  pid_t pid ;     /* postie-tlsc, 0 when none runs */
  int rfd ;       /* the server's cleartext */
  int wfd ;       /* what goes to the server */
  stralloc info ; /* "TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256" */
} ;
#define TLSC_ZERO { .pid = 0, .rfd = -1, .wfd = -1, .info = STRALLOC_ZERO }

/* Runs postie-tlsc on the connection fd (which it takes: fd is closed
   here), with SNI name (0 for none) and, when cafile is not 0, the
   certificate checked against cafile and name. Returns 1 when the
   handshake is done (t filled in), 0 when it failed, with the reason in
   why (postie-tlsc's own words); -1 when the system failed (errno). */
extern int tlsc_start (tlsc *t, int fd, char const *name, char const *cafile, unsigned int timeoutms, tain const *deadline, stralloc *why) ;

/* Ends the tunnel: closes the pipes (postie-tlsc then sends
   close_notify) and waits for postie-tlsc. */
extern void tlsc_end (tlsc *t) ;

#endif
