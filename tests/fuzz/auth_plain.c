/* Fuzz target: an AUTH PLAIN response as postie-smtpd and postie-popup
   take it before any login: base64_decode (programs/lib/base64.c), then
   sasl_plain_split (programs/lib/sasl.c).
   Input: the response line, base64 as the client sends it.
   Checks: the user and the password lie inside the decoded message, hold
   no NUL, and with the authzid and the two NULs make up all of it; an
   authzid is accepted only when it is the user. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "base64.h"
#include "sasl.h"

#define DECMAX 1024  /* postie-popup's SASL_LINE_MAX */

int LLVMFuzzerTestOneInput (uint8_t const *data, size_t size)
{
  char *in = malloc(size ? size : 1), *dec = malloc(DECMAX) ;
  char const *u = 0, *pw = 0 ;
  size_t ulen = 0, plen = 0 ;
  ssize_t n ;
  int r ;
  if (!in || !dec) abort() ;
  memcpy(in, data, size) ;
  n = base64_decode(in, size, dec, DECMAX) ;
  if (n >= 0)
  {
    r = sasl_plain_split(dec, n, &u, &ulen, &pw, &plen) ;
    if (r < -1 || r > 1) abort() ;
    if (r == 1)
    {
      size_t zlen ;
      if (u < dec + 1 || pw < u + ulen + 1 || pw + plen != dec + n) abort() ;
      if (u[-1] || pw[-1] || memchr(u, 0, ulen) || memchr(pw, 0, plen)) abort() ;
      zlen = u - 1 - dec ;
      if (memchr(dec, 0, zlen)) abort() ;
      if (zlen && (zlen != ulen || memcmp(dec, u, ulen))) abort() ;
      if (zlen + 1 + ulen + 1 + plen != (size_t)n) abort() ;
    }
    else
    {
      /* refused: not three fields, or an authzid that is not the user */
      size_t nuls = 0 ;
      for (ssize_t i = 0 ; i < n ; i++) nuls += !dec[i] ;
      if (r == 0 && nuls == 2) abort() ;
      if (r < 0 && (nuls != 2 || !dec[0])) abort() ;
    }
  }
  free(in) ; free(dec) ;
  return 0 ;
}
