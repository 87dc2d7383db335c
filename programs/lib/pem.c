/* pem.c: PEM blocks (pem.h). */
#include <stdint.h>
#include <string.h>
#include "base64.h"
#include "pem.h"

/* The end of the line that starts at i: the offset of its LF, or n. */
static size_t eol (char const *s, size_t n, size_t i)
{
  char const *p = memchr(s + i, '\n', n - i) ;
  return p ? (size_t)(p - s) : n ;
}

static int blank (unsigned char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' ;
}

/* s[i..e) holds only spaces, tabs, CRs. */
static int blanktail (char const *s, size_t i, size_t e)
{
  for (; i < e ; i++) if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0 ;
  return 1 ;
}

/* The line s[i..e) after its first k bytes ("-----BEGIN " or
   "-----END "): a label of printable ASCII, "-----", then blanks.
   Returns the label's length, or -1 (*why). */
static long boundary (char const *s, size_t i, size_t e, size_t k, char const **why)
{
  size_t j = i + k, start = j ;
  for (;; j++)
  {
    if (j >= e || e - j < 5) { *why = "invalid PEM: a BEGIN or END line without its closing dashes" ; return -1 ; }
    if (!memcmp(s + j, "-----", 5)) break ;
    if ((unsigned char)s[j] < 0x20 || (unsigned char)s[j] > 0x7e) { *why = "invalid PEM: a control character in a label" ; return -1 ; }
  }
  if (!blanktail(s, j + 5, e)) { *why = "invalid PEM: text after a BEGIN or END line's closing dashes" ; return -1 ; }
  if (j - start > PEM_LABELMAX) { *why = "invalid PEM: a label too long" ; return -1 ; }
  return (long)(j - start) ;
}

int pem_begin (char const *s, size_t n, size_t *pos, pem_block *b, char const **why)
{
  size_t i = *pos ;
  while (i < n)
  {
    size_t e = eol(s, n, i) ;
    if (e - i >= 11 && !memcmp(s + i, "-----BEGIN ", 11))
    {
      long len = boundary(s, i, e, 11, why) ;
      if (len < 0) { *pos = i ; return -1 ; }
      memcpy(b->label, s + i + 11, len) ;
      b->label[len] = 0 ;
      b->begin = i ;
      b->body = e < n ? e + 1 : n ;
      *pos = b->body ;
      return 1 ;
    }
    i = e < n ? e + 1 : n ;
  }
  *pos = n ;
  return 0 ;
}

/* Writes the c low bytes of v (a group's 3, 2 or 1), highest first. */
static int put (unsigned char *out, size_t omax, size_t *k, uint32_t v, unsigned int c, char const **why)
{
  if (omax - *k < c) { *why = "object too large" ; return 0 ; }
  if (out) for (unsigned int j = 0 ; j < c ; j++) out[*k + j] = v >> (8 * (c - 1 - j)) ;
  *k += c ;
  return 1 ;
}

int pem_body (char const *s, size_t n, size_t *pos, pem_block const *b, unsigned char *out, size_t omax, size_t *len, char const **why)
{
  size_t i = *pos, k = 0 ;
  uint32_t acc = 0 ;
  unsigned int q = 0 ;    /* characters of the group read, '=' included */
  unsigned int pad = 0 ;  /* '=' read */
  while (i < n)
  {
    size_t e = eol(s, n, i), next = e < n ? e + 1 : n ;
    if (e - i >= 5 && !memcmp(s + i, "-----", 5))
    {
      long l ;
      if (e - i < 9 || memcmp(s + i, "-----END ", 9))
      {
        *why = e - i >= 11 && !memcmp(s + i, "-----BEGIN ", 11)
          ? "invalid PEM: a BEGIN line inside a block (its END line is missing)"
          : "invalid PEM: a line of dashes inside a block" ;
        return -1 ;
      }
      l = boundary(s, i, e, 9, why) ;
      if (l < 0) return -1 ;
      if ((size_t)l != strlen(b->label) || memcmp(s + i + 9, b->label, l))
      {
        *why = "invalid PEM: the END line's label is not the BEGIN line's" ;
        return -1 ;
      }
      if (q) { *why = "invalid PEM: the base64 ends inside a group of four" ; return -1 ; }
      *len = k ;
      *pos = next ;
      return 1 ;
    }
    for (; i < e ; i++)
    {
      unsigned char c = s[i] ;
      int v ;
      if (blank(c)) continue ;
      if (c == '=')
      {
        /* "xx==" or "xxx=": the third or fourth character, once each */
        if (q < 2 || pad == 3) { *why = "invalid PEM: misplaced '=' in the base64" ; return -1 ; }
        pad++ ;
        if (++q < 4) continue ;
        /* the group is complete: the bits the padding leaves over are 0 */
        if (acc & (pad == 2 ? 15 : 3)) { *why = "invalid PEM: uncanonical base64 padding" ; return -1 ; }
        if (!put(out, omax, &k, acc >> (pad == 2 ? 4 : 2), 3 - pad, why)) return -1 ;
        q = 0 ; acc = 0 ;
        pad = 3 ;  /* the end of the base64: nothing but the END line now */
        continue ;
      }
      v = base64_value(c) ;
      if (v < 0) { *why = "invalid PEM: a character that is not base64" ; return -1 ; }
      if (pad) { *why = "invalid PEM: base64 after its '=' padding" ; return -1 ; }
      acc = acc << 6 | (uint32_t)v ;
      if (++q < 4) continue ;
      if (!put(out, omax, &k, acc, 3, why)) return -1 ;
      q = 0 ; acc = 0 ;
    }
    i = next ;
  }
  *pos = i ;
  return 0 ;
}
