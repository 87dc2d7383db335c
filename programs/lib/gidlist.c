/* gidlist.c: see gidlist.h. */
#include <skalibs/types.h>
#include "gidlist.h"

ssize_t gidlist_scan (char const *s, gid_t *tab)
{
  ssize_t n = 0 ;
  while (*s)
  {
    unsigned int u ;
    size_t len = uint_scan(s, &u) ;
    if (!len || (s[len] && (s[len] != ',' || !s[len + 1]))) return -1 ;
    if (n >= GIDLIST_MAX) return -2 ;
    tab[n++] = (gid_t)u ;
    s += len ;
    if (*s) s++ ;
  }
  return n ;
}
