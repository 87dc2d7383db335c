/* rfc5322_field.c: where the header fields of a message begin and end. */
#include <string.h>
#include <skalibs/bytestr.h>
#include "rfc5322.h"

size_t rfc5322_field_start (char const *s, size_t len)
{
  size_t i = 0, n ;
  while (i < len && (unsigned char)s[i] > 32 && (unsigned char)s[i] < 127 && s[i] != ':') i++ ;
  n = i ;
  if (!n) return 0 ;
  while (i < len && (s[i] == ' ' || s[i] == '\t')) i++ ;  /* obs-optional */
  return i < len && s[i] == ':' ? n : 0 ;
}

/* name has exactly len bytes before its NUL, so a NUL in s (where
   strncasecmp would stop) never matches one of them. */
int rfc5322_field_is (char const *s, size_t len, char const *name)
{
  return strlen(name) == len && case_equalb(s, len, name) ;
}

/* The line that starts at i: its content ends at *cend (line end
   excluded), the next line starts at the returned offset. -1 on a bad
   byte or an overlong line. */
static long line (char const *s, size_t len, size_t i, size_t linemax, size_t *cend, rfc5322_error *e)
{
  size_t j = i ;
  for (; j < len ; j++)
  {
    if (!s[j]) { e->what = "NUL byte in the header" ; e->pos = j ; return -1 ; }
    if (s[j] == '\n') break ;
    if (s[j] == '\r')
    {
      if (j + 1 < len && s[j+1] == '\n') break ;
      e->what = "CR not followed by LF in the header" ; e->pos = j ; return -1 ;
    }
    if (j - i >= linemax) { e->what = "header line too long" ; e->pos = i ; return -1 ; }
  }
  *cend = j ;
  if (j < len && s[j] == '\r') j++ ;
  if (j < len && s[j] == '\n') j++ ;
  return (long)j ;
}

int rfc5322_field_next (char const *s, size_t len, size_t *pos, size_t linemax, rfc5322_field *f, rfc5322_error *e)
{
  size_t i = *pos, cend, namelen ;
  long r ;
  if (i >= len) return 0 ;
  {
    /* The name is bounded by the line: look no further than linemax + 1. */
    size_t lim = linemax >= len - i ? len - i : linemax + 1 ;
    char const *nl = memchr(s + i, '\n', lim) ;
    namelen = rfc5322_field_start(s + i, nl ? (size_t)(nl - (s + i)) : lim) ;
  }
  if (!namelen) return 0 ;
  r = line(s, len, i, linemax, &cend, e) ;
  if (r < 0) return -1 ;
  f->start = i ;
  f->namelen = namelen ;
  f->body = i + namelen ;
  while (s[f->body] != ':') f->body++ ;
  f->body++ ;
  f->end = cend ;
  i = (size_t)r ;
  while (i < len && (s[i] == ' ' || s[i] == '\t'))
  {
    r = line(s, len, i, linemax, &cend, e) ;
    if (r < 0) return -1 ;
    f->end = cend ;
    i = (size_t)r ;
  }
  f->next = i ;
  *pos = i ;
  return 1 ;
}
