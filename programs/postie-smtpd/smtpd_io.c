/* smtpd_io.c: postie-smtpd's input and output. One input and one output
   descriptor, non-blocking, each wait bounded by a deadline. Both
   descriptors can be swapped mid-session and the input buffer discarded,
   so that STARTTLS (through UCSPI-TLS) can come later without letting
   plaintext sent before the handshake be read as if it came after it. */

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <skalibs/iopause.h>
#include <skalibs/tai.h>
#include "smtpd.h"

static int infd = 0, outfd = 1 ;
static char inbuf[16384] ;
static size_t inpos = 0, inlen = 0 ;
static char outbuf[8192] ;
static size_t outlen = 0 ;
static int outbroken = 0 ;
static unsigned int wtimeout = 300 ;

void io_setwtimeout (unsigned int secs)
{
  wtimeout = secs ;
}

void io_setfds (int in, int out)
{
  infd = in ;
  outfd = out ;
}

void io_discard (void)
{
  inpos = inlen = 0 ;
}

/* 1 ready, 0 deadline passed, -1 error. */
static int waitfd (int fd, short events, tain const *deadline)
{
  for (;;)
  {
    iopause_fd x = { .fd = fd, .events = events, .revents = 0 } ;
    int r = iopause_g(&x, 1, deadline) ;
    if (r < 0) { if (errno == EINTR) continue ; return -1 ; }
    return r > 0 ;
  }
}

int io_pending (unsigned int ms)
{
  iopause_fd x = { .fd = infd, .events = IOPAUSE_READ, .revents = 0 } ;
  if (inpos < inlen) return 1 ;
  for (;;)
  {
    int r = poll(&x, 1, ms > 60000 ? 60000 : (int)ms) ;
    if (r < 0 && errno == EINTR) continue ;
    return r > 0 ;
  }
}

int io_flush (tain const *deadline)
{
  size_t w = 0 ;
  if (outbroken) return (errno = EPIPE, 0) ;
  while (w < outlen)
  {
    ssize_t r = write(outfd, outbuf + w, outlen - w) ;
    if (r > 0) { w += r ; continue ; }
    if (r < 0 && errno == EINTR) continue ;
    if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) { outbroken = 1 ; outlen = 0 ; return 0 ; }
    r = waitfd(outfd, IOPAUSE_WRITE, deadline) ;
    if (r <= 0) { if (!r) errno = ETIMEDOUT ; outbroken = 1 ; outlen = 0 ; return 0 ; }
  }
  outlen = 0 ;
  return 1 ;
}

/* Replies are buffered: written when the buffer fills and before every
   wait for input, so that a pipelined batch gets its replies in one go
   (RFC 2920) and a client that does not read cannot make us grow. */
void io_put (char const *s, size_t n)
{
  while (n)
  {
    size_t k ;
    if (outlen == sizeof outbuf)
    {
      tain d ;
      tain_now_g() ;
      tain_addsec_g(&d, wtimeout) ;
      if (!io_flush(&d)) outlen = 0 ;  /* the next read finds the broken peer */
    }
    k = sizeof outbuf - outlen < n ? sizeof outbuf - outlen : n ;
    memcpy(outbuf + outlen, s, k) ;
    outlen += k ; s += k ; n -= k ;
  }
}

void io_puts (char const *s)
{
  io_put(s, strlen(s)) ;
}

static int fill (tain const *deadline)
{
  if (outlen && !io_flush(deadline)) return -1 ;
  for (;;)
  {
    ssize_t r = read(infd, inbuf, sizeof inbuf) ;
    if (r > 0)
    {
      inpos = 0 ; inlen = r ;
      /* The deadline holds even when input never makes us wait: a client
         that always has more ready (a line without end, DATA sent faster
         than we read it) must not stretch it. */
      tain_now_g() ;
      if (!tain_less(&STAMP, deadline)) return (errno = ETIMEDOUT, -1) ;
      return 1 ;
    }
    if (!r) return 0 ;
    if (errno == EINTR) continue ;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return -1 ;
    r = waitfd(infd, IOPAUSE_READ, deadline) ;
    if (r < 0) return -1 ;
    if (!r) return (errno = ETIMEDOUT, -1) ;
  }
}

int io_peek (char const **s, size_t *n, tain const *deadline)
{
  if (inpos == inlen)
  {
    int r = fill(deadline) ;
    if (r <= 0) return r ;
  }
  *s = inbuf + inpos ;
  *n = inlen - inpos ;
  return 1 ;
}

void io_skip (size_t n)
{
  inpos += n ;
}

int io_getline (char *line, size_t max, size_t *len, int *toolong, tain const *deadline)
{
  size_t n = 0, over = 0 ;
  int sawcr = 0 ;
  *toolong = 0 ;
  for (;;)
  {
    char const *s ;
    size_t avail, i ;
    int r = io_peek(&s, &avail, deadline) ;
    if (r <= 0) return r ;
    for (i = 0 ; i < avail ; i++)
    {
      char c = s[i] ;
      if (sawcr)
      {
        sawcr = 0 ;
        if (c == '\n')
        {
          io_skip(i + 1) ;
          line[n] = 0 ;
          *len = n ;
          return 1 ;
        }
        if (n < max) line[n++] = '\r' ; else { *toolong = 1 ; over++ ; }
      }
      if (c == '\r') sawcr = 1 ;
      else if (n < max) line[n++] = c ;
      else { *toolong = 1 ; over++ ; }
      if (over > SMTPD_DISCARDMAX)
      {
        io_skip(i + 1) ;
        line[n] = 0 ;
        *len = n ;
        *toolong = 2 ;
        return 1 ;
      }
    }
    io_skip(avail) ;
  }
}

/* The end of a session: our side of the connection is shut down (so the
   last reply is followed by a FIN), then what the client still sends is
   read and dropped for a moment, so that closing a socket with unread
   data does not reset the connection and destroy that last reply. */
void io_shutdown (tain const *deadline)
{
  size_t total = 0 ;
  if (shutdown(outfd, SHUT_WR) < 0) return ;  /* not a socket: nothing to do */
  while (total < 1048576)
  {
    ssize_t r = read(infd, inbuf, sizeof inbuf) ;
    if (!r) return ;
    if (r > 0) { total += r ; continue ; }
    if (errno == EINTR) continue ;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return ;
    if (waitfd(infd, IOPAUSE_READ, deadline) <= 0) return ;
  }
}
