/* Fuzz target: postie-imapd's MIME reading (programs/postie-imapd/mime.c
   compiled in): put_envelope, put_bodystructure (with the extension
   data) and mime_section, what FETCH ENVELOPE, BODYSTRUCTURE and
   BODY[1.2...] do with a message, which is hostile input.
   Input: a byte k, then k % 5 bytes of a section path (each byte % 4 + 1,
   e.g. 1.3.2), then the message.
   Checks: what is written is one well-formed parenthesized list (strings
   quoted with only \" and \\ escaped, literals {n}CRLF followed by n
   bytes), no CR or LF outside a literal, never deeper than the nesting
   limit allows (MIME_DEPTH levels, each a few parentheses), in one
   output of bounded size (a fixed multiple of the input); the section
   found lies inside the message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <skalibs/types.h>
#include "../../programs/postie-imapd/mime.c"

static stralloc out = STRALLOC_ZERO ;

void put (char const *s, size_t n) { if (!stralloc_catb(&out, s, n)) abort() ; }
void putraw (char const *s) { put(s, strlen(s)) ; }
void putnum (uint64_t u) { char f[UINT64_FMT] ; put(f, uint64_fmt(f, u)) ; }

/* one parenthesized list, and nothing after it */
static void wellformed (char const *s, size_t n, unsigned int maxdepth)
{
  size_t i = 0 ;
  unsigned int depth = 0 ;
  if (!n || s[0] != '(') abort() ;
  while (i < n)
  {
    char c = s[i] ;
    if (c == '(') { if (++depth > maxdepth) abort() ; i++ ; }
    else if (c == ')') { if (!depth) abort() ; depth-- ; i++ ; if (!depth && i != n) abort() ; }
    else if (c == '"')
    {
      for (i++ ; i < n && s[i] != '"' ; i++)
      {
        if (s[i] == '\r' || s[i] == '\n') abort() ;
        if (s[i] == '\\') { i++ ; if (i >= n || (s[i] != '"' && s[i] != '\\')) abort() ; }
      }
      if (i >= n) abort() ;
      i++ ;
    }
    else if (c == '{')
    {
      size_t k = 0 ;
      for (i++ ; i < n && s[i] >= '0' && s[i] <= '9' ; i++) k = k * 10 + (s[i] - '0') ;
      if (i + 3 > n || memcmp(s + i, "}\r\n", 3)) abort() ;
      i += 3 ;
      if (k > n - i) abort() ;
      i += k ;
    }
    else if (c == '\r' || c == '\n' || !c) abort() ;
    else i++ ;
  }
  if (depth) abort() ;
}

int LLVMFuzzerTestOneInput (uint8_t const *data, size_t size)
{
  unsigned int sec[4], nsec, k ;
  size_t start = 0, len = 0 ;
  char *m ;
  if (!size) return 0 ;
  nsec = data[0] % 5 ;
  if (size < 1 + nsec) return 0 ;
  for (k = 0 ; k < nsec ; k++) sec[k] = data[1 + k] % 4 + 1 ;
  size -= 1 + nsec ;
  m = malloc(size ? size : 1) ;
  if (!m) abort() ;
  memcpy(m, data + 1 + nsec, size) ;

  out.len = 0 ;
  put_envelope(m, size) ;
  wellformed(out.s, out.len, 3) ;

  out.len = 0 ;
  put_bodystructure(m, size, 1) ;
  wellformed(out.s, out.len, 4 * (MIME_DEPTH + 2)) ;
  if (out.len > 64 * size + 65536) abort() ;

  out.len = 0 ;
  put_bodystructure(m, size, 0) ;
  wellformed(out.s, out.len, 4 * (MIME_DEPTH + 2)) ;

  if (mime_section(m, size, sec, nsec, &start, &len) && (start > size || len > size - start)) abort() ;
  free(m) ;
  return 0 ;
}
