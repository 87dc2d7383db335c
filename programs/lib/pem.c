/* pem.c: PEM blocks (pem.h). */
#include <stdint.h>
#include <string.h>
#include "base64.h"
#include "pem.h"

/* The end of the line that starts at i: the offset of its LF, or n. */
static size_t eol (char const *s, size_t n, size_t i)
{
  while (i < n && s[i] != '\n') i++ ;
  return i ;
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

int pem_body (char const *s, size_t n, size_t *pos, pem_block const *b, unsigned char *out, size_t omax, size_t *len, char const **why)
{
  size_t i = *pos, k = 0 ;
  uint32_t acc = 0 ;
  unsigned int q = 0 ;    /* characters of the group read, '=' included */
  unsigned int pad = 0 ;  /* '=' read; 3 once the padded group is done */
  char const *e ;
  while (i < n)
  {
    size_t end = eol(s, n, i), next = end < n ? end + 1 : n ;
    if (end - i >= 5 && !memcmp(s + i, "-----", 5))
    {
      long l ;
      e = "invalid PEM: a BEGIN line inside a block (its END line is missing)" ;
      if (end - i >= 11 && !memcmp(s + i, "-----BEGIN ", 11)) goto err ;
      e = "invalid PEM: a line of dashes inside a block" ;
      if (end - i < 9 || memcmp(s + i, "-----END ", 9)) goto err ;
      l = boundary(s, i, end, 9, why) ;
      if (l < 0) return -1 ;
      e = "invalid PEM: the END line's label is not the BEGIN line's" ;
      if ((size_t)l != strlen(b->label) || memcmp(s + i + 9, b->label, l)) goto err ;
      e = "invalid PEM: the base64 ends inside a group of four" ;
      if (q) goto err ;
      *len = k ;
      *pos = next ;
      return 1 ;
    }
    for (; i < end ; i++)
    {
      unsigned char c = s[i] ;
      int v = 0 ;
      if (blank(c)) continue ;
      if (c == '=')
      {
        /* "xx==" or "xxx=": the third or fourth character, once */
        e = "invalid PEM: misplaced '=' in the base64" ;
        if (q < 2 || pad == 3) goto err ;
        pad++ ;
      }
      else
      {
        v = base64_value(c) ;
        e = "invalid PEM: a character that is not base64" ;
        if (v < 0) goto err ;
        e = "invalid PEM: base64 after its '=' padding" ;
        if (pad) goto err ;
      }
      acc = acc << 6 | (uint32_t)v ;
      if (++q < 4) continue ;
      /* a group: 3 bytes, or 3 - pad with the bits the padding leaves
         over zero */
      e = "invalid PEM: uncanonical base64 padding" ;
      if (acc & ((1u << 8 * pad) - 1)) goto err ;
      e = "object too large" ;
      if (omax - k < 3 - pad) goto err ;
      if (out)
      {
        out[k] = acc >> 16 ;
        if (pad < 2) out[k + 1] = acc >> 8 ;
        if (!pad) out[k + 2] = acc ;
      }
      k += 3 - pad ;
      q = 0 ; acc = 0 ;
      if (pad) pad = 3 ;  /* the end of the base64: only the END line now */
    }
    i = next ;
  }
  *pos = i ;
  return 0 ;
 err:
  *why = e ;
  return -1 ;
}
