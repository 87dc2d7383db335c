/* Fuzz target: dns_mx_parse and dns_mx_sort (programs/postie-remote/dns_mx.c),
   the MX records of a DNS answer, which postie-remote gets from the
   network.
   Input: the first byte is how many records to keep (0-15), the rest
   the DNS message. Checks: no more records stored than asked or found,
   every name made of lowercase letters, digits, '-', '_' and '.' only
   (or "?"), NUL-terminated within DNS_NAME_MAX; sorting keeps the
   records and orders them by preference. */
/* links: postie-remote */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "dns_mx.h"

int LLVMFuzzerTestOneInput (uint8_t const *data, size_t size)
{
  dns_mx *mx ;
  unsigned int max, total = 12345 ;
  unsigned char *pkt ;
  int n ;
  if (!size) return 0 ;
  max = data[0] & 15 ;
  data++ ; size-- ;
  pkt = malloc(size ? size : 1) ;
  mx = malloc((max ? max : 1) * sizeof *mx) ;
  if (!pkt || !mx) abort() ;
  memcpy(pkt, data, size) ;
  n = dns_mx_parse(pkt, size, mx, max, &total) ;
  if (n < -1 || (n >= 0 && ((unsigned int)n > max || (unsigned int)n > total || (n < (int)max && (unsigned int)n != total)))) abort() ;
  for (int i = 0 ; i < n ; i++)
  {
    char const *p = memchr(mx[i].name, 0, DNS_NAME_MAX) ;
    if (!p) abort() ;
    if (strcmp(mx[i].name, "?"))
      for (char const *c = mx[i].name ; *c ; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.')) abort() ;
  }
  if (n > 0)
  {
    unsigned int sum = 0, sum2 = 0 ;
    for (int i = 0 ; i < n ; i++) sum += mx[i].pref ;
    dns_mx_sort(mx, n) ;
    for (int i = 0 ; i < n ; i++) sum2 += mx[i].pref ;
    if (sum != sum2) abort() ;
    for (int i = 1 ; i < n ; i++) if (mx[i-1].pref > mx[i].pref) abort() ;
  }
  free(pkt) ; free(mx) ;
  return 0 ;
}
