/* smtpd_addr.c: the syntax of RFC 5321 paths (section 4.1.2), with
   RFC 6531's UTF-8 extension. Strict on purpose: whatever passes here goes
   into the envelope, the logs and a header, so it is printable, has no
   control character, no space outside a quoted local part, and a domain
   made of letters, digits and hyphens or an address literal. The ESMTP
   parameters after a MAIL path are split here too (param_split). */

#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <skalibs/bytestr.h>
#include <skalibs/stralloc.h>
#include "smtpd.h"

int utf8_valid (char const *s, size_t len)
{
  size_t i = 0 ;
  while (i < len)
  {
    unsigned char c = s[i] ;
    unsigned int need, cp, min ;
    if (c < 0x80) { i++ ; continue ; }
    if (c >= 0xc2 && c <= 0xdf) { need = 1 ; cp = c & 0x1f ; min = 0x80 ; }
    else if (c >= 0xe0 && c <= 0xef) { need = 2 ; cp = c & 0x0f ; min = 0x800 ; }
    else if (c >= 0xf0 && c <= 0xf4) { need = 3 ; cp = c & 0x07 ; min = 0x10000 ; }
    else return 0 ;
    if (len - i <= need) return 0 ;
    for (unsigned int k = 1 ; k <= need ; k++)
    {
      unsigned char d = s[i+k] ;
      if ((d & 0xc0) != 0x80) return 0 ;
      cp = (cp << 6) | (d & 0x3f) ;
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0 ;
    i += need + 1 ;
  }
  return 1 ;
}

static int isatext (unsigned char c)
{
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1 ;
  return c && strchr("!#$%&'*+-/=?^_`{|}~", c) != 0 ;
}

static int isletdig (unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ;
}

/* A domain (labels) at s[*i]; appended lowercased to out when out != 0.
   Stops at the first byte that cannot continue it. Returns 1 if valid. */
static int domain (char const *s, size_t len, size_t *i, stralloc *out, int *nonascii)
{
  size_t start = *i, label = 0 ;
  char prev = '.' ;
  if (*i < len && s[*i] == '[')
  {
    /* Address literal: IPv4 dotted quad, or IPv6:... */
    char tmp[64] ;
    size_t j = *i + 1, n = 0 ;
    while (j < len && s[j] != ']' && n < sizeof tmp - 1) tmp[n++] = s[j++] ;
    if (j >= len || s[j] != ']') return 0 ;
    /* inet_pton would stop at a NUL and take what follows as nothing */
    if (memchr(tmp, 0, n)) return 0 ;
    tmp[n] = 0 ;
    if (n > 5 && !strncasecmp(tmp, "IPv6:", 5))
    {
      unsigned char a[16] ;
      if (inet_pton(AF_INET6, tmp + 5, a) != 1) return 0 ;
    }
    else
    {
      unsigned int parts = 0, k = 0 ;
      while (parts < 4)
      {
        unsigned int v = 0, digits = 0 ;
        while (k < n && tmp[k] >= '0' && tmp[k] <= '9' && digits < 4) { v = v * 10 + (tmp[k++] - '0') ; digits++ ; }
        if (!digits || digits > 3 || v > 255) return 0 ;
        parts++ ;
        if (parts < 4) { if (k >= n || tmp[k] != '.') return 0 ; k++ ; }
      }
      if (k != n) return 0 ;
    }
    if (out)
    {
      if (!stralloc_catb(out, s + *i, j + 1 - *i)) return -1 ;
      case_lowerb(out->s + out->len - (j + 1 - *i), j + 1 - *i) ;
    }
    *i = j + 1 ;
    return 1 ;
  }
  while (*i < len)
  {
    unsigned char c = s[*i] ;
    if (c == '.')
    {
      if (prev == '.' || prev == '-') return 0 ;
      label = 0 ;
    }
    else if (c == '-')
    {
      if (prev == '.') return 0 ;
      if (++label > 63) return 0 ;
    }
    else if (isletdig(c) || c >= 0x80)
    {
      if (c >= 0x80) *nonascii = 1 ;
      if (++label > 63) return 0 ;
    }
    else break ;
    prev = c ;
    (*i)++ ;
  }
  if (*i == start || prev == '.' || prev == '-') return 0 ;
  if (*i - start > 255) return 0 ;
  if (out)
  {
    if (!stralloc_catb(out, s + start, *i - start)) return -1 ;
    case_lowerb(out->s + out->len - (*i - start), *i - start) ;
  }
  return 1 ;
}

/* About 90 lines, on purpose: the Path grammar of RFC 5321 4.1.2 read
   left to right in one place (source route, local part as dot-string or
   quoted string, domain or address literal), as the RFC writes it. */
int addr_parse (char const *s, size_t len, unsigned int flags, stralloc *out, size_t *used, size_t *at)
{
  size_t i = 0, lstart ;
  int nonascii = 0, r ;
  out->len = 0 ;
  if (i >= len || s[i] != '<') return 0 ;
  i++ ;
  if (i < len && s[i] == '>')
  {
    if (!(flags & ADDR_NULLOK)) return 0 ;
    *used = i + 1 ;
    *at = 0 ;
    return stralloc_0(out) ? (out->len = 0, 1) : -1 ;
  }
  /* A source route (@a,@b:) is accepted and ignored (RFC 5321 4.1.2, C). */
  if (i < len && s[i] == '@')
  {
    for (;;)
    {
      if (i >= len || s[i] != '@') return 0 ;
      i++ ;
      r = domain(s, len, &i, 0, &nonascii) ;
      if (r <= 0) return r ;
      if (i < len && s[i] == ',') { i++ ; continue ; }
      if (i < len && s[i] == ':') { i++ ; break ; }
      return 0 ;
    }
  }
  lstart = i ;
  if (i < len && s[i] == '"')
  {
    i++ ;
    for (;;)
    {
      unsigned char c ;
      if (i >= len) return 0 ;
      c = s[i] ;
      if (c == '"') { i++ ; break ; }
      if (c == '\\')
      {
        if (++i >= len) return 0 ;
        c = s[i] ;
        if (c < 32 || c == 127) return 0 ;
      }
      else if (c < 32 || c == 127) return 0 ;
      if (c >= 0x80) nonascii = 1 ;
      if (!stralloc_catb(out, (char *)&c, 1)) return -1 ;
      i++ ;
    }
    /* Empty, or an '@' inside: refused, so the stored address is never
       ambiguous about where its domain starts. */
    if (!out->len || memchr(out->s, '@', out->len)) return 0 ;
    /* A quoted part must not start a new path or hide a space-free
       surprise: spaces are kept, they are printable and harmless. */
  }
  else
  {
    char prev = '.' ;
    while (i < len)
    {
      unsigned char c = s[i] ;
      if (c == '.') { if (prev == '.') return 0 ; }
      else if (c >= 0x80) nonascii = 1 ;
      else if (!isatext(c)) break ;
      if (!stralloc_catb(out, (char *)&c, 1)) return -1 ;
      prev = c ;
      i++ ;
    }
    if (i == lstart || prev == '.') return 0 ;
  }
  if (i < len && s[i] == '>' && (flags & ADDR_POSTMASTER)
   && out->len == 10 && !strncasecmp(out->s, "postmaster", 10))
  {
    *used = i + 1 ;
    *at = out->len ;
    return stralloc_0(out) ? (out->len--, 1) : -1 ;
  }
  if (i >= len || s[i] != '@') return 0 ;
  *at = out->len ;
  if (!stralloc_catb(out, "@", 1)) return -1 ;
  i++ ;
  r = domain(s, len, &i, out, &nonascii) ;
  if (r <= 0) return r ;
  if (i >= len || s[i] != '>') return 0 ;
  *used = i + 1 ;
  if (nonascii)
  {
    if (!utf8_valid(out->s, out->len)) return 0 ;
    if (!(flags & ADDR_UTF8)) return 2 ;
  }
  if (!stralloc_0(out)) return -1 ;
  out->len-- ;
  return 1 ;
}

/* One ESMTP parameter "keyword[=value]" (n bytes at s): keyword and value
   split, keyword syntax checked (RFC 5321 4.1.2 esmtp-keyword/value). */
int param_split (char const *s, size_t n, size_t *klen, char const **v, size_t *vlen)
{
  size_t i = 0 ;
  if (!n) return 0 ;
  while (i < n && s[i] != '=')
  {
    char c = s[i] ;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (c == '-' && i))) return 0 ;
    i++ ;
  }
  if (!i) return 0 ;
  *klen = i ;
  if (i == n) { *v = 0 ; *vlen = 0 ; return 1 ; }
  *v = s + i + 1 ;
  *vlen = n - i - 1 ;
  return *vlen > 0 && !memchr(*v, '=', *vlen) ;
}
