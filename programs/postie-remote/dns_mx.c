/* dns_mx.c: MX records out of a DNS answer. Every offset is checked against
   the packet's length; names are expanded by dn_expand, which checks
   compression pointers and lengths. */
#include <string.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <resolv.h>
#include <skalibs/bytestr.h>
#include <skalibs/random.h>
#include "dns_mx.h"

static unsigned int get16 (unsigned char const *p)
{
  return ((unsigned int)p[0] << 8) | p[1] ;
}

static int skipname (unsigned char const *pkt, size_t len, size_t *pos)
{
  int n = dn_skipname(pkt + *pos, pkt + len) ;
  if (n < 0 || (size_t)n > len - *pos) return 0 ;
  *pos += n ;
  return 1 ;
}

static void clean (char *name)
{
  size_t n = strlen(name), i ;
  for (i = 0 ; i < n ; i++)
  {
    char c = name[i] ;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
    {
      memcpy(name, "?", 2) ;
      return ;
    }
  }
  case_lowerb(name, n) ;
  if (n && name[n-1] == '.') name[n-1] = 0 ;
}

/* Whether every label of the name at pos (compression pointers followed,
   at most 64 of them) holds only letters, digits, '-' and '_'. dn_expand
   turns a label "a.b" into "a\.b" in glibc but into "a.b" in musl, and a
   NUL inside a label into "\000" or an early end: a name whose labels
   hold anything else is refused here, the same way with either. */
static int plainlabels (unsigned char const *pkt, size_t len, size_t pos)
{
  unsigned int jumps = 0 ;
  for (;;)
  {
    unsigned int c, i ;
    if (pos >= len) return 0 ;
    c = pkt[pos] ;
    if (!c) return 1 ;
    if ((c & 0xc0) == 0xc0)
    {
      if (pos + 1 >= len || ++jumps > 64) return 0 ;
      pos = ((c & 0x3f) << 8) | pkt[pos + 1] ;
      continue ;
    }
    if (c & 0xc0 || len - pos - 1 < c) return 0 ;
    for (i = 1 ; i <= c ; i++)
    {
      unsigned char b = pkt[pos + i] ;
      if (!((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b == '-' || b == '_'))
        return 0 ;
    }
    pos += 1 + c ;
  }
}

int dns_mx_parse (unsigned char const *pkt, size_t len, dns_mx *out, unsigned int max, unsigned int *total)
{
  size_t pos = 12 ;
  unsigned int qd, an, i ;
  int stored = 0 ;
  *total = 0 ;
  if (len < 12 || len > 65535) return -1 ;
  qd = get16(pkt + 4) ;
  an = get16(pkt + 6) ;
  for (i = 0 ; i < qd ; i++)
  {
    if (!skipname(pkt, len, &pos)) return -1 ;
    if (len - pos < 4) return -1 ;
    pos += 4 ;
  }
  for (i = 0 ; i < an ; i++)
  {
    unsigned int type, class, rdlen ;
    if (!skipname(pkt, len, &pos)) return -1 ;
    if (len - pos < 10) return -1 ;
    type = get16(pkt + pos) ;
    class = get16(pkt + pos + 2) ;
    rdlen = get16(pkt + pos + 8) ;
    pos += 10 ;
    if (len - pos < rdlen) return -1 ;
    if (type == ns_t_mx && class == ns_c_in)
    {
      char name[DNS_NAME_MAX] ;
      int n ;
      if (rdlen < 3) return -1 ;
      n = dn_expand(pkt, pkt + len, pkt + pos + 2, name, sizeof name) ;
      if (n < 0 || (size_t)n + 2 != rdlen) return -1 ;
      (*total)++ ;
      if ((unsigned int)stored < max)
      {
        out[stored].pref = get16(pkt + pos) ;
        if (plainlabels(pkt, len, pos + 2)) clean(name) ;
        else memcpy(name, "?", 2) ;
        memcpy(out[stored].name, name, strlen(name) + 1) ;
        stored++ ;
      }
    }
    pos += rdlen ;
  }
  return stored ;
}

void dns_mx_sort (dns_mx *mx, unsigned int n)
{
  unsigned int i, j ;
  dns_mx tmp ;
  /* insertion sort on preference: n is small */
  for (i = 1 ; i < n ; i++)
  {
    for (j = i ; j && mx[j-1].pref > mx[j].pref ; j--)
    {
      tmp = mx[j] ; mx[j] = mx[j-1] ; mx[j-1] = tmp ;
    }
  }
  /* Fisher-Yates within each run of equal preferences */
  for (i = 0 ; i < n ; )
  {
    unsigned int e = i + 1 ;
    while (e < n && mx[e].pref == mx[i].pref) e++ ;
    for (j = e - 1 ; j > i ; j--)
    {
      unsigned int k = i + random_uint32(j - i + 1) ;
      if (k != j) { tmp = mx[j] ; mx[j] = mx[k] ; mx[k] = tmp ; }
    }
    i = e ;
  }
}
