/* Fuzz target: postie-smtpd's command syntax, the parsers of
   programs/postie-smtpd/smtpd_addr.c compiled in (as
   tests/unit/smtpd_syntax.c does): addr_parse, the path of MAIL FROM
   and RCPT TO, and param_split, the ESMTP parameters after it; both
   read what a client sends before any login.
   Input: a flags byte (ADDR_NULLOK, ADDR_UTF8, ADDR_POSTMASTER), then
   the argument after "MAIL FROM:" (the path, then parameters).
   Checks, on an accepted path: it was consumed up to its '>', the
   stored address is NUL-terminated, printable (no control character,
   no NUL), its domain lowercase, its '@' where *at says, non-ASCII only
   with ADDR_UTF8 (and then valid UTF-8); the round trip: the address
   written back as a path (the local part quoted when it is not a
   dot-atom) parses to the same address. A path refused only for being
   non-ASCII is accepted with ADDR_UTF8. Each parameter splits into a
   keyword of letters, digits and '-' and a value without '='. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../../programs/postie-smtpd/smtpd_addr.c"

static int dotatom (char const *s, size_t n)
{
  int want = 1 ;
  for (size_t i = 0 ; i < n ; i++)
  {
    unsigned char c = s[i] ;
    if (c == '.') { if (want) return 0 ; want = 1 ; }
    else if (isatext(c) || c >= 0x80) want = 0 ;
    else return 0 ;
  }
  return !want ;
}

static void params (char const *p, size_t plen)
{
  while (plen)
  {
    size_t n = 0, klen = 99999, vlen = 99999 ;
    char const *v = (char const *)1 ;
    while (plen && *p == ' ') { p++ ; plen-- ; }
    while (n < plen && p[n] != ' ') n++ ;
    if (!n) break ;
    if (param_split(p, n, &klen, &v, &vlen))
    {
      if (!klen || klen > n || p[0] == '-') abort() ;
      for (size_t i = 0 ; i < klen ; i++)
        if (!(isletdig(p[i]) || p[i] == '-')) abort() ;
      if (!v) { if (klen != n || vlen) abort() ; }
      else if (v != p + klen + 1 || p[klen] != '=' || !vlen || klen + 1 + vlen != n || memchr(v, '=', vlen)) abort() ;
    }
    p += n ; plen -= n ;
  }
}

int LLVMFuzzerTestOneInput (uint8_t const *data, size_t size)
{
  stralloc out = STRALLOC_ZERO, back = STRALLOC_ZERO, again = STRALLOC_ZERO ;
  unsigned int flags ;
  size_t used = 0, at = 0, used2, at2 ;
  char *s ;
  int r ;
  if (!size) return 0 ;
  flags = data[0] & (ADDR_NULLOK | ADDR_UTF8 | ADDR_POSTMASTER) ;
  data++ ; size-- ;
  s = malloc(size ? size : 1) ;  /* exactly the input: no NUL after it */
  if (!s) abort() ;
  memcpy(s, data, size) ;
  r = addr_parse(s, size, flags, &out, &used, &at) ;
  if (r < 0 || r > 2) abort() ;
  if (r == 2)
  {
    if (flags & ADDR_UTF8) abort() ;
    if (addr_parse(s, size, flags | ADDR_UTF8, &again, &used2, &at2) != 1) abort() ;
  }
  if (r == 1)
  {
    if (!used || used > size || s[used - 1] != '>' || s[0] != '<') abort() ;
    if (!out.s || out.s[out.len] || strlen(out.s) != out.len || at > out.len) abort() ;
    for (size_t i = 0 ; i < out.len ; i++)
    {
      unsigned char c = out.s[i] ;
      if (c < 32 || c == 127) abort() ;
      if (c >= 0x80 && !(flags & ADDR_UTF8)) abort() ;
      if (i > at && c >= 'A' && c <= 'Z') abort() ;
    }
    if (!utf8_valid(out.s, out.len)) abort() ;
    if (at < out.len)
    {
      if (out.s[at] != '@' || memchr(out.s, '@', at)) abort() ;
    }
    else if (out.len && !((flags & ADDR_POSTMASTER) && !strcasecmp(out.s, "postmaster"))) abort() ;
    if (!out.len && !(flags & ADDR_NULLOK)) abort() ;

    /* written back */
    if (!stralloc_catb(&back, "<", 1)) abort() ;
    if (dotatom(out.s, at) || !at) { if (!stralloc_catb(&back, out.s, at)) abort() ; }
    else
    {
      if (!stralloc_catb(&back, "\"", 1)) abort() ;
      for (size_t i = 0 ; i < at ; i++)
      {
        if ((out.s[i] == '"' || out.s[i] == '\\') && !stralloc_catb(&back, "\\", 1)) abort() ;
        if (!stralloc_catb(&back, out.s + i, 1)) abort() ;
      }
      if (!stralloc_catb(&back, "\"", 1)) abort() ;
    }
    if (!stralloc_catb(&back, out.s + at, out.len - at) || !stralloc_catb(&back, ">", 1)) abort() ;
    if (addr_parse(back.s, back.len, flags, &again, &used2, &at2) != 1
     || used2 != back.len || at2 != at || again.len != out.len || memcmp(again.s, out.s, out.len)) abort() ;

    params(s + used, size - used) ;
  }
  free(s) ;
  stralloc_free(&out) ;
  stralloc_free(&back) ;
  stralloc_free(&again) ;
  return 0 ;
}
