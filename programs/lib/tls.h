/* tls.h: what postie-tlsd and postie-tlsc share (tls_pump.c): the
   BearSSL engine settings both sides use, the loop that moves records
   between the network and the program's pipes, and the words for suites
   and errors. Only the two TLS programs link it (and BearSSL). */
#ifndef TLS_H
#define TLS_H

#include <stddef.h>
#include <stdint.h>
#include <skalibs/tai.h>
#include <bearssl.h>

/* The UCSPI-TLS environment block sent after the handshake. */
#define TLS_ENVMAX 4096

/* The suites: ECDHE only (forward secrecy), AEAD only, for an ECDSA and
   an RSA certificate. */
extern uint16_t const tls_suites_ec[3] ;
extern uint16_t const tls_suites_rsa[3] ;

/* Who is on the other end, in the reasons below: "client" (the
   default) or "server". */
extern char const *tls_peer ;

/* TLS 1.2, the suites given, the hashes and PRFs, AES-GCM, ChaCha20,
   the default EC code, no renegotiation; buf has BR_SSL_BUFSIZE_BIDI
   bytes. The caller zeroes and completes the context (keys, X.509). */
extern void tls_engine_init (br_ssl_engine_context *eng, uint16_t const *suites, size_t nsuites, unsigned char *buf, size_t bufsize) ;
/* Runs the handshake on the network descriptors before the deadline.
   Returns 1 when done, 0 on failure with *why set (a BearSSL error, a
   system error, the peer's EOF, or the timeout). */
extern int tls_handshake (br_ssl_engine_context *eng, int netin, int netout, tain const *deadline, char const **why) ;
/* Moves data between the network (records) and the program (cleartext:
   it reads what the program writes on appin, writes what the peer sends
   on appout) until both sides are done. After the program's EOF the
   close_notify must be on its way within closems milliseconds. Returns 1
   for a clean end, 0 with *why set. */
extern int tls_pump (br_ssl_engine_context *eng, int netin, int netout, int *appin, int *appout, unsigned int closems, char const **why) ;
/* The UCSPI-TLS environment block ("VAR=value\0" or "VAR\0" for each
   variable, then one more "\0") for the session, into s (TLS_ENVMAX
   bytes): SSL_PROTOCOL, SSL_CIPHER, and for a server (server != 0) the
   SNI name and the peer certificate variables. Returns its length. */
extern size_t tls_envblock (br_ssl_engine_context const *eng, char *s, int server) ;
/* The OpenSSL-style name of a cipher suite. */
extern char const *tls_suite_name (unsigned int suite) ;
/* A BearSSL error code in words. */
extern char const *tls_error_str (int err) ;

#endif
