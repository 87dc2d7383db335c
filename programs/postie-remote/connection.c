/* connection.c: postie-remote's connection to the server, on lib's
   timedio: buffered output, the server's replies read line by line with
   a deadline, the end of the connection, and the texts that name the
   host. */

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <skalibs/buffer.h>
#include <skalibs/bytestr.h>
#include <skalibs/djbunix.h>
#include <skalibs/tai.h>
#include "timedio.h"
#include "remote.h"

int rfd = -1, wfd = -1 ;
tlsc tls = TLSC_ZERO ;
stralloc tlsnote = STRALLOC_ZERO ;
stralloc label = STRALLOC_ZERO ;
stralloc reply = STRALLOC_ZERO ;
/* One more byte than each side holds: a skalibs buffer keeps one free. */
static char ibuf[8192 + 1] ;
static char obuf[65536 + 1] ;
static timedio conn = TIMEDIO_INIT(-1, ibuf, sizeof ibuf, -1, obuf, sizeof obuf) ;

/* A new connection, or the same one through postie-tlsc after STARTTLS:
   nothing read or put on the one before is kept. */
void connection_set (int r, int w)
{
  rfd = r ;
  wfd = w ;
  timedio_unput(&conn) ;
  timedio_switch(&conn, r, w) ;
}

static void write_failed (void)
{
  why = errno == ETIMEDOUT ? "timed out writing to the server"
      : errno == EPIPE || errno == ECONNRESET ? "connection closed by the server"
      : strerror(errno) ;
}

int oflush (void)
{
  if (timedio_flush_within(&conn, timeoutremote)) return 1 ;
  write_failed() ;
  return 0 ;
}

int oput (char const *s, size_t n)
{
  if (timedio_put(&conn, s, n, timeoutremote)) return 1 ;
  write_failed() ;
  return 0 ;
}

int oputs (char const *s)
{
  return oput(s, strlen(s)) ;
}

void output_wipe (void)
{
  byte_zzero(obuf, sizeof obuf) ;
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
    size_t start = reply.len, n = 0 ;
    ssize_t r ;
    int c3, last ;
    if (++nlines > replylines) { why = "reply has too many lines" ; return 0 ; }
    if (start) catb(&reply, "\n", 1), start++ ;
    /* the line and its LF: replylinemax + 1 bytes at most */
    if (!stralloc_readyplus(&reply, replylinemax + 1)) { why = strerror(errno) ; return 0 ; }
    r = timedio_getlnmax(&conn, reply.s + start, replylinemax + 1, &n, &deadline) ;
    if (!r) { why = "connection closed by the server" ; return 0 ; }
    if (r < 0)
    {
      why = errno == ETIMEDOUT ? "timed out waiting for the server's reply"
          : errno == ERANGE ? "reply line too long" : strerror(errno) ;
      return 0 ;
    }
    reply.len = start + n - 1 ;
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
  connection_set(-1, -1) ;
}

/* Polite end: QUIT, without waiting for its reply (as qmail-remote). */
void session_quit (void)
{
  if (wfd < 0) return ;
  timedio_unput(&conn) ;
  if (oputs("QUIT\r\n")) buffer_flush(&conn.out) ;  /* one try, no wait */
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
