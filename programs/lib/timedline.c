/* timedline.c: bounded, timed line input and output (timedline.h). */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <skalibs/iopause.h>
#include <skalibs/tai.h>
#include "timedline.h"

static int waitfor (int fd, int what, tain const *deadline)
{
  iopause_fd x = { .fd = fd, .events = what, .revents = 0 } ;
  for (;;)
  {
    int r = iopause_g(&x, 1, deadline) ;
    if (r < 0) { if (errno == EINTR) continue ; return 0 ; }
    if (!r) return (errno = ETIMEDOUT, 0) ;
    return 1 ;
  }
}

/* Fill the buffer: returns >0 bytes, 0 at end of input, -1 error. */
static ssize_t fill (timedin *in, tain const *deadline)
{
  for (;;)
  {
    ssize_t r = read(in->fd, in->buf, in->bufsize) ;
    if (r >= 0) { in->pos = 0 ; in->len = r ; return r ; }
    if (errno == EINTR) continue ;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return -1 ;
    if (!waitfor(in->fd, IOPAUSE_READ, deadline)) return -1 ;
  }
}

int timedin_getline (timedin *in, char *line, size_t max, size_t *len, tain const *deadline)
{
  size_t n = 0, discarded = 0 ;
  int toolong = 0 ;
  for (;;)
  {
    char const *nl ;
    size_t take ;
    if (in->pos == in->len)
    {
      ssize_t r = fill(in, deadline) ;
      if (r < 0) return -1 ;
      if (!r) return 0 ;
    }
    nl = memchr(in->buf + in->pos, '\n', in->len - in->pos) ;
    take = nl ? (size_t)(nl - (in->buf + in->pos)) + 1 : in->len - in->pos ;
    if (!toolong && n + take > max) { toolong = 1 ; discarded = n ; }
    if (!toolong) { memcpy(line + n, in->buf + in->pos, take) ; n += take ; }
    else discarded += take ;
    in->pos += take ;
    if (nl) break ;
    if (toolong && discarded > max + TIMEDIN_DISCARD_MAX) return -3 ;
  }
  if (toolong) return -2 ;
  *len = n ;
  return 1 ;
}

int timedin_get (timedin *in, char *s, size_t n, tain const *deadline)
{
  while (n)
  {
    size_t take ;
    if (in->pos == in->len)
    {
      ssize_t r = fill(in, deadline) ;
      if (r <= 0) return r ;
    }
    take = in->len - in->pos ;
    if (take > n) take = n ;
    memcpy(s, in->buf + in->pos, take) ;
    in->pos += take ; s += take ; n -= take ;
  }
  return 1 ;
}

int timed_writeall (int fd, char const *s, size_t n, tain const *deadline)
{
  while (n)
  {
    ssize_t r = write(fd, s, n) ;
    if (r > 0) { s += r ; n -= r ; continue ; }
    if (r < 0 && errno == EINTR) continue ;
    if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return 0 ;
    if (!waitfor(fd, IOPAUSE_WRITE, deadline)) return 0 ;
  }
  return 1 ;
}
