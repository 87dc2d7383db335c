/* Fuzz target: PEM files as postie-tlsd (the instance's certificate
   chain and key) and postie-tlsc (a CA file) read them: pem_begin and
   pem_body (programs/lib/pem.c), block after block.
   Input: the first byte is the room given for each block's bytes, the
   rest the file.
   Checks: never more than the room is written (ASan sees the heap
   buffer's end), every offset stays inside the file and moves forward;
   a block gives no more than 3 bytes for 4 characters of its text; the
   same call counting only (out 0), and decoding in place over a copy
   of the file as postie-tlsd does, give the same result, length and
   bytes; a decoded block, encoded and put in a block of its own,
   decodes back to itself; the text cut at the start of the END line
   reads as unfinished (0), neither a block nor an error. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "base64.h"
#include "pem.h"

int LLVMFuzzerTestOneInput (uint8_t const *data, size_t size)
{
  size_t room, pos = 0, n ;
  char *s, *inplace ;
  unsigned char *out ;
  if (!size) return 0 ;
  room = data[0] ;
  data++ ; size-- ;
  n = size ;
  s = malloc(n + 1) ;
  inplace = malloc(n + 1) ;
  out = malloc(room + 1) ;
  if (!s || !inplace || !out) abort() ;
  memcpy(s, data, n) ;
  memcpy(inplace, data, n) ;
  for (;;)
  {
    pem_block b ;
    char const *why = 0, *why2 = 0 ;
    size_t p1, p2, p3, len = 0, len2 = 0, len3 = 0, old = pos ;
    int r, r2, r3 ;
    r = pem_begin(s, n, &pos, &b, &why) ;
    if (pos > n || pos < old) abort() ;
    if (r < 0) { if (!why) abort() ; break ; }
    if (!r) { if (pos != n) abort() ; break ; }
    if (r != 1 || b.begin < old || b.body > n || b.body <= b.begin || pos != b.body || strlen(b.label) > PEM_LABELMAX) abort() ;
    p1 = p2 = p3 = pos ;
    r = pem_body(s, n, &p1, &b, out, room, &len, &why) ;
    r2 = pem_body(s, n, &p2, &b, 0, room, &len2, &why2) ;
    if (r != r2 || p1 != p2 || (r == 1 && len != len2) || (r < 0 && (!why || strcmp(why, why2)))) abort() ;
    if (r == 1)
    {
      unsigned char *ip = (unsigned char *)inplace + b.begin ;
      if (p1 > n || p1 <= pos || len > room || len > (p1 - pos) / 4 * 3) abort() ;
      r3 = pem_body(inplace, n, &p3, &b, ip, room, &len3, &why2) ;
      if (r3 != 1 || p3 != p1 || len3 != len || memcmp(ip, out, len)) abort() ;
      memcpy(inplace, s, n) ;  /* the text again, for the next block */
      /* the bytes, encoded in a block of their own, decode to themselves */
      {
        size_t l = strlen(b.label), m = 0, back = 0, q = 0 ;
        char *t = malloc(2 * l + len / 3 * 4 + 64) ;
        unsigned char *o = malloc(len + 1) ;
        pem_block b2 ;
        char const *w = 0 ;
        if (!t || !o) abort() ;
        memcpy(t, "-----BEGIN ", 11) ; m = 11 ;
        memcpy(t + m, b.label, l) ; m += l ;
        memcpy(t + m, "-----\n", 6) ; m += 6 ;
        m += base64_encode((char const *)out, len, t + m) ;
        memcpy(t + m, "\n-----END ", 10) ; m += 10 ;
        memcpy(t + m, b.label, l) ; m += l ;
        memcpy(t + m, "-----", 5) ; m += 5 ;
        if (pem_begin(t, m, &q, &b2, &w) != 1 || strcmp(b2.label, b.label)
         || pem_body(t, m, &q, &b2, o, len, &back, &w) != 1 || back != len || memcmp(o, out, len) || q != m) abort() ;
        free(t) ; free(o) ;
      }
      /* cut before the END line: unfinished, never a block */
      {
        size_t cut = p1, q = pos, l4 = 0 ;
        char const *w = 0 ;
        if (s[cut - 1] == '\n') cut-- ;
        while (cut > pos && s[cut - 1] != '\n') cut-- ;
        if (pem_body(s, cut, &q, &b, 0, room, &l4, &w) != 0 || q != cut) abort() ;
      }
    }
    else if (r == 0) { if (p1 != n) abort() ; break ; }
    else break ;
    pos = p1 ;
  }
  free(s) ; free(inplace) ; free(out) ;
  return 0 ;
}
