/* spawn_proto.c: netstring records between postie-send and its spawners
   (spawn.h, doc/spawn-protocol.md). */
#include <string.h>
#include <sys/types.h>
#include <skalibs/stralloc.h>
#include <skalibs/types.h>
#include "spawn.h"

/* Not skalibs' netstring_encode: it takes the payload as one buffer,
   which n fields would have to be copied into first. */
int spawn_put (stralloc *out, char const *const *fields, unsigned int n)
{
  size_t len = 0 ;
  unsigned int i ;
  char fmt[SIZE_FMT] ;
  for (i = 0 ; i < n ; i++) len += strlen(fields[i]) + 1 ;
  if (!stralloc_catb(out, fmt, size_fmt(fmt, len)) || !stralloc_catb(out, ":", 1)) return 0 ;
  for (i = 0 ; i < n ; i++)
    if (!stralloc_catb(out, fields[i], strlen(fields[i]) + 1)) return 0 ;
  return stralloc_catb(out, ",", 1) ;
}

/* Not skalibs' netstring_decode: it copies the payload out and has no
   limit on its length; here the record is found in place, within max. */
ssize_t spawn_get (char const *buf, size_t len, size_t max, size_t *start, size_t *plen)
{
  size_t i = 0, n = 0 ;
  while (i < len && buf[i] >= '0' && buf[i] <= '9')
  {
    if (i >= 9) return -1 ;
    n = n * 10 + (size_t)(buf[i] - '0') ;
    i++ ;
  }
  if (i == len) return 0 ;
  if (!i || buf[i] != ':' || n > max) return -1 ;
  i++ ;
  if (len - i < n + 1) return 0 ;
  if (buf[i + n] != ',') return -1 ;
  *start = i ;
  *plen = n ;
  return (ssize_t)(i + n + 1) ;
}

int spawn_split (char const *p, size_t len, char const **fields, unsigned int max)
{
  size_t i = 0 ;
  unsigned int n = 0 ;
  if (!len || p[len - 1]) return -1 ;
  while (i < len)
  {
    if (n >= max) return -1 ;
    fields[n++] = p + i ;
    i += strlen(p + i) + 1 ;
  }
  return (int)n ;
}

int spawn_result (stralloc *out, char kind, char const *text, size_t len)
{
  size_t i ;
  if (len > SPAWN_LINE_MAX) len = SPAWN_LINE_MAX ;
  while (len && (text[len-1] == '\n' || text[len-1] == '\r' || text[len-1] == ' ')) len-- ;
  if (!stralloc_readyplus(out, len + 2)) return 0 ;
  out->s[out->len++] = kind ;
  for (i = 0 ; i < len ; i++)
  {
    unsigned char c = (unsigned char)text[i] ;
    out->s[out->len++] = c < 32 || c == 127 ? '?' : (char)c ;
  }
  out->s[out->len++] = 0 ;
  return 1 ;
}
