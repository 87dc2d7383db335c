/* ucspitls.h: the program's side of UCSPI-TLS (doc/postie-tlsd.md), for
   the protocol programs behind postie-tlsd or s6-networking's s6-tlsd and
   s6-ucspitlsd: is TLS on already (implicit TLS: SSL_PROTOCOL in the
   environment), can it be asked for (SSLCTLFD, SSLREADFD, SSLWRITEFD),
   and asking for it. */
#ifndef UCSPITLS_H
#define UCSPITLS_H

#include <skalibs/tai.h>

typedef struct ucspitls_s ucspitls ;
struct ucspitls_s
{
  int ctl, rfd, wfd ;    /* -1 when TLS cannot be asked for */
  int active ;           /* TLS is on: from the start, or since the switch */
  char protocol[32] ;    /* SSL_PROTOCOL, only [A-Za-z0-9._-] kept */
  char cipher[64] ;      /* SSL_CIPHER, the same */
} ;

/* From the environment. Returns 1 when TLS is on (implicit TLS), or can be
   started (the three descriptors are given and open), else 0. */
extern int ucspitls_init (ucspitls *t) ;
#define ucspitls_available(t) ((t)->ctl >= 0 && !(t)->active)

/* Asks for the handshake (writes 'Y' on SSLCTLFD) and waits until the
   deadline for the environment block. The caller has already answered
   the client in clear text and thrown away what it had buffered. Returns
   1 when TLS is on (t->protocol and t->cipher set; read t->rfd, write
   t->wfd, both non-blocking from now on), 0 when the handshake failed
   (the connection is gone), -1 on a timeout or a system error (errno). */
extern int ucspitls_start (ucspitls *t, tain const *deadline) ;

#endif
