/* sasl.c: the SASL PLAIN message (sasl.h). */
#include <string.h>
#include <skalibs/bytestr.h>
#include "base64.h"
#include "sasl.h"

int sasl_plain_split (char const *s, size_t n, char const **user, size_t *ulen, char const **pass, size_t *plen)
{
  char const *z1 = memchr(s, 0, n) ;
  char const *z2 = z1 ? memchr(z1 + 1, 0, n - (z1 + 1 - s)) : 0 ;
  if (!z2 || memchr(z2 + 1, 0, n - (z2 + 1 - s))) return 0 ;
  *user = z1 + 1 ;
  *ulen = z2 - (z1 + 1) ;
  *pass = z2 + 1 ;
  *plen = n - (z2 + 1 - s) ;
  if (z1 != s && ((size_t)(z1 - s) != *ulen || memcmp(s, *user, *ulen))) return -1 ;
  return 1 ;
}

int sasl_plain_decode (char const *b64, char *dec, size_t decmax, char const **user, size_t *ulen, char const **pass, size_t *plen)
{
  ssize_t n = base64_decode(b64, strcmp(b64, "=") ? strlen(b64) : 0, dec, decmax) ;
  int r = n < 0 ? -2 : sasl_plain_split(dec, n, user, ulen, pass, plen) ;
  if (r != 1) byte_zzero(dec, decmax) ;
  return r ;
}
