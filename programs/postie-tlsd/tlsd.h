/* tlsd.h: what postie-tlsd's files share. The process layout and the
   UCSPI-TLS descriptors live in postie-tlsd.c; reading the certificate
   chain and key in tlsd_keys.c; the BearSSL engine between the network
   and the program's pipes in tlsd_pump.c. */
#ifndef TLSD_H
#define TLSD_H

#include <stddef.h>
#include <skalibs/tai.h>
#include <bearssl.h>

/* Bounds: a PEM file, the certificates in the chain. */
#define TLSD_FILEMAX 65536
#define TLSD_CHAINMAX 8
/* The environment block sent after the handshake (UCSPI-TLS). */
#define TLSD_ENVMAX 4096

/* --- tlsd_keys.c */
typedef struct tlsd_keys_s tlsd_keys ;
struct tlsd_keys_s
{
  br_x509_certificate chain[TLSD_CHAINMAX] ;
  size_t chainlen ;
  int keytype ;      /* BR_KEYTYPE_RSA or BR_KEYTYPE_EC */
  br_skey_decoder_context key ;   /* holds the decoded key */
} ;
/* Opens certfile and keyfile (close-on-exec) into *certfd and *keyfd.
   Returns 1, or 0 with the reason in *why (errno set) and the file that
   failed in *file; nothing stays open then. */
extern int tlsd_keys_open (int *certfd, int *keyfd, char const *certfile, char const *keyfile, char const **why, char const **file) ;
/* Reads the chain (leaf first) from certfd and the private key from
   keyfd, and closes both. Returns 1, or 0 with a reason in *why (errno
   set when the reason is a system error, else 0); k->chainlen is 0 when
   the chain was the problem. */
extern int tlsd_keys_load (tlsd_keys *k, int certfd, int keyfd, char const **why) ;
/* Overwrites every copy of the key and certificates this process holds. */
extern void tlsd_keys_wipe (tlsd_keys *k) ;

/* --- tlsd_pump.c */
/* Sets up a server context (TLS 1.2, ECDHE with AES-GCM or
   ChaCha20-Poly1305 only) for the keys; buf has BR_SSL_BUFSIZE_BIDI bytes. */
extern void tlsd_server_init (br_ssl_server_context *sc, tlsd_keys const *k, unsigned char *buf, size_t bufsize) ;
/* Runs the handshake on the network descriptors before the deadline.
   Returns 1 when done, 0 on failure with *why set (a BearSSL error, a
   system error, the peer's EOF, or the timeout). */
extern int tlsd_handshake (br_ssl_engine_context *eng, int netin, int netout, tain const *deadline, char const **why) ;
/* Moves data between the network (records) and the program (cleartext:
   it reads what the program writes on appin, writes what the client
   sends on appout) until both sides are done. After the program's EOF
   the close_notify must be on its way within closems milliseconds.
   Returns 1 for a clean end, 0 with *why set. */
extern int tlsd_pump (br_ssl_engine_context *eng, int netin, int netout, int *appin, int *appout, unsigned int closems, char const **why) ;
/* The UCSPI-TLS environment block ("VAR=value\0" or "VAR\0" for each
   variable, then one more "\0") for the session, into s (TLSD_ENVMAX
   bytes). Returns its length. */
extern size_t tlsd_envblock (br_ssl_engine_context const *eng, char *s) ;
/* The OpenSSL-style name of the session's cipher suite. */
extern char const *tlsd_suite_name (unsigned int suite) ;
/* A BearSSL error code in words. */
extern char const *tlsd_error_str (int err) ;

#endif
