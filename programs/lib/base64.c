/* base64.c: strict base64 decoding (base64.h). */
#include "base64.h"

int base64_value (unsigned char c)
{
  if (c >= 'A' && c <= 'Z') return c - 'A' ;
  if (c >= 'a' && c <= 'z') return c - 'a' + 26 ;
  if (c >= '0' && c <= '9') return c - '0' + 52 ;
  if (c == '+') return 62 ;
  if (c == '/') return 63 ;
  return -1 ;
}

ssize_t base64_decode (char const *s, size_t n, char *o, size_t omax)
{
  size_t i, k = 0 ;
  if (n % 4) return -1 ;
  for (i = 0 ; i < n ; i += 4)
  {
    int v[4], pad = 0 ;
    for (int j = 0 ; j < 4 ; j++)
    {
      if (s[i+j] == '=')
      {
        if (i + 4 != n || j < 2) return -1 ;
        pad++ ;
        v[j] = 0 ;
      }
      else
      {
        if (pad) return -1 ;
        v[j] = base64_value(s[i+j]) ;
        if (v[j] < 0) return -1 ;
      }
    }
    /* "YQ==" is 'a'; "YR==" carries bits that say nothing: refuse it */
    if ((pad == 2 && (v[1] & 15)) || (pad == 1 && (v[2] & 3))) return -1 ;
    if (k + 3 - pad > omax) return -1 ;
    o[k++] = (v[0] << 2) | (v[1] >> 4) ;
    if (pad < 2) o[k++] = ((v[1] & 15) << 4) | (v[2] >> 2) ;
    if (pad < 1) o[k++] = ((v[2] & 3) << 6) | v[3] ;
  }
  return k ;
}

size_t base64_encode (char const *s, size_t n, char *o)
{
  static char const tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/" ;
  size_t k = 0 ;
  for (size_t i = 0 ; i < n ; i += 3)
  {
    unsigned char a = s[i], b = i + 1 < n ? s[i+1] : 0, c = i + 2 < n ? s[i+2] : 0 ;
    o[k++] = tab[a >> 2] ;
    o[k++] = tab[((a & 3) << 4) | (b >> 4)] ;
    o[k++] = i + 1 < n ? tab[((b & 15) << 2) | (c >> 6)] : '=' ;
    o[k++] = i + 2 < n ? tab[c & 63] : '=' ;
  }
  return k ;
}
