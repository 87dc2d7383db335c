/* outbuf.c: buffered reply writer (outbuf.h). */
#include <string.h>
#include <skalibs/tai.h>
#include "timedline.h"
#include "outbuf.h"

int outbuf_flush (outbuf *o, unsigned long timeout)
{
  tain deadline ;
  if (!o->len) return 1 ;
  tain_now_g() ;
  tain_addsec_g(&deadline, timeout) ;
  if (!timed_writeall(o->fd, o->buf, o->len, &deadline)) return 0 ;
  o->len = 0 ;
  return 1 ;
}

int outbuf_put (outbuf *o, char const *s, size_t n, unsigned long timeout)
{
  while (n)
  {
    size_t k = o->size - o->len ;
    if (!k) { if (!outbuf_flush(o, timeout)) return 0 ; continue ; }
    if (k > n) k = n ;
    memcpy(o->buf + o->len, s, k) ;
    o->len += k ; s += k ; n -= k ;
  }
  return 1 ;
}
