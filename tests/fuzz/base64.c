/* Fuzz target: base64_decode (programs/lib/base64.c), which reads the
   SASL responses of SMTP AUTH (postie-smtpd) and POP3 AUTH PLAIN
   (postie-popup) before anyone is logged in.
   Input: the first byte is the room given for the output, the rest the
   response. Checks: never more than that room is written (ASan sees the
   heap buffer's end), and strict base64 is canonical: what decodes
   encodes back to exactly the input. Then the other way: the input
   encoded decodes back to itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "base64.h"

static size_t encode (unsigned char const *s, size_t n, char *o)
{
  static char const tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/" ;
  size_t k = 0 ;
  for (size_t i = 0 ; i < n ; i += 3)
  {
    unsigned int v = s[i] << 16 | (i + 1 < n ? s[i+1] << 8 : 0) | (i + 2 < n ? s[i+2] : 0) ;
    o[k++] = tab[v >> 18] ;
    o[k++] = tab[(v >> 12) & 63] ;
    o[k++] = i + 1 < n ? tab[(v >> 6) & 63] : '=' ;
    o[k++] = i + 2 < n ? tab[v & 63] : '=' ;
  }
  return k ;
}

int LLVMFuzzerTestOneInput (uint8_t const *data, size_t size)
{
  size_t room, elen ;
  char *in, *out, *enc ;
  ssize_t r ;
  if (!size) return 0 ;
  room = data[0] ;
  data++ ; size-- ;
  in = malloc(size + 1) ;
  out = malloc(room + 1) ;
  enc = malloc(size / 3 * 4 + 8) ;
  if (!in || !out || !enc) abort() ;
  memcpy(in, data, size) ;
  r = base64_decode(in, size, out, room) ;
  if (r >= 0)
  {
    if ((size_t)r > room || (size_t)r > size / 4 * 3) abort() ;
    elen = encode((unsigned char *)out, r, enc) ;
    if (elen != size || memcmp(enc, in, size)) abort() ;
  }
  free(out) ;
  /* the other way: any bytes, encoded, decode to themselves */
  elen = encode(data, size, enc) ;
  out = malloc(size + 1) ;
  if (!out) abort() ;
  r = base64_decode(enc, elen, out, size) ;
  if (r != (ssize_t)size || memcmp(out, data, size)) abort() ;
  if (size && base64_decode(enc, elen, out, size - 1) != -1) abort() ;
  free(in) ; free(out) ; free(enc) ;
  return 0 ;
}
