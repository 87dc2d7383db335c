/* timedio.c: a session's timed I/O (timedio.h). */
#include <errno.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/buffer.h>
#include <skalibs/error.h>
#include <skalibs/functypes.h>
#include <skalibs/tai.h>
#include <skalibs/unix-timed.h>
#include "timedio.h"

void timedio_switch (timedio *io, int rfd, int wfd)
{
  timedio_discard(io) ;
  io->in.fd = rfd ;
  io->out.fd = wfd ;
}

/* A write first; skalibs' timed flush (a wait, then a write, until the
   buffer is empty or the deadline passes) only when it says EAGAIN. */
int timedio_flush (timedio *io, tain const *deadline)
{
  if (buffer_flush(&io->out)) return 1 ;
  if (!error_isagain(errno)) return 0 ;
  return buffer_timed_flush_g(&io->out, deadline) ;
}

int timedio_flush_within (timedio *io, unsigned long timeout)
{
  tain deadline ;
  if (buffer_isempty(&io->out)) return 1 ;
  tain_now_g() ;
  tain_addsec_g(&deadline, timeout) ;
  return timedio_flush(io, &deadline) ;
}

int timedio_put (timedio *io, char const *s, size_t n, unsigned long timeout)
{
  for (;;)
  {
    size_t k = buffer_putnoflush(&io->out, s, n) ;
    s += k ; n -= k ;
    if (!n) return 1 ;
    if (!timedio_flush_within(io, timeout)) return 0 ;
  }
}

/* timed_flush's view of an unbuffered write. */
struct pending
{
  int fd ;
  char const *s ;
  size_t n ;
} ;

static int pending_fd (struct pending *p) { return p->fd ; }
static int pending_nonempty (struct pending *p) { return p->n > 0 ; }

/* As buffer_flush: 1 when all is written, 0 (errno) when not. */
static int pending_write (struct pending *p)
{
  while (p->n)
  {
    ssize_t r = fd_write(p->fd, p->s, p->n) ;
    if (r <= 0) return 0 ;
    p->s += r ; p->n -= r ;
  }
  return 1 ;
}

int timedio_writeall (int fd, char const *s, size_t n, tain const *deadline)
{
  struct pending p = { .fd = fd, .s = s, .n = n } ;
  if (pending_write(&p)) return 1 ;
  if (!error_isagain(errno)) return 0 ;
  return timed_flush_g(&p, (init_func_ref)&pending_fd, (init_func_ref)&pending_nonempty, (init_func_ref)&pending_write, deadline) ;
}

ssize_t timedio_fill (timedio *io, tain const *deadline)
{
  ssize_t r ;
  if (!buffer_isempty(&io->out) && !timedio_flush(io, deadline)) return -1 ;
  r = buffer_timed_fill_g(&io->in, deadline) ;
  if (r <= 0) return r ;
  tain_now_g() ;
  if (!tain_less(&STAMP, deadline)) return (errno = ETIMEDOUT, -1) ;
  return r ;
}

int timedio_peek (timedio *io, char const **s, size_t *n, tain const *deadline)
{
  struct iovec v[2] ;
  if (buffer_isempty(&io->in))
  {
    ssize_t r = timedio_fill(io, deadline) ;
    if (r <= 0) return r ;
  }
  buffer_rpeek(&io->in, v) ;
  *s = v[0].iov_base ;
  *n = v[0].iov_len ;
  return 1 ;
}

/* skalibs' getlnmax says ERANGE when it has filled max bytes, even when
   the last of them is the LF: that is a line. */
ssize_t timedio_getlnmax (timedio *io, char *d, size_t max, size_t *w, tain const *deadline)
{
  ssize_t r ;
  if (!buffer_isempty(&io->out) && !timedio_flush(io, deadline)) return -1 ;
  r = timed_getlnmax_g(&io->in, d, max, w, '\n', deadline) ;
  if (r < 0 && errno == ERANGE && *w && d[*w - 1] == '\n') r = 1 ;
  return r ;
}

int timedio_getline (timedio *io, char *line, size_t max, size_t *len, tain const *deadline)
{
  size_t w = 0, discarded ;
  ssize_t r = timedio_getlnmax(io, line, max, &w, deadline) ;
  if (r > 0) { *len = w ; return 1 ; }
  if (!r) return 0 ;
  if (errno != ERANGE) return -1 ;
  /* too long: read on to its LF, max bytes at a time into line, and
     not one byte past max + TIMEDIO_DISCARD_MAX + 1 */
  discarded = w ;
  for (;;)
  {
    size_t room = max + TIMEDIO_DISCARD_MAX + 1 - discarded ;
    if (room > max) room = max ;
    w = 0 ;
    r = timedio_getlnmax(io, line, room, &w, deadline) ;
    discarded += w ;
    if (r > 0) return -2 ;
    if (!r) return 0 ;
    if (errno != ERANGE) return -1 ;
    if (discarded > max + TIMEDIO_DISCARD_MAX) return -3 ;
  }
}

int timedio_get (timedio *io, char *s, size_t n, tain const *deadline)
{
  if (!buffer_isempty(&io->out) && !timedio_flush(io, deadline)) return -1 ;
  errno = 0 ;
  if (buffer_timed_get_g(&io->in, s, n, deadline) == n) return 1 ;
  return errno ? -1 : 0 ;  /* timed_get leaves errno 0 at end of input */
}
