/* tlsc.h: what postie-tlsc's files share: the process and options in
   postie-tlsc.c, the certificate checks (trust anchors from a CA file,
   or none: encryption only) in tlsc_x509.c. The engine loop is
   lib/tls_pump.c, shared with postie-tlsd. */
#ifndef TLSC_H
#define TLSC_H

#include <stddef.h>
#include <bearssl.h>

/* Bounds: the CA file (the system bundle is ~200 KiB), its anchors. */
#define TLSC_CAFILEMAX (4 << 20)
#define TLSC_ANCHORMAX 1024
/* The longest PEM block (or line) of the CA file: its text. */
#define TLSC_PEMMAX 65536

/* Reads the certificates of a PEM file as trust anchors. Returns 1, or 0
   with a reason in *why (errno set when it is a system error, else 0). */
extern int tlsc_anchors_load (char const *file, br_x509_trust_anchor const **tas, size_t *n, char const **why) ;

/* An X.509 engine that checks nothing: it takes the server's key from
   its certificate (the first of the chain), for encryption without
   authentication (opportunistic TLS, RFC 7435). */
typedef struct tlsc_nocheck_s tlsc_nocheck ;
struct tlsc_nocheck_s
{
  br_x509_class const *vtable ;
  br_x509_decoder_context dc ;
  unsigned int certs ;
} ;
extern void tlsc_nocheck_init (tlsc_nocheck *x) ;

#endif
