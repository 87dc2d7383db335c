/* tlsd.h: what postie-tlsd's files share. The process layout and the
   UCSPI-TLS descriptors live in postie-tlsd.c; reading the certificate
   chain and key, and the server context, in tlsd_keys.c; the BearSSL
   engine between the network and the program's pipes in lib/tls_pump.c
   (shared with postie-tlsc). */
#ifndef TLSD_H
#define TLSD_H

#include <stddef.h>
#include <skalibs/tai.h>
#include <bearssl.h>
#include "tls.h"

/* Bounds: a PEM file, the certificates in the chain. */
#define TLSD_FILEMAX 65536
#define TLSD_CHAINMAX 8

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

/* Sets up a server context (tls.h's settings) for the keys; buf has
   BR_SSL_BUFSIZE_BIDI bytes. */
extern void tlsd_server_init (br_ssl_server_context *sc, tlsd_keys const *k, unsigned char *buf, size_t bufsize) ;

#endif
