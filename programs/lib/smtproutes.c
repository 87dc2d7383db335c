/* smtproutes.c: parse control/smtproutes and find a domain's route. */
#include <string.h>
#include <skalibs/bytestr.h>
#include <skalibs/fmtscan.h>
#include <skalibs/types.h>
#include "smtproutes.h"

/* An address literal between brackets: [1.2.3.4], [::1], [IPv6:::1]. */
static int scan_literal (char const *s, size_t len, smtproute *r)
{
  char tmp[64] ;
  if (len < 3 || s[0] != '[' || s[len-1] != ']') return 0 ;
  s++ ; len -= 2 ;
  if (len >= 5 && !case_diffb(s, 5, "ipv6:")) { s += 5 ; len -= 5 ; }
  if (!len || len >= sizeof tmp) return 0 ;
  memcpy(tmp, s, len) ; tmp[len] = 0 ;
  if (!memchr(tmp, ':', len))
  {
    size_t n = ip4_scan(tmp, r->ip) ;
    unsigned int dots = 0 ;
    size_t i ;
    if (n != len) return 0 ;
    for (i = 0 ; i < len ; i++)
    {
      if (tmp[i] == '.') dots++ ;
      else if (tmp[i] < '0' || tmp[i] > '9') return 0 ;
    }
    /* ip4_scan accepts 256: every part must be at most 255 */
    {
      char const *p = tmp ;
      for (i = 0 ; i < 4 ; i++)
      {
        unsigned int v ;
        size_t m = uint_scan(p, &v) ;
        if (!m || m > 3 || v > 255) return 0 ;
        p += m + 1 ;
      }
    }
    if (dots != 3) return 0 ;
    r->is6 = 0 ;
  }
  else
  {
    if (ip6_scan(tmp, r->ip) != len) return 0 ;
    r->is6 = 1 ;
  }
  r->is_ip = 1 ;
  return 1 ;
}

/* A relay host name: letters, digits, '-', '_', '.'; or a bare IPv4 address. */
static int scan_hostname (char const *s, size_t len, smtproute *r)
{
  size_t i ;
  int alldigits = 1 ;
  if (!len || len > 253) return 0 ;
  for (i = 0 ; i < len ; i++)
  {
    char c = s[i] ;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_') alldigits = 0 ;
    else if (!((c >= '0' && c <= '9') || c == '.')) return 0 ;
  }
  if (alldigits)
  {
    char tmp[258] ;
    tmp[0] = '[' ; memcpy(tmp + 1, s, len) ; tmp[len+1] = ']' ;
    return scan_literal(tmp, len + 2, r) ;
  }
  return 1 ;
}

static int isspc (char c)
{
  return c == ' ' || c == '\t' ;
}

/* The settings after the route: words separated by spaces or tabs, each
   at most once. auth= needs TLS (credentials never go in clear): it
   makes encrypt the default level and refuses none and may; ca= goes
   with tls=verify only. */
static int settings (char const *s, size_t len, smtproute *r)
{
  size_t i = 0 ;
  int seentls = 0 ;
  while (i < len)
  {
    size_t w ;
    char const *v ;
    size_t vl ;
    if (isspc(s[i])) { i++ ; continue ; }
    w = i ;
    while (i < len && !isspc(s[i])) i++ ;
    v = memchr(s + w, '=', i - w) ;
    if (!v) return 0 ;
    v++ ;
    vl = s + i - v ;
    if (!vl) return 0 ;
    if (v - (s + w) == 4 && !memcmp(s + w, "tls=", 4))
    {
      if (seentls++) return 0 ;
      if (vl == 4 && !memcmp(v, "none", 4)) r->tls = SMTPROUTE_TLS_NONE ;
      else if (vl == 3 && !memcmp(v, "may", 3)) r->tls = SMTPROUTE_TLS_MAY ;
      else if (vl == 7 && !memcmp(v, "encrypt", 7)) r->tls = SMTPROUTE_TLS_ENCRYPT ;
      else if (vl == 6 && !memcmp(v, "verify", 6)) r->tls = SMTPROUTE_TLS_VERIFY ;
      else return 0 ;
    }
    else if (v - (s + w) == 3 && !memcmp(s + w, "ca=", 3))
    {
      if (r->ca) return 0 ;
      r->ca = v ; r->calen = vl ;
    }
    else if (v - (s + w) == 5 && !memcmp(s + w, "auth=", 5))
    {
      if (r->auth) return 0 ;
      for (size_t k = 0 ; k < vl ; k++)
        if (!((v[k] >= 'a' && v[k] <= 'z') || (v[k] >= 'A' && v[k] <= 'Z') || (v[k] >= '0' && v[k] <= '9')
           || v[k] == '.' || v[k] == '-' || v[k] == '_' || v[k] == '@')) return 0 ;
      r->auth = v ; r->authlen = vl ;
    }
    else return 0 ;
  }
  if (r->auth)
  {
    if (!seentls) r->tls = SMTPROUTE_TLS_ENCRYPT ;
    else if (r->tls == SMTPROUTE_TLS_NONE || r->tls == SMTPROUTE_TLS_MAY) return 0 ;
  }
  if (r->ca && r->tls != SMTPROUTE_TLS_VERIFY) return 0 ;
  return 1 ;
}

int smtproute_parse (char const *line, size_t len, char const **dom, size_t *domlen, smtproute *r)
{
  size_t i, hs, he, rest ;
  memset(r, 0, sizeof *r) ;
  /* the route ends at the first space or tab; settings follow */
  for (rest = 0 ; rest < len && !isspc(line[rest]) ; rest++) ;
  if (rest < len && !settings(line + rest, len - rest, r)) return 0 ;
  len = rest ;
  if (len && line[0] == '[')
  {
    i = byte_chr(line, len, ']') ;
    if (i == len) return 0 ;
    i++ ;
    if (i == len || line[i] != ':') return 0 ;
  }
  else i = byte_chr(line, len, ':') ;
  if (i == len) return 0 ;
  *dom = line ; *domlen = i ;
  for (size_t k = 0 ; k < i ; k++)
    if ((unsigned char)line[k] <= 32 || line[k] == 127) return 0 ;
  i++ ;
  hs = i ;
  if (i < len && line[i] == '[')
  {
    he = i + byte_chr(line + i, len - i, ']') ;
    if (he == len) return 0 ;
    he++ ;
    if (!scan_literal(line + hs, he - hs, r)) return 0 ;
  }
  else
  {
    he = i + byte_chr(line + i, len - i, ':') ;
    if (he > hs && !scan_hostname(line + hs, he - hs, r)) return 0 ;
  }
  r->host = line + hs ;
  r->hostlen = he - hs ;
  if (he < len)
  {
    unsigned int port = 0 ;
    if (line[he] != ':') return 0 ;
    he++ ;
    /* digits up to len, and nothing read beyond it */
    if (he == len) return 0 ;
    for (; he < len ; he++)
    {
      if (line[he] < '0' || line[he] > '9') return 0 ;
      port = port * 10 + (unsigned int)(line[he] - '0') ;
      if (port > 65535) return 0 ;
    }
    if (!port || port > 65535) return 0 ;
    r->port = port ;
  }
  return 1 ;
}

int smtproutes_find (char const *lines, size_t linelen, char const *domain, size_t len, smtproute *r, char const **bad)
{
  size_t start = 0 ;
  /* Check every line first: a typo anywhere is reported, never ignored. */
  for (size_t i = 0 ; i < linelen ; i += strlen(lines + i) + 1)
  {
    char const *d ; size_t dl ; smtproute tmp ;
    if (!smtproute_parse(lines + i, strlen(lines + i), &d, &dl, &tmp)) { *bad = lines + i ; return -1 ; }
  }
  for (;;)
  {
    /* key: domain + start, len - start bytes; start is 0, a dot, or len */
    for (size_t i = 0 ; i < linelen ; i += strlen(lines + i) + 1)
    {
      char const *d ; size_t dl ;
      smtproute_parse(lines + i, strlen(lines + i), &d, &dl, r) ;
      if (dl == len - start && !case_diffb(d, dl, domain + start)) return 1 ;
    }
    if (start == len) return 0 ;
    start++ ;
    while (start < len && domain[start] != '.') start++ ;
  }
}
