/* The environment of the next program: ours with variables set or
   unset, every entry of their names removed (envmod.h). */

#include <errno.h>
#include <string.h>
#include "envmod.h"

/* The length of s's name: up to its first '=', or its end. */
static size_t namelen (char const *s)
{
  size_t l = 0 ;
  while (s[l] && s[l] != '=') l++ ;
  return l ;
}

/* 1 if an entry of modifs from offset i to n (NUL-terminated entries)
   has the name s of len bytes (len > 0). */
static int changed (char const *modifs, size_t i, size_t n, char const *s, size_t len)
{
  while (i < n)
  {
    char const *e = modifs + i ;
    char const *z = memchr(e, 0, n - i) ;
    if (!z) break ;
    if (namelen(e) == len && !memcmp(e, s, len)) return 1 ;
    i = z - modifs + 1 ;
  }
  return 0 ;
}

size_t envmod_size (char const *const *envp, char const *modifs, size_t n)
{
  size_t k = 0, i = 0 ;
  while (envp[k] && k <= ENVMOD_MAX) k++ ;
  while (i < n && k <= ENVMOD_MAX)
  {
    char const *z = memchr(modifs + i, 0, n - i) ;
    if (!z) break ;
    if (z > modifs + i) k++ ;
    i = z - modifs + 1 ;
  }
  return k > ENVMOD_MAX ? 0 : k + 1 ;
}

ssize_t envmod (char const **v, size_t vmax, char const *const *envp, char const *modifs, size_t n)
{
  size_t m = 0, i = 0 ;
  if (!vmax) goto toobig ;
  for (; envp[i] ; i++)
  {
    size_t l = namelen(envp[i]) ;
    if (l && changed(modifs, 0, n, envp[i], l)) continue ;
    if (m + 1 >= vmax) goto toobig ;
    v[m++] = envp[i] ;
  }
  for (i = 0 ; i < n ; )
  {
    char const *e = modifs + i ;
    char const *z = memchr(e, 0, n - i) ;
    size_t l ;
    if (!z) break ;
    i = z - modifs + 1 ;
    l = namelen(e) ;
    /* a set, and the last change of its name */
    if (!l || !e[l] || changed(modifs, i, n, e, l)) continue ;
    if (m + 1 >= vmax) goto toobig ;
    v[m++] = e ;
  }
  v[m] = 0 ;
  return m ;
 toobig:
  errno = E2BIG ;
  return -1 ;
}
