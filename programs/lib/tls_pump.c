/* tls_pump.c: a BearSSL engine (postie-tlsd's server, postie-tlsc's
   client) between the network descriptors and the program's pipes. One
   loop serves the handshake (no program descriptors yet, stop once
   application data may flow) and the session (until both sides are
   done). Every wait has a deadline or a reason to end: the program's own
   timeouts end it, then the close_notify has closems milliseconds to
   leave. The suite names, error words and the UCSPI-TLS environment
   block are here too, for both sides. */

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/iopause.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>
#include "tls.h"

/* Who is on the other end, in the reasons: "client" or "server". */
char const *tls_peer = "client" ;

/* "the <peer> <what>" in a static buffer. */
static char const *peerwhy (char const *before, char const *after)
{
  static char buf[128] ;
  size_t a = strlen(before), p = strlen(tls_peer), b = strlen(after) ;
  if (a + p + b >= sizeof buf) return after ;
  memcpy(buf, before, a) ; memcpy(buf + a, tls_peer, p) ; memcpy(buf + a + p, after, b + 1) ;
  return buf ;
}

/* ECDHE only (forward secrecy), AEAD only; ChaCha20 first for clients
   without AES instructions, which say so by listing it first. */
uint16_t const tls_suites_ec[3] =
{
  BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
  BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
  BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
} ;
uint16_t const tls_suites_rsa[3] =
{
  BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
  BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
  BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
} ;

static struct { unsigned int id ; char const *name ; } const suitenames[] =
{
  { BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ECDHE-ECDSA-AES128-GCM-SHA256" },
  { BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-ECDSA-CHACHA20-POLY1305" },
  { BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ECDHE-ECDSA-AES256-GCM-SHA384" },
  { BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "ECDHE-RSA-AES128-GCM-SHA256" },
  { BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-RSA-CHACHA20-POLY1305" },
  { BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "ECDHE-RSA-AES256-GCM-SHA384" },
} ;

char const *tls_suite_name (unsigned int suite)
{
  for (size_t i = 0 ; i < sizeof suitenames / sizeof *suitenames ; i++)
    if (suitenames[i].id == suite) return suitenames[i].name ;
  return "unknown" ;
}

static struct { int err ; char const *s ; } const errnames[] =
{
  { BR_ERR_BAD_PARAM, "bad parameter" },
  { BR_ERR_BAD_STATE, "bad state" },
  { BR_ERR_UNSUPPORTED_VERSION, "unsupported protocol version (TLS 1.2 only)" },
  { BR_ERR_BAD_VERSION, "bad record version" },
  { BR_ERR_BAD_LENGTH, "bad record length" },
  { BR_ERR_TOO_LARGE, "record too large" },
  { BR_ERR_BAD_MAC, "bad record MAC" },
  { BR_ERR_NO_RANDOM, "no random source" },
  { BR_ERR_UNKNOWN_TYPE, "unknown record type (not TLS)" },
  { BR_ERR_UNEXPECTED, "unexpected message" },
  { BR_ERR_BAD_CCS, "bad ChangeCipherSpec" },
  { BR_ERR_BAD_ALERT, "bad alert" },
  { BR_ERR_BAD_HANDSHAKE, "bad handshake message" },
  { BR_ERR_OVERSIZED_ID, "oversized session id" },
  { BR_ERR_BAD_CIPHER_SUITE, "no cipher suite in common (ECDHE with AES-GCM or ChaCha20-Poly1305 only)" },
  { BR_ERR_BAD_COMPRESSION, "compression requested" },
  { BR_ERR_BAD_FRAGLEN, "bad fragment length" },
  { BR_ERR_BAD_SECRENEG, "bad secure renegotiation" },
  { BR_ERR_EXTRA_EXTENSION, "unexpected extension" },
  { BR_ERR_BAD_SNI, "bad server name" },
  { BR_ERR_BAD_HELLO_DONE, "bad ServerHelloDone" },
  { BR_ERR_LIMIT_EXCEEDED, "limit exceeded" },
  { BR_ERR_BAD_FINISHED, "bad Finished message" },
  { BR_ERR_RESUME_MISMATCH, "session resumption mismatch" },
  { BR_ERR_INVALID_ALGORITHM, "unsupported algorithm" },
  { BR_ERR_BAD_SIGNATURE, "bad signature" },
  { BR_ERR_WRONG_KEY_USAGE, "wrong key usage" },
  { BR_ERR_NO_CLIENT_AUTH, "no client certificate" },
  { BR_ERR_X509_EMPTY_CHAIN, "no certificate" },
  { BR_ERR_X509_UNSUPPORTED, "certificate with an unsupported algorithm or key" },
  { BR_ERR_X509_LIMIT_EXCEEDED, "certificate chain too long" },
  { BR_ERR_X509_WRONG_KEY_TYPE, "certificate key of the wrong type" },
  { BR_ERR_X509_BAD_SIGNATURE, "bad certificate signature" },
  { BR_ERR_X509_TIME_UNKNOWN, "certificate check: the time is unknown" },
  { BR_ERR_X509_EXPIRED, "certificate expired or not yet valid" },
  { BR_ERR_X509_DN_MISMATCH, "certificate chain out of order" },
  { BR_ERR_X509_BAD_SERVER_NAME, "certificate does not match the server name" },
  { BR_ERR_X509_CRITICAL_EXTENSION, "certificate with an unknown critical extension" },
  { BR_ERR_X509_NOT_CA, "certificate chain: an intermediate is not a CA" },
  { BR_ERR_X509_FORBIDDEN_KEY_USAGE, "certificate key usage forbids TLS" },
  { BR_ERR_X509_WEAK_PUBLIC_KEY, "certificate key too weak" },
  { BR_ERR_X509_NOT_TRUSTED, "certificate not trusted (no trust anchor in the CA file for its chain)" },
} ;

/* TLS alerts (RFC 5246 7.2), the ones a handshake here may end with. */
static struct { int n ; char const *s ; } const alertnames[] =
{
  { 0, "close notify" },
  { 10, "unexpected message" },
  { 20, "bad record MAC" },
  { 22, "record overflow" },
  { 40, "handshake failure (no cipher suite in common: ECDHE with AES-GCM or ChaCha20-Poly1305 only)" },
  { 42, "bad certificate" },
  { 47, "illegal parameter" },
  { 48, "unknown CA" },
  { 50, "decode error" },
  { 51, "decrypt error" },
  { 70, "protocol version (TLS 1.2 only)" },
  { 71, "insufficient security" },
  { 80, "internal error" },
  { 90, "user canceled" },
  { 100, "no renegotiation" },
  { 110, "unsupported extension" },
  { 112, "unrecognized name" },
} ;

static size_t alert (char *buf, size_t m, int n)
{
  for (size_t i = 0 ; i < sizeof alertnames / sizeof *alertnames ; i++)
    if (alertnames[i].n == n)
    {
      size_t len = strlen(alertnames[i].s) ;
      memcpy(buf + m, alertnames[i].s, len) ;
      return m + len ;
    }
  return m + uint_fmt(buf + m, (unsigned int)n) ;
}

char const *tls_error_str (int err)
{
  static char buf[160] ;
  size_t m ;
  for (size_t i = 0 ; i < sizeof errnames / sizeof *errnames ; i++)
    if (errnames[i].err == err) return errnames[i].s ;
  if (err >= BR_ERR_RECV_FATAL_ALERT && err < BR_ERR_SEND_FATAL_ALERT)
  {
    char const *w = peerwhy("fatal alert from the ", ": ") ;
    m = strlen(w) ; memcpy(buf, w, m) ;
    m = alert(buf, m, err - BR_ERR_RECV_FATAL_ALERT) ;
  }
  else if (err >= BR_ERR_SEND_FATAL_ALERT)
  {
    memcpy(buf, "fatal alert sent: ", 18) ; m = 18 ;
    m = alert(buf, m, err - BR_ERR_SEND_FATAL_ALERT) ;
  }
  else if (err >= BR_ERR_X509_OK && err < BR_ERR_X509_OK + 32)
  {
    memcpy(buf, "invalid certificate, X.509 error ", 33) ; m = 33 ;
    m += uint_fmt(buf + m, (unsigned int)err) ;
  }
  else
  {
    memcpy(buf, "BearSSL error ", 14) ; m = 14 ;
    m += uint_fmt(buf + m, (unsigned int)err) ;
  }
  buf[m] = 0 ;
  return buf ;
}

/* What both sides set: TLS 1.2, the suites (ECDHE with AES-GCM or
   ChaCha20-Poly1305), the hashes for signatures and the PRF, no
   renegotiation, and the record buffer (BR_SSL_BUFSIZE_BIDI bytes). */
void tls_engine_init (br_ssl_engine_context *eng, uint16_t const *suites, size_t nsuites, unsigned char *buf, size_t bufsize)
{
  br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12) ;
  br_ssl_engine_set_suites(eng, suites, nsuites) ;
  br_ssl_engine_set_hash(eng, br_sha1_ID, &br_sha1_vtable) ;
  br_ssl_engine_set_hash(eng, br_sha224_ID, &br_sha224_vtable) ;
  br_ssl_engine_set_hash(eng, br_sha256_ID, &br_sha256_vtable) ;
  br_ssl_engine_set_hash(eng, br_sha384_ID, &br_sha384_vtable) ;
  br_ssl_engine_set_hash(eng, br_sha512_ID, &br_sha512_vtable) ;
  br_ssl_engine_set_prf_sha256(eng, &br_tls12_sha256_prf) ;
  br_ssl_engine_set_prf_sha384(eng, &br_tls12_sha384_prf) ;
  br_ssl_engine_set_default_aes_gcm(eng) ;
#if defined(__x86_64__) && defined(__SIZEOF_INT128__)
  /* What br_ssl_engine_set_default_chapol chooses on x86-64, where SSE2
     is part of the ABI and 64-bit multiplies give 128 bits, without the
     portable fallbacks it links but can never choose there (2 KiB). */
  br_ssl_engine_set_chapol(eng, &br_sslrec_in_chapol_vtable, &br_sslrec_out_chapol_vtable) ;
  br_ssl_engine_set_chacha20(eng, &br_chacha20_sse2_run) ;
  br_ssl_engine_set_poly1305(eng, &br_poly1305_ctmulq_run) ;
#else
  br_ssl_engine_set_default_chapol(eng) ;
#endif
  br_ssl_engine_set_default_ec(eng) ;
  /* No renegotiation: nothing needs it, and it only adds attack surface. */
  br_ssl_engine_add_flags(eng, BR_OPT_NO_RENEGOTIATION) ;
  br_ssl_engine_set_buffer(eng, buf, bufsize, 1) ;
}

/* What came from the network beyond what the engine asked for: BearSSL
   asks for a record's 5-byte header, then for its body, and reading each
   on its own would take two reads per record. A read for a header (or a
   small body) takes up to this much at once; the engine gets the rest
   from here. Kept between the handshake and the session, since a client
   may send its first data right behind its Finished. */
static unsigned char stage[4096] ;
static size_t stagepos, stagelen ;

static void renew (tain *deadline, unsigned int ms)
{
  tain t ;
  tain_from_millisecs(&t, ms) ;
  tain_add_g(deadline, &t) ;
}

/* The loop. appin/appout -1 for the handshake (hsonly). */
/* About 200 lines, on purpose: one iopause loop around the BearSSL engine;
   each pass reads the engine's state once and moves records both ways,
   which pieces would have to share through a struct of a dozen locals. */
static int loop (br_ssl_engine_context *eng, int netin, int netout, int *appinp, int *appoutp, int hsonly, tain const *hsdeadline, unsigned int closems, char const **why)
{
  tain deadline ;
  int closing = 0 ;
  int appgone = 0 ;  /* the program has ended: the client gets closems per write */
  /* Writes are tried without a poll first (the socket and the pipe
     nearly always have room): only one that would block waits for its
     descriptor. Likewise the body of a record whose header has just
     come is nearly always there already. That is one poll per exchange
     instead of one per read and write. */
  int netfull = 0, appfull = 0, netmore = 0 ;
  int ret ;
  int appin = *appinp, appout = *appoutp ;
  if (hsonly) deadline = *hsdeadline ;
  else tain_add_g(&deadline, &tain_infinite_relative) ;
  for (;;)
  {
    iopause_fd x[4] ;
    int inet = -1, onet = -1, iapp = -1, oapp = -1, happ = -1 ;
    unsigned int n = 0 ;
    unsigned int st = br_ssl_engine_current_state(eng) ;
    int r ;
    if (st == BR_SSL_CLOSED)
    {
      int err = br_ssl_engine_last_error(eng) ;
      if (err != BR_ERR_OK) { errno = 0 ; *why = tls_error_str(err) ; { ret = 0 ; goto end ; } }
      if (hsonly) { errno = 0 ; *why = peerwhy("the ", " closed the connection during the handshake") ; { ret = 0 ; goto end ; } }
      { ret = 1 ; goto end ; }
    }
    /* Done once application data may flow either way: a client may
       send its first data with its Finished, and the engine then holds
       it (RECVAPP) before it lets us send. */
    if (hsonly && (st & (BR_SSL_SENDAPP | BR_SSL_RECVAPP))) { ret = 1 ; goto end ; }
    if (closing && !(st & BR_SSL_SENDREC)) { ret = 1 ; goto end ; }  /* close_notify sent */
    if ((st & BR_SSL_RECVAPP) && appout < 0 && !hsonly)
    {
      /* The program is gone: what the client still sends goes nowhere. */
      size_t len ;
      br_ssl_engine_recvapp_buf(eng, &len) ;
      br_ssl_engine_recvapp_ack(eng, len) ;
      continue ;
    }
    if (st & BR_SSL_SENDREC) { onet = n ; x[n].fd = netout ; x[n].revents = netfull ? 0 : IOPAUSE_WRITE ; x[n++].events = IOPAUSE_WRITE ; }
    if ((st & BR_SSL_RECVREC) && netin >= 0) { inet = n ; x[n].fd = netin ; x[n].revents = netmore || stagepos < stagelen ? IOPAUSE_READ : 0 ; x[n++].events = IOPAUSE_READ ; }
    if ((st & BR_SSL_RECVAPP) && appout >= 0) { oapp = n ; x[n].fd = appout ; x[n].revents = appfull ? 0 : IOPAUSE_WRITE ; x[n++].events = IOPAUSE_WRITE ; }
    if ((st & BR_SSL_SENDAPP) && appin >= 0 && !closing) { iapp = n ; x[n].fd = appin ; x[n].revents = 0 ; x[n++].events = IOPAUSE_READ ; }
    else if (!hsonly && appin >= 0 && !closing && !appgone)
    {
      /* A record waits for a client that may have stopped reading: watch
         for the program's end (the pipe's hang-up) all the same, so that
         the client then gets a deadline instead of holding us forever. */
      happ = n ; x[n].fd = appin ; x[n].revents = 0 ; x[n++].events = 0 ;
    }
    if (!n)
    {
      /* Nothing can move: the client has gone and so has the program,
         or the client has gone while the engine waits for records. */
      if (hsonly) { errno = 0 ; *why = peerwhy("the ", " closed the connection during the handshake") ; { ret = 0 ; goto end ; } }
      if (appin >= 0 && !closing) { fd_close(appin) ; appin = -1 ; }
      { ret = 1 ; goto end ; }
    }
    if ((onet >= 0 && x[onet].revents) || (inet >= 0 && x[inet].revents) || (oapp >= 0 && x[oapp].revents))
      goto ready ;  /* something to try at once */
    r = iopause_g(x, n, &deadline) ;
    if (r < 0)
    {
      if (errno == EINTR) continue ;
      *why = "iopause" ; { ret = 0 ; goto end ; }
    }
    if (!r)
    {
      errno = 0 ;
      *why = hsonly ? "handshake timed out" : closing ? "timed out sending close_notify" : peerwhy("", " stopped reading") ;
      { ret = 0 ; goto end ; }
    }
    if (happ >= 0 && x[happ].revents & IOPAUSE_EXCEPT)
    {
      /* The program has gone (what it wrote may still be in the pipe,
         and is still read and sent). */
      appgone = 1 ;
      renew(&deadline, closems) ;
    }
   ready:
    if (onet >= 0 && x[onet].revents & (IOPAUSE_WRITE | IOPAUSE_EXCEPT))
    {
      size_t len ;
      unsigned char *buf = br_ssl_engine_sendrec_buf(eng, &len) ;
      if (buf)
      {
        ssize_t w = fd_write(netout, (char *)buf, len) ;
        if (w < 0)
        {
          if (errno != EAGAIN && errno != EWOULDBLOCK)
          {
            if (!hsonly && (errno == EPIPE || errno == ECONNRESET) && netin < 0) { ret = 1 ; goto end ; }
            *why = "write to the network" ; { ret = 0 ; goto end ; }
          }
          netfull = 1 ;
        }
        else
        {
          netfull = 0 ;
          br_ssl_engine_sendrec_ack(eng, w) ;
          /* A slow client that still reads gets everything. */
          if (w > 0 && appgone) renew(&deadline, closems) ;
        }
      }
      continue ;
    }
    if (inet >= 0 && x[inet].revents & (IOPAUSE_READ | IOPAUSE_EXCEPT))
    {
      size_t len ;
      unsigned char *buf = br_ssl_engine_recvrec_buf(eng, &len) ;
      if (buf)
      {
        ssize_t w ;
        if (stagepos < stagelen)
        {
          w = stagelen - stagepos < len ? stagelen - stagepos : len ;
          memcpy(buf, stage + stagepos, w) ;
          stagepos += w ;
          netmore = 0 ;
        }
        else
        {
          if (len < sizeof stage)
          {
            w = fd_read(netin, (char *)stage, sizeof stage) ;
            stagepos = stagelen = 0 ;
            if (w > 0)
            {
              stagelen = w ;
              stagepos = (size_t)w < len ? (size_t)w : len ;
              memcpy(buf, stage, stagepos) ;
              w = stagepos ;
            }
          }
          else w = fd_read(netin, (char *)buf, len) ;
          /* A header alone: its body is nearly always right behind it. */
          netmore = w == 5 && len == 5 && stagepos == stagelen ;
        }
        if (w < 0)
        {
          if (errno != EAGAIN && errno != EWOULDBLOCK)
          {
            if (!hsonly && errno == ECONNRESET) w = 0 ;
            else { *why = "read from the network" ; { ret = 0 ; goto end ; } }
          }
        }
        if (!w)
        {
          if (hsonly) { errno = 0 ; *why = peerwhy("the ", " closed the connection during the handshake") ; { ret = 0 ; goto end ; } }
          /* EOF without close_notify: the program sees EOF too. */
          netin = -1 ;
          if (appout >= 0) { fd_close(appout) ; appout = -1 ; }
        }
        else if (w > 0) br_ssl_engine_recvrec_ack(eng, w) ;
      }
      continue ;
    }
    if (oapp >= 0 && x[oapp].revents & (IOPAUSE_WRITE | IOPAUSE_EXCEPT))
    {
      size_t len ;
      unsigned char *buf = br_ssl_engine_recvapp_buf(eng, &len) ;
      if (buf)
      {
        ssize_t w = fd_write(appout, (char *)buf, len) ;
        appfull = 0 ;
        if (w < 0)
        {
          if (errno != EAGAIN && errno != EWOULDBLOCK) { fd_close(appout) ; appout = -1 ; }
          else appfull = 1 ;
        }
        else br_ssl_engine_recvapp_ack(eng, w) ;
      }
      continue ;
    }
    if (iapp >= 0 && x[iapp].revents & (IOPAUSE_READ | IOPAUSE_EXCEPT))
    {
      size_t len ;
      unsigned char *buf = br_ssl_engine_sendapp_buf(eng, &len) ;
      if (buf)
      {
        ssize_t w = fd_read(appin, (char *)buf, len) ;
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) w = 0 ;
        if (!w)
        {
          /* The program is done: close_notify, then leave. */
          fd_close(appin) ; appin = -1 ;
          if (netin < 0) { ret = 1 ; goto end ; }
          br_ssl_engine_close(eng) ;
          closing = 1 ;
          appgone = 1 ;
          renew(&deadline, closems) ;
        }
        else if (w > 0)
        {
          br_ssl_engine_sendapp_ack(eng, w) ;
          br_ssl_engine_flush(eng, 0) ;
        }
      }
      continue ;
    }
  }
 end:
  *appinp = appin ;
  *appoutp = appout ;
  return ret ;
}

int tls_handshake (br_ssl_engine_context *eng, int netin, int netout, tain const *deadline, char const **why)
{
  int a = -1, b = -1 ;
  return loop(eng, netin, netout, &a, &b, 1, deadline, 0, why) ;
}

int tls_pump (br_ssl_engine_context *eng, int netin, int netout, int *appin, int *appout, unsigned int closems, char const **why)
{
  return loop(eng, netin, netout, appin, appout, 0, 0, closems, why) ;
}

static size_t put (char *s, size_t m, char const *t)
{
  size_t n = strlen(t) ;
  if (m + n + 2 > TLS_ENVMAX) return m ;
  memcpy(s + m, t, n) ;
  return m + n ;
}

/* A server name the client sent is shown only if it looks like one. */
static int dnsname (char const *s)
{
  if (!*s) return 0 ;
  for (; *s ; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '.' || *s == '-'))
      return 0 ;
  return 1 ;
}

size_t tls_envblock (br_ssl_engine_context const *eng, char *s, int server)
{
  br_ssl_session_parameters params ;
  unsigned int v = br_ssl_engine_get_version(eng) ;
  char const *sni = br_ssl_engine_get_server_name(eng) ;
  size_t m = 0 ;
  br_ssl_engine_get_session_parameters(eng, &params) ;
  memset(params.master_secret, 0, sizeof params.master_secret) ;
  m = put(s, m, "SSL_PROTOCOL=") ;
  m = put(s, m, v == BR_TLS12 ? "TLSv1.2" : v == BR_TLS11 ? "TLSv1.1" : v == BR_TLS10 ? "TLSv1" : "unknown") ;
  s[m++] = 0 ;
  m = put(s, m, "SSL_CIPHER=") ;
  m = put(s, m, tls_suite_name(params.cipher_suite)) ;
  s[m++] = 0 ;
  if (!server) { s[m++] = 0 ; return m ; }
  m = put(s, m, "SSL_TLS_SNI_SERVERNAME") ;
  if (dnsname(sni)) { m = put(s, m, "=") ; m = put(s, m, sni) ; }
  s[m++] = 0 ;
  /* No client certificate is asked for: these are always unset. */
  m = put(s, m, "SSL_PEER_CERT_HASH") ; s[m++] = 0 ;
  m = put(s, m, "SSL_PEER_CERT_SUBJECT") ; s[m++] = 0 ;
  s[m++] = 0 ;
  return m ;
}
