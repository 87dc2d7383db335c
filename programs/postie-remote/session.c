/* session.c: one SMTP session of postie-remote up to the transaction:
   connect, greeting, EHLO/HELO, STARTTLS (RFC 3207) and AUTH (RFC
   4954), each host's failure in lasterr. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <skalibs/bytestr.h>
#include <skalibs/djbunix.h>
#include <skalibs/socket.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>
#include "base64.h"
#include "remote.h"

int ext_pipelining, ext_8bitmime, ext_smtputf8, ext_size ;
int ext_starttls, ext_authplain, ext_authlogin ;
uint64_t ext_sizemax ;
stralloc lasterr = STRALLOC_ZERO ;

/* The connection failed (why says how): this host is no good. Returns 0. */
static int connection_lost (void)
{
  said(&lasterr, ": ", 0) ;
  cat(&lasterr, why) ;
  close_conn() ;
  return 0 ;
}

static void ehlo_keywords (void)
{
  size_t i = 0 ;
  ext_pipelining = ext_8bitmime = ext_smtputf8 = ext_size = 0 ;
  ext_starttls = ext_authplain = ext_authlogin = 0 ;
  ext_sizemax = 0 ;
  while (i < reply.len && reply.s[i] != '\n') i++ ;
  while (i < reply.len)
  {
    size_t s = i + 1, e = s, k ;
    while (e < reply.len && reply.s[e] != '\n') e++ ;
    i = e ;
    if (e - s < 4) continue ;
    s += 4 ;
    k = s ;
    while (k < e && reply.s[k] != ' ') k++ ;
    if (k - s == 10 && !case_diffb(reply.s + s, 10, "PIPELINING")) ext_pipelining = 1 ;
    else if (k - s == 8 && !case_diffb(reply.s + s, 8, "8BITMIME")) ext_8bitmime = 1 ;
    else if (k - s == 8 && !case_diffb(reply.s + s, 8, "SMTPUTF8")) ext_smtputf8 = 1 ;
    else if (k - s == 8 && !case_diffb(reply.s + s, 8, "STARTTLS")) ext_starttls = 1 ;
    else if ((k - s == 4 && !case_diffb(reply.s + s, 4, "AUTH")) || (k - s > 5 && !case_diffb(reply.s + s, 5, "AUTH=")))
    {
      /* "AUTH PLAIN LOGIN", or the old "AUTH=PLAIN LOGIN" */
      size_t w = s + 5 ;
      while (w < e)
      {
        size_t x = w ;
        while (x < e && reply.s[x] != ' ') x++ ;
        if (x - w == 5 && !case_diffb(reply.s + w, 5, "PLAIN")) ext_authplain = 1 ;
        else if (x - w == 5 && !case_diffb(reply.s + w, 5, "LOGIN")) ext_authlogin = 1 ;
        w = x + 1 ;
      }
    }
    else if (k - s == 4 && !case_diffb(reply.s + s, 4, "SIZE"))
    {
      ext_size = 1 ;
      if (k < e)
      {
        char num[21] ;
        size_t m = e - k - 1 ;
        uint64_t v ;
        if (m && m < sizeof num)
        {
          memcpy(num, reply.s + k + 1, m) ; num[m] = 0 ;
          if (uint64_scan(num, &v) == m) ext_sizemax = v ;
        }
      }
    }
  }
}
/* EHLO, or HELO when EHLO is refused (then no extension). Returns 1,
   0 when the connection failed (why set), -1 when HELO was refused. */
static int hello (void)
{
  int code ;
  if (!oputs("EHLO ") || !oputs(helohost.s) || !oputs("\r\n")) return 0 ;
  code = getreply() ;
  if (!code) return 0 ;
  if (code / 100 == 2) { ehlo_keywords() ; return 1 ; }
  ext_pipelining = ext_8bitmime = ext_smtputf8 = ext_size = 0 ;
  ext_starttls = ext_authplain = ext_authlogin = 0 ;
  if (!oputs("HELO ") || !oputs(helohost.s) || !oputs("\r\n")) return 0 ;
  code = getreply() ;
  if (!code) return 0 ;
  return code / 100 == 2 ? 1 : -1 ;
}

static char const *levelname (void)
{
  return tlslevel == SMTPROUTE_TLS_VERIFY ? "tls=verify" : hasauth ? "auth=" : "tls=encrypt" ;
}

/* STARTTLS (RFC 3207), then postie-tlsc on the connection. Returns 1
   when TLS is on (the EHLO answer is forgotten: the caller says EHLO
   again), 0 when the server refused STARTTLS (the connection goes on in
   clear text), -1 when the handshake failed or the connection was lost
   (lasterr set, the connection closed). */
static int starttls (char const *name)
{
  tain deadline ;
  stralloc whytls = STRALLOC_ZERO ;
  unsigned long ms = timeoutremote * 1000 ;
  int code, r, fd = rfd ;
  if (!oputs("STARTTLS\r\n")) goto lost ;
  code = getreply() ;
  if (!code) goto lost ;
  if (code != 220) return 0 ;
  /* Anything the server sent behind its 220 came before TLS: it never
     counts as said inside the session (the command injection class). */
  connection_set(-1, -1) ;
  tain_now_g() ;
  tain_addsec_g(&deadline, timeoutremote) ;
  r = tlsc_start(&tls, fd, name, tlslevel == SMTPROUTE_TLS_VERIFY ? cafile.s : 0, ms > 3600000 ? 3600000 : ms, &deadline, &whytls) ;
  if (r < 0)
  {
    int e = errno ;
    tlsc_end(&tls) ;  /* a failure after the fork: the child and its pipes go too */
    said(&lasterr, ": unable to run postie-tlsc: ", 0) ;
    cat(&lasterr, strerror(e)) ;
    return -1 ;
  }
  if (!r)
  {
    said(&lasterr, ": TLS handshake failed: ", 0) ;
    catb(&lasterr, whytls.s, whytls.len) ;
    /* in case the route lets the same address go on in clear text */
    tlsnote.len = 0 ;
    cat(&tlsnote, "no TLS: the TLS handshake failed: ") ;
    catb(&tlsnote, whytls.s, whytls.len) ;
    stralloc_free(&whytls) ;
    return -1 ;
  }
  connection_set(tls.rfd, tls.wfd) ;
  tlsnote.len = 0 ;
  catb(&tlsnote, tls.info.s, tls.info.len) ;
  if (tlslevel == SMTPROUTE_TLS_VERIFY) cat(&tlsnote, ", certificate verified") ;
  return 1 ;
 lost:
  connection_lost() ;
  return -1 ;
}

/* AUTH PLAIN or LOGIN (RFC 4954, 4616) with the route's credentials;
   only ever inside TLS. Returns 1 when accepted, 0 when refused
   (lasterr set), -1 when the connection was lost. */
static int authenticate (void)
{
  stralloc c = STRALLOC_ZERO ;
  char *b ;
  size_t blen = 4 * ((authuser.len + authpass.len + 4) / 3) + 4 ;
  int code ;
  if (!tls.pid) return 0 ;  /* never in clear: the callers make sure; this too */
  b = malloc(blen) ;
  /* Room made once, so that no copy of the credentials is left behind
     in memory a reallocation freed: every copy is wiped below. */
  if (!b || !stralloc_ready(&c, blen + 16)) die_nomem() ;
  if (ext_authplain)
  {
    stralloc p = STRALLOC_ZERO ;
    if (!stralloc_ready(&p, authuser.len + authpass.len + 2)) die_nomem() ;
    catb(&p, "", 1) ; catb(&p, authuser.s, authuser.len) ;
    catb(&p, "", 1) ; catb(&p, authpass.s, authpass.len) ;
    cat(&c, "AUTH PLAIN ") ;
    catb(&c, b, base64_encode(p.s, p.len, b)) ;
    cat(&c, "\r\n") ;
    byte_zzero(p.s, p.len) ; stralloc_free(&p) ;
    if (!oput(c.s, c.len)) goto lost ;
    code = getreply() ;  /* flushes first */
    output_wipe() ;
    if (!code) goto lost ;
  }
  else
  {
    /* the user, then the password, each after a 334 */
    stralloc const *answer[2] = { &authuser, &authpass } ;
    if (!oputs("AUTH LOGIN\r\n")) goto lost ;
    code = getreply() ;
    if (!code) goto lost ;
    for (unsigned int k = 0 ; k < 2 && code == 334 ; k++)
    {
      c.len = 0 ;
      catb(&c, b, base64_encode(answer[k]->s, answer[k]->len, b)) ;
      cat(&c, "\r\n") ;
      if (!oput(c.s, c.len)) goto lost ;
      code = getreply() ;  /* flushes first */
      output_wipe() ;
      if (!code) goto lost ;
    }
  }
  byte_zzero(c.s, c.len) ; stralloc_free(&c) ;
  byte_zzero(b, blen) ; free(b) ;
  if (code / 100 == 2) return 1 ;
  said(&lasterr, " said after AUTH: ", 1) ;
  return 0 ;
 lost:
  output_wipe() ;
  byte_zzero(c.s, c.len) ; stralloc_free(&c) ;
  byte_zzero(b, blen) ; free(b) ;
  return -1 ;
}

/* EHLO (or HELO) as the session's step: 1, or 0 when this host is no
   good (lasterr set, the connection closed). */
static int session_hello (void)
{
  int r = hello() ;
  if (!r) return connection_lost() ;
  if (r < 0) { said(&lasterr, " said after HELO: ", 1) ; session_quit() ; return 0 ; }
  return 1 ;
}

/* "name [ip]:port", the host's name in every text about it */
static void session_label (ip46 const *ip, uint16_t port, char const *name)
{
  char fmt[IP46_FMT] ;
  label.len = 0 ;
  if (name && *name) { cat(&label, name) ; cat(&label, " ") ; }
  cat(&label, "[") ;
  catb(&label, fmt, ip46_fmt(fmt, ip)) ;
  cat(&label, "]") ;
  if (port != 25) { cat(&label, ":") ; catu(&label, port) ; }
  if (!stralloc_0(&label)) die_nomem() ;
  label.len-- ;
}

/* A connected socket (from the outgoing address when there is one), or
   -1 with lasterr set. */
static int session_connect (ip46 const *ip, uint16_t port)
{
  tain deadline ;
  int fd = socket_tcp46_nbcoe(ip46_is6(ip)) ;
  if (fd < 0) { said(&lasterr, ": unable to create a socket: ", 0) ; cat(&lasterr, strerror(errno)) ; return -1 ; }
  if (ip46_is6(ip) ? hasout6 : hasout4)
  {
    if (socket_bind46(fd, ip46_is6(ip) ? &outip6 : &outip4, 0) < 0)
    {
      said(&lasterr, ": unable to bind to the outgoing address: ", 0) ;
      cat(&lasterr, strerror(errno)) ;
      fd_close(fd) ;
      return -1 ;
    }
  }
  tain_now_g() ;
  tain_addsec_g(&deadline, timeoutconnect) ;
  if (!socket_deadlineconnstamp46_g(fd, ip, port, &deadline))
  {
    said(&lasterr, ": unable to connect: ", 0) ;
    cat(&lasterr, errno == ETIMEDOUT ? "timed out" : strerror(errno)) ;
    fd_close(fd) ;
    return -1 ;
  }
  return fd ;
}

/* STARTTLS as the route asks, then EHLO again. Returns 1 to go on, 0
   when this host is no good (lasterr set, the connection closed), -1
   when the handshake failed where the route lets clear text do. */
static int session_tls (char const *name)
{
  int required = tlslevel >= SMTPROUTE_TLS_ENCRYPT ;
  int r ;
  if (tlslevel == SMTPROUTE_TLS_VERIFY && !(name && *name))
  {
    said(&lasterr, ": tls=verify needs a host name to check the certificate against, and this address has none", 0) ;
    session_quit() ;
    return 0 ;
  }
  if (!ext_starttls)
  {
    if (!required) return 1 ;
    said(&lasterr, " does not offer STARTTLS, which the route requires (", 0) ;
    cat(&lasterr, levelname()) ;
    cat(&lasterr, ")") ;
    session_quit() ;
    return 0 ;
  }
  r = starttls(name) ;
  if (r < 0)
  {
    if (required) return 0 ;
    /* as Postfix's "may": the same address again, in clear text */
    close_conn() ;
    return -1 ;
  }
  if (!r && required)
  {
    said(&lasterr, " said after STARTTLS: ", 1) ;
    session_quit() ;
    return 0 ;
  }
  /* RFC 3207 4.2: forget what the server said before; EHLO again */
  if (r) return session_hello() ;
  return 1 ;
}

/* What the server said about the message's size and addresses may
   refuse it before MAIL: then this is the end. */
static void server_limits (void)
{
  if (ext_size && ext_sizemax && wiresize > ext_sizemax)
  {
    mtext.len = 0 ;
    catb(&mtext, label.s, label.len) ;
    cat(&mtext, ": the message is too large (") ;
    catu(&mtext, wiresize) ;
    cat(&mtext, " bytes, the server's SIZE limit is ") ;
    catu(&mtext, ext_sizemax) ;
    cat(&mtext, ")") ;
    finish('D') ;
  }
  if (addr8bit && !ext_smtputf8)
    fail('D', label.s, ": the server does not support SMTPUTF8, which the non-ASCII addresses need", 0) ;
}

/* Connect, greeting, EHLO/HELO, STARTTLS, AUTH. Returns 0 (lasterr set)
   when this host is no good and the next one should be tried, -1 when
   the TLS handshake failed where the route lets clear text do (the
   caller tries the same address again with notls); goes on to the
   transaction otherwise and never returns. */
int session (ip46 const *ip, uint16_t port, char const *name, int notls)
{
  int fd, code, r ;

  session_label(ip, port, name) ;
  if (!notls) { tlsnote.len = 0 ; cat(&tlsnote, "no TLS") ; }
  fd = session_connect(ip, port) ;
  if (fd < 0) return 0 ;
  connection_set(fd, fd) ;

  code = getreply() ;
  if (!code) { said(&lasterr, ": no greeting: ", 0) ; cat(&lasterr, why) ; close_conn() ; return 0 ; }
  if (code / 100 != 2) { said(&lasterr, " greeted with: ", 1) ; session_quit() ; return 0 ; }
  if (!session_hello()) return 0 ;

  if (tlslevel != SMTPROUTE_TLS_NONE && !notls)
  {
    r = session_tls(name) ;
    if (r <= 0) return r ;
  }

  if (hasauth && tls.pid && (ext_authplain || ext_authlogin))
  {
    r = authenticate() ;
    if (r < 0) return connection_lost() ;
    if (!r) { session_quit() ; return 0 ; }
  }

  server_limits() ;
  transaction() ;
}
