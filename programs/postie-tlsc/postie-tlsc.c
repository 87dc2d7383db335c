/* postie-tlsc: the client side of UCSPI-TLS, with BearSSL: what
   s6-networking's s6-tlsc-io does, and what the child of s6-ucspitlsc
   becomes once the program asks for TLS. It finds the connection to a
   server on fd 6 (read) and fd 7 (write), the UCSPI client convention,
   makes the TLS handshake on it as the client, then carries cleartext
   between the program (fd 0: what the program sends, fd 1: what the
   server sends) and the server, encrypted. When the handshake is done it
   writes the UCSPI-TLS environment block (SSL_PROTOCOL, SSL_CIPHER) on
   the descriptor given with -d; when it fails, it writes nothing, says
   why on stderr and exits 1.

   postie-remote runs it on the connection once the server has said 220
   to STARTTLS (doc/postie-remote.md). Interface, options, log lines:
   doc/postie-tlsc.md. */

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <skalibs/types.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/sgetopt.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include "tls.h"
#include "tlsc.h"

#define USAGE "postie-tlsc [ -v verbosity ] [ -K timeout ] [ -k servername ] [ -c cafile ] [ -d notif ] [ -6 rfd ] [ -7 wfd ]"
#define dieusage() strerr_dieusage(100, USAGE)

static unsigned int verbosity = 1 ;
static char const *peer = "server" ;
static br_ssl_client_context cc ;
static br_x509_minimal_context xc ;
static tlsc_nocheck nc ;
static unsigned char iobuf[BR_SSL_BUFSIZE_BIDI] ;

/* Every suite of tls.h, ECDSA and RSA certificates alike: the server
   picks. */
static uint16_t const suites[6] =
{
  BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
  BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
  BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
  BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
  BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
  BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
} ;

static void logwhy (char const *what, char const *why)
{
  if (errno) strerr_warnwu5sys(peer, ": ", what, ": ", why) ;
  else strerr_warnw5x(peer, ": ", what, ": ", why) ;
}

/* A host name as SNI and for the check: letters, digits, '-', '.'. */
static int goodname (char const *s)
{
  size_t n = strlen(s) ;
  if (!n || n > 253) return 0 ;
  for (; *s ; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '.' || *s == '-' || *s == '_'))
      return 0 ;
  return 1 ;
}

static void setx509 (char const *cafile)
{
  br_ssl_engine_context *eng = &cc.eng ;
  if (cafile)
  {
    br_x509_trust_anchor const *tas ;
    size_t n ;
    char const *why ;
    if (!tlsc_anchors_load(cafile, &tas, &n, &why))
    {
      if (errno) strerr_diefu3sys(111, "read the CA file ", cafile, "") ;
      strerr_dief4x(111, "CA file ", cafile, ": ", why) ;
    }
    br_x509_minimal_init(&xc, &br_sha256_vtable, tas, n) ;
    br_x509_minimal_set_hash(&xc, br_sha1_ID, &br_sha1_vtable) ;
    br_x509_minimal_set_hash(&xc, br_sha224_ID, &br_sha224_vtable) ;
    br_x509_minimal_set_hash(&xc, br_sha256_ID, &br_sha256_vtable) ;
    br_x509_minimal_set_hash(&xc, br_sha384_ID, &br_sha384_vtable) ;
    br_x509_minimal_set_hash(&xc, br_sha512_ID, &br_sha512_vtable) ;
    br_x509_minimal_set_rsa(&xc, br_rsa_pkcs1_vrfy_get_default()) ;
    br_x509_minimal_set_ecdsa(&xc, br_ec_get_default(), br_ecdsa_vrfy_asn1_get_default()) ;
    br_ssl_engine_set_x509(eng, &xc.vtable) ;
  }
  else
  {
    tlsc_nocheck_init(&nc) ;
    br_ssl_engine_set_x509(eng, &nc.vtable) ;
  }
}

int main (int argc, char const *const *argv)
{
  unsigned int timeoutms = 30000 ;
  unsigned int rfd = 6, wfd = 7 ;
  int notif = -1 ;
  char const *servername = 0 ;
  char const *cafile = 0 ;
  char const *why ;
  tain deadline ;
  int appin = 0, appout = 1 ;
  PROG = "postie-tlsc" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "v:K:k:c:d:6:7:", &l) ;
      if (opt == -1) break ;
      switch (opt)
      {
        case 'v' : if (!uint0_scan(l.arg, &verbosity)) dieusage() ; break ;
        case 'K' : if (!uint0_scan(l.arg, &timeoutms) || !timeoutms || timeoutms > 3600000) dieusage() ; break ;
        case 'k' : servername = l.arg ; break ;
        case 'c' : cafile = l.arg ; break ;
        case 'd' : { unsigned int u ; if (!uint0_scan(l.arg, &u)) dieusage() ; notif = u ; break ; }
        case '6' : if (!uint0_scan(l.arg, &rfd)) dieusage() ; break ;
        case '7' : if (!uint0_scan(l.arg, &wfd)) dieusage() ; break ;
        default : dieusage() ;
      }
    }
    argc -= l.ind ; argv += l.ind ;
  }
  if (argc) dieusage() ;
  if (servername && !goodname(servername)) strerr_dief(100, "invalid server name: ", servername) ;
  if (cafile && !servername) strerr_dief(100, "a CA file needs a server name (-k) to check") ;
  if (servername) peer = servername ;
  tls_peer = "server" ;
  signal(SIGPIPE, SIG_IGN) ;

  br_ssl_client_zero(&cc) ;
  tls_engine_init(&cc.eng, suites, 6, iobuf, sizeof iobuf) ;
  br_ssl_engine_set_rsavrfy(&cc.eng, br_rsa_pkcs1_vrfy_get_default()) ;
  br_ssl_engine_set_ecdsa(&cc.eng, br_ecdsa_vrfy_asn1_get_default()) ;
  setx509(cafile) ;
  /* The name goes out as SNI; with a CA file, the certificate must
     carry it (BearSSL's check: the SAN dNSNames, else the CN, with one
     leading wildcard label). */
  if (!br_ssl_client_reset(&cc, servername, 0))
    strerr_dief(111, "unable to start TLS: ", tls_error_str(br_ssl_engine_last_error(&cc.eng))) ;

  if (ndelay_on(rfd) < 0 || ndelay_on(wfd) < 0) strerr_diefu(111, "set the connection non-blocking") ;
  tain_now_set_stopwatch_g() ;
  tain_from_millisecs(&deadline, timeoutms) ;
  tain_add_g(&deadline, &deadline) ;
  if (!tls_handshake(&cc.eng, rfd, wfd, &deadline, &why))
  {
    logwhy("handshake failed", why) ;
    return 1 ;
  }
  {
    br_ssl_session_parameters params ;
    br_ssl_engine_get_session_parameters(&cc.eng, &params) ;
    memset(params.master_secret, 0, sizeof params.master_secret) ;
    if (verbosity >= 2)
      strerr_warni5x(peer, ": handshake done: TLSv1.2 ", tls_suite_name(params.cipher_suite), cafile ? ", certificate verified" : ", certificate not checked", "") ;
  }
  if (notif >= 0)
  {
    char env[TLS_ENVMAX] ;
    size_t n = tls_envblock(&cc.eng, env, 0) ;
    if (allwrite(notif, env, n) < n) strerr_diefu(111, "write the environment block") ;
    fd_close(notif) ;
  }
  if (ndelay_on(appin) < 0 || ndelay_on(appout) < 0) strerr_diefu(111, "set the pipes non-blocking") ;
  if (!tls_pump(&cc.eng, rfd, wfd, &appin, &appout, timeoutms, &why))
  {
    if (verbosity) logwhy("TLS session ended", why) ;
    return 1 ;
  }
  return 0 ;
}
