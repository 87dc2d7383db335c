/* cdbfind.c: cdb_find, with the record's data checked against the mapping. */
#include <errno.h>
#include <stddef.h>
#include <skalibs/cdb.h>
#include "cdbfind.h"

int cdbfind (cdb const *c, cdb_data *d, char const *key, uint32_t keylen)
{
  size_t off ;
  int r = cdb_find(c, d, key, keylen) ;
  if (r < 0) return (errno = EINVAL, -1) ;
  if (!r) return 0 ;
  /* d->s = map + pos + 8 + keylen, the key already checked to fit; the
     comparison takes no sum that could wrap. */
  if (d->s < c->map) return (errno = EINVAL, -1) ;
  off = (size_t)(d->s - c->map) ;
  if (off > c->size || d->len > c->size - off) return (errno = EINVAL, -1) ;
  return 1 ;
}
