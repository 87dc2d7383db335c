/* smtpd_io.c: postie-smtpd's input and output, on lib's timedio (one
   input and one output descriptor, non-blocking, each wait bounded by a
   deadline). What is postie-smtpd's own: the CRLF-only line rule
   (io_getline), the greeting delay's look at the input (io_pending),
   a broken output that stays broken, and the end of a session
   (io_shutdown). The descriptors are swapped at STARTTLS (io_setfds),
   which also throws away what was read and not used yet. */

#include <errno.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <skalibs/buffer.h>
#include <skalibs/tai.h>
#include <skalibs/unix-timed.h>
#include "postie.h"
#include "timedio.h"
#include "smtpd.h"

/* One more byte than each side holds: a skalibs buffer keeps one free. */
static char inbuf[16384 + 1] POSTIE_LARGE ;
static char outbuf[8192 + 1] POSTIE_LARGE ;
static timedio io = TIMEDIO_INIT(0, inbuf, sizeof inbuf, 1, outbuf, sizeof outbuf) ;
static int outbroken = 0 ;
static unsigned int wtimeout = 300 ;

void io_setwtimeout (unsigned int secs)
{
  wtimeout = secs ;
}

void io_setfds (int in, int out)
{
  timedio_switch(&io, in, out) ;
}

void io_discard (void)
{
  timedio_discard(&io) ;
}

int io_pending (unsigned int ms)
{
  struct pollfd x = { .fd = io.in.fd, .events = POLLIN, .revents = 0 } ;
  if (timedio_buffered(&io)) return 1 ;
  for (;;)
  {
    int r = poll(&x, 1, ms > 60000 ? 60000 : (int)ms) ;
    if (r < 0 && errno == EINTR) continue ;
    return r > 0 ;
  }
}

/* A write that failed breaks the output for good: what is put after it
   is dropped, and the next read finds the broken peer. */
int io_flush (tain const *deadline)
{
  if (outbroken) return (errno = EPIPE, 0) ;
  if (timedio_flush(&io, deadline)) return 1 ;
  outbroken = 1 ;
  timedio_unput(&io) ;
  return 0 ;
}

/* Replies are buffered: written when the buffer fills and before every
   wait for input, so that a pipelined batch gets its replies in one go
   (RFC 2920) and a client that does not read cannot make us grow. */
void io_put (char const *s, size_t n)
{
  for (;;)
  {
    size_t k = buffer_putnoflush(&io.out, s, n) ;
    tain d ;
    s += k ; n -= k ;
    if (!n) return ;
    tain_now_g() ;
    tain_addsec_g(&d, wtimeout) ;
    if (!io_flush(&d)) timedio_unput(&io) ;  /* the next read finds the broken peer */
  }
}

void io_puts (char const *s)
{
  io_put(s, strlen(s)) ;
}

int io_peek (char const **s, size_t *n, tain const *deadline)
{
  if (!timedio_buffered(&io) && !buffer_isempty(&io.out) && !io_flush(deadline)) return -1 ;
  return timedio_peek(&io, s, n, deadline) ;
}

void io_skip (size_t n)
{
  timedio_skip(&io, n) ;
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
  if (shutdown(io.out.fd, SHUT_WR) < 0) return ;  /* not a socket: nothing to do */
  while (total < 1048576)
  {
    ssize_t r ;
    timedio_discard(&io) ;
    r = buffer_timed_fill_g(&io.in, deadline) ;
    if (r <= 0) return ;
    total += r ;
  }
}
