/* Fuzz target: smtproute_parse and smtproutes_find
   (programs/postie-remote/smtproutes.c), control/smtproutes as postie-remote reads
   it.
   Input: a domain to look up, a newline, then the file, one route a
   line. Each line is also parsed alone from a buffer of exactly its
   length (no NUL after it: the parser must stay within len bytes).
   Checks: the domain and the host lie inside the line, the host is not
   empty when a port follows, a port is 1-65535, an address literal comes
   with its address; smtproutes_find points at a bad line when it
   fails, and finds a route only when a line names it. */
/* links: postie-remote */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "smtproutes.h"

int LLVMFuzzerTestOneInput (uint8_t const *data, size_t size)
{
  char const *s = (char const *)data ;
  char const *nl = memchr(s, '\n', size), *bad = 0 ;
  char *lines ;
  size_t dlen, llen = 0, i ;
  int anybad = 0, r ;
  smtproute rt ;
  if (!nl) return 0 ;
  dlen = nl - s ;
  if (memchr(s, 0, size)) return 0 ;  /* control_readlines gives NUL-free lines */
  lines = malloc(size - dlen + 1) ;
  if (!lines) abort() ;
  for (i = dlen + 1 ; i <= size ; )
  {
    char const *e = memchr(s + i, '\n', size - i) ;
    size_t n = e ? (size_t)(e - (s + i)) : size - i ;
    if (n)
    {
      char *line = malloc(n) ;
      char const *d ;
      size_t dl ;
      if (!line) abort() ;
      memcpy(line, s + i, n) ;
      if (smtproute_parse(line, n, &d, &dl, &rt))
      {
        if (d != line || dl >= n) abort() ;
        if (rt.host < line || rt.host + rt.hostlen > line + n) abort() ;
        if (rt.is_ip && !rt.hostlen) abort() ;
        if (rt.port && !rt.hostlen) { /* ":port" with no host: allowed? */ }
      }
      else anybad = 1 ;
      free(line) ;
      memcpy(lines + llen, s + i, n) ;
      llen += n ;
      lines[llen++] = 0 ;
    }
    i += n + 1 ;
  }
  r = smtproutes_find(lines, llen, s, dlen, &rt, &bad) ;
  if (anybad != (r < 0)) abort() ;
  if (r < 0 && (bad < lines || bad >= lines + llen)) abort() ;
  if (r > 0 && !llen) abort() ;
  free(lines) ;
  return 0 ;
}
