/* connection.c: postie-remote's connection to the server: buffered
   output, the server's replies read byte by byte with a deadline, the
   end of the connection, and the texts that name the host. */

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <skalibs/bytestr.h>
#include <skalibs/djbunix.h>
#include <skalibs/iopause.h>
#include <skalibs/tai.h>
#include "remote.h"

int rfd = -1, wfd = -1 ;
tlsc tls = TLSC_ZERO ;
stralloc tlsnote = STRALLOC_ZERO ;
stralloc label = STRALLOC_ZERO ;
stralloc reply = STRALLOC_ZERO ;
static char ibuf[8192] ;
static size_t ilen = 0, ipos = 0 ;
static char obuf[65536] ;
static size_t olen = 0 ;

void connection_set (int r, int w)
{
  rfd = r ;
  wfd = w ;
  ilen = ipos = olen = 0 ;
}

int oflush (void)
{
  tain deadline ;
  size_t done = 0 ;
  tain_now_g() ;
  tain_addsec_g(&deadline, timeoutremote) ;
  while (done < olen)
  {
    ssize_t w = write(wfd, obuf + done, olen - done) ;
    if (w > 0) { done += w ; continue ; }
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
    {
      why = errno == EPIPE || errno == ECONNRESET ? "connection closed by the server" : strerror(errno) ;
      return 0 ;
    }
    {
      iopause_fd x = { .fd = wfd, .events = IOPAUSE_WRITE } ;
      int r = iopause_g(&x, 1, &deadline) ;
      if (r < 0) { why = strerror(errno) ; return 0 ; }
      if (!r) { why = "timed out writing to the server" ; return 0 ; }
    }
  }
  olen = 0 ;
  return 1 ;
}

int oput (char const *s, size_t n)
{
  while (n)
  {
    size_t k = sizeof obuf - olen ;
    if (!k) { if (!oflush()) return 0 ; continue ; }
    if (k > n) k = n ;
    memcpy(obuf + olen, s, k) ;
    olen += k ; s += k ; n -= k ;
  }
  return 1 ;
}

int oputs (char const *s)
{
  return oput(s, strlen(s)) ;
}

void output_wipe (void)
{
  byte_zzero(obuf, sizeof obuf) ;
}

/* one byte from the server before deadline: 1, or 0 with why set */
static int iget (char *c, tain const *deadline)
{
  while (ipos == ilen)
  {
    ssize_t r = read(rfd, ibuf, sizeof ibuf) ;
    if (r > 0) { ilen = r ; ipos = 0 ; break ; }
    if (!r) { why = "connection closed by the server" ; return 0 ; }
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) { why = strerror(errno) ; return 0 ; }
    {
      iopause_fd x = { .fd = rfd, .events = IOPAUSE_READ } ;
      int k = iopause_g(&x, 1, deadline) ;
      if (k < 0) { why = strerror(errno) ; return 0 ; }
      if (!k) { why = "timed out waiting for the server's reply" ; return 0 ; }
    }
  }
  *c = ibuf[ipos++] ;
  return 1 ;
}

/* One reply (RFC 5321 4.2): lines "ddd-text", the last "ddd text" or
   "ddd". Every line has the same code, the first digit 2 to 5. A line ends
   with LF (CR before it dropped); it may be at most replylinemax bytes, a
   reply at most replylines lines. Returns the code, or 0 with why set
   (timeout, closed, too long, malformed). Output is flushed first. */
int getreply (void)
{
  tain deadline ;
  unsigned long nlines = 0 ;
  int code = 0 ;
  if (!oflush()) return 0 ;
  reply.len = 0 ;
  tain_now_g() ;
  tain_addsec_g(&deadline, timeoutremote) ;
  for (;;)
  {
    size_t start = reply.len, n ;
    int c3, last ;
    char c ;
    if (++nlines > replylines) { why = "reply has too many lines" ; return 0 ; }
    if (start) catb(&reply, "\n", 1), start++ ;
    for (;;)
    {
      if (!iget(&c, &deadline)) return 0 ;
      if (c == '\n') break ;
      if (reply.len - start >= replylinemax) { why = "reply line too long" ; return 0 ; }
      catb(&reply, &c, 1) ;
    }
    if (reply.len > start && reply.s[reply.len - 1] == '\r') reply.len-- ;
    n = reply.len - start ;
    {
      char const *l = reply.s + start ;
      if (n < 3 || l[0] < '2' || l[0] > '5' || l[1] < '0' || l[1] > '9' || l[2] < '0' || l[2] > '9'
       || (n > 3 && l[3] != ' ' && l[3] != '-'))
      { why = "malformed reply" ; return 0 ; }
      c3 = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0') ;
      last = n == 3 || l[3] == ' ' ;
    }
    if (code && c3 != code) { why = "malformed reply (the code changes between lines)" ; return 0 ; }
    code = c3 ;
    if (last) return code ;
  }
}

void close_conn (void)
{
  if (tls.pid) tlsc_end(&tls) ;  /* its pipes are rfd and wfd */
  else
  {
    if (rfd >= 0) fd_close(rfd) ;
    if (wfd >= 0 && wfd != rfd) fd_close(wfd) ;
  }
  rfd = wfd = -1 ;
  ilen = ipos = olen = 0 ;
}

/* Polite end: QUIT, without waiting for its reply (as qmail-remote). */
void session_quit (void)
{
  if (wfd < 0) return ;
  olen = 0 ;
  if (oputs("QUIT\r\n")) { ssize_t w = write(wfd, obuf, olen) ; (void)w ; }
  olen = 0 ;
  close_conn() ;
}

/* text = the host label, then s, then the reply when withreply */
void said (stralloc *sa, char const *s, int withreply)
{
  sa->len = 0 ;
  catb(sa, label.s, label.len) ;
  cat(sa, s) ;
  if (withreply) catb(sa, reply.s, reply.len) ;
}

/* The same for the message line of a session, which also names its TLS:
   "HOST [IP] accepted the message (TLSv1.2 SUITE): reply". */
void saidmsg (stralloc *sa, char const *s)
{
  sa->len = 0 ;
  catb(sa, label.s, label.len) ;
  cat(sa, s) ;
  cat(sa, " (") ;
  catb(sa, tlsnote.s, tlsnote.len) ;
  cat(sa, "): ") ;
  catb(sa, reply.s, reply.len) ;
}
