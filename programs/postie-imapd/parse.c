/* parse.c: the pieces of IMAP syntax (RFC 3501 section 9) postie-imapd
   reads, over a command already read whole (cmd.h). */

#include <string.h>
#include <skalibs/types.h>
#include "cmd.h"

int p_sp (parser *p)
{
  if (p->pos < p->len && p->s[p->pos] == ' ') { p->pos++ ; return 1 ; }
  return 0 ;
}

int p_end (parser *p) { return p->pos == p->len ; }

int p_char (parser *p, char c)
{
  if (p->pos < p->len && p->s[p->pos] == c) { p->pos++ ; return 1 ; }
  return 0 ;
}

static int atomchar (unsigned char c)
{
  return c > 0x20 && c < 0x7f && !strchr("(){%*\"\\]", c) ;
}

size_t p_atom (parser *p, char const **a)
{
  size_t st = p->pos ;
  while (p->pos < p->len && atomchar(p->s[p->pos])) p->pos++ ;
  *a = p->s + st ;
  return p->pos - st ;
}

/* {n}CRLF or {n+}CRLF then n bytes: the reader (main.c) has checked the
   sizes and put the bytes there. */
static int p_literal (parser *p, char **a, size_t *n)
{
  size_t i = p->pos + 1, k ;
  size_t v ;
  k = size_scan(p->s + i, &v) ;
  if (!k) return 0 ;
  i += k ;
  if (i < p->len && p->s[i] == '+') i++ ;
  if (i + 3 > p->len || p->s[i] != '}' || p->s[i+1] != '\r' || p->s[i+2] != '\n') return 0 ;
  i += 3 ;
  if (spool.fd >= 0 && i == spool.at) return 0 ;  /* its bytes are in a file: p_spooled */
  if (v > p->len - i) return 0 ;
  *a = p->s + i ; *n = v ;
  p->pos = i + v ;
  return 1 ;
}

/* The literal at p->pos is the one readcmd put into a file (main.c):
   skips its {n}CRLF and returns 1; else 0, nothing read. */
int p_spooled (parser *p)
{
  size_t i = p->pos ;
  if (spool.fd < 0 || i >= p->len || p->s[i] != '{') return 0 ;
  while (++i < p->len && p->s[i] != '\n') ;
  if (i >= p->len || i + 1 != spool.at) return 0 ;
  p->pos = i + 1 ;
  return 1 ;
}

static int p_quoted (parser *p, char **a, size_t *n)
{
  size_t i = p->pos + 1, o = i ;
  for (; i < p->len && p->s[i] != '"' ; i++)
  {
    if (p->s[i] == '\r' || p->s[i] == '\n') return 0 ;
    if (p->s[i] == '\\') { i++ ; if (i >= p->len || (p->s[i] != '"' && p->s[i] != '\\')) return 0 ; }
    p->s[o++] = p->s[i] ;
  }
  if (i >= p->len) return 0 ;
  *a = p->s + p->pos + 1 ; *n = o - (p->pos + 1) ;
  p->pos = i + 1 ;
  return 1 ;
}

int p_string (parser *p, char **a, size_t *n)
{
  if (p->pos >= p->len) return 0 ;
  if (p->s[p->pos] == '"') return p_quoted(p, a, n) ;
  if (p->s[p->pos] == '{') return p_literal(p, a, n) ;
  return 0 ;
}

int p_astring (parser *p, char **a, size_t *n)
{
  size_t st = p->pos ;
  if (p->pos >= p->len) return 0 ;
  if (p->s[p->pos] == '"' || p->s[p->pos] == '{') return p_string(p, a, n) ;
  /* ASTRING-CHAR: atom chars and ']' */
  while (p->pos < p->len && (atomchar(p->s[p->pos]) || p->s[p->pos] == ']')) p->pos++ ;
  if (p->pos == st) return 0 ;
  *a = p->s + st ; *n = p->pos - st ;
  return 1 ;
}

int p_number (parser *p, uint32_t *u)
{
  size_t k = uint32_scan(p->s + p->pos, u) ;
  if (!k || k > 10) return 0 ;
  p->pos += k ;
  return 1 ;
}

static int p_seqnum (parser *p, uint32_t *u)
{
  if (p_char(p, '*')) { *u = 0 ; return 1 ; }
  return p_number(p, u) && *u ;
}

int p_seqset (parser *p, seqset *s)
{
  s->n = 0 ;
  for (;;)
  {
    uint32_t lo, hi ;
    if (!p_seqnum(p, &lo)) return 0 ;
    hi = lo ;
    if (p_char(p, ':') && !p_seqnum(p, &hi)) return 0 ;
    if (s->n >= sizeof s->r / sizeof s->r[0]) return 0 ;
    s->r[s->n++] = lo ; s->r[s->n++] = hi ;
    if (!p_char(p, ',')) return 1 ;
  }
}

int seq_has (seqset const *s, uint32_t v, uint32_t star)
{
  unsigned int i ;
  for (i = 0 ; i < s->n ; i += 2)
  {
    uint32_t lo = s->r[i] ? s->r[i] : star ;
    uint32_t hi = s->r[i+1] ? s->r[i+1] : star ;
    if (lo > hi) { uint32_t t = lo ; lo = hi ; hi = t ; }
    if (v >= lo && v <= hi) return 1 ;
  }
  return 0 ;
}
