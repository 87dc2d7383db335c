/* Fuzz target: an AUTH PLAIN response as postie-smtpd, postie-popup and
   postie-imapup take it before any login: sasl_plain_decode
   (programs/lib/sasl.c: base64_decode, programs/lib/base64.c, then
   sasl_plain_split; "=" is the empty response).
   Input: the response line, base64 as the client sends it.
   Checks: -2 exactly when base64_decode refuses it; the user and the
   password lie inside the decoded message, hold no NUL, and with the
   authzid and the two NULs make up all of it; an authzid is accepted only
   when it is the user; a refusal leaves nothing of the message behind. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "base64.h"
#include "sasl.h"

#define DECMAX 1024  /* postie-popup's SASL_LINE_MAX */

int LLVMFuzzerTestOneInput (uint8_t const *data, size_t size)
{
  char *in = malloc(size + 1), *dec = malloc(DECMAX) ;
  char const *u = 0, *pw = 0 ;
  size_t ulen = 0, plen = 0 ;
  ssize_t n ;
  int r ;
  if (!in || !dec) abort() ;
  memcpy(in, data, size) ;
  in[size] = 0 ;
  n = base64_decode(in, strcmp(in, "=") ? strlen(in) : 0, dec, DECMAX) ;
  r = sasl_plain_decode(in, dec, DECMAX, &u, &ulen, &pw, &plen) ;
  if (r < -2 || r > 1 || (r == -2) != (n < 0)) abort() ;
  if (r != 1)
    for (size_t i = 0 ; i < DECMAX ; i++) if (dec[i]) abort() ;
  if (n >= 0)
  {
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
      /* refused: not three fields, or an authzid that is not the user
         (counted in a second decoding: the first was wiped) */
      size_t nuls = 0 ;
      char *again = malloc(DECMAX) ;
      if (!again) abort() ;
      if (base64_decode(in, strcmp(in, "=") ? strlen(in) : 0, again, DECMAX) != n) abort() ;
      for (ssize_t i = 0 ; i < n ; i++) nuls += !again[i] ;
      if (r == 0 && nuls == 2) abort() ;
      if (r < 0 && (nuls != 2 || !again[0])) abort() ;
      free(again) ;
    }
  }
  free(in) ; free(dec) ;
  return 0 ;
}
