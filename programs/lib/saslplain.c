/* saslplain.c: see saslplain.h. */
#include <string.h>
#include "saslplain.h"

int saslplain_split (char const *dec, size_t n, size_t usermax,
                     char const **user, size_t *ulen, char const **pw, size_t *pwlen)
{
  char const *z1 = memchr(dec, 0, n) ;
  char const *z2 = z1 ? memchr(z1 + 1, 0, n - (z1 + 1 - dec)) : 0 ;
  if (!z2 || memchr(z2 + 1, 0, n - (z2 + 1 - dec))) return 0 ;
  if (z1 != dec && (z2 - z1 - 1 != z1 - dec || memcmp(dec, z1 + 1, z1 - dec))) return -1 ;
  if (z2 == z1 + 1 || (size_t)(z2 - z1 - 1) > usermax) return 0 ;
  *user = z1 + 1 ; *ulen = z2 - z1 - 1 ;
  *pw = z2 + 1 ; *pwlen = dec + n - z2 - 1 ;
  return 1 ;
}
