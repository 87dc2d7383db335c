/* userspw.c: look a password hash up in users/passwords.cdb. */
#include <errno.h>
#include <string.h>
#include "usersdb.h"
#include "userspw.h"

int userspw_find (char const *name, size_t namelen, stralloc *sa)
{
  size_t len ;
  char const *hash ;
  int r = usersdb_lookup(USERSPW_FILE, name, namelen, sa, &len) ;
  if (r <= 0) return r ;
  hash = sa->s + namelen + 1 ;
  if (!len || hash[len - 1] || memchr(hash, 0, len - 1)) return (errno = EINVAL, -1) ;
  memmove(sa->s, hash, len) ;
  sa->len = len ;
  return 1 ;
}
