/* userspw.c: look a password hash up in users/passwords.cdb. */
#include <errno.h>
#include <string.h>
#include "usersdb.h"
#include "userspw.h"

int userspw_find (char const *name, size_t namelen, char *buf, size_t max)
{
  size_t len ;
  char const *h = buf + namelen + 1 ;
  int r = usersdb_lookupb(USERSPW_FILE, name, namelen, buf, max, &len) ;
  if (r <= 0) return r ;
  if (!len || h[len - 1] || memchr(h, 0, len - 1)) return (errno = EINVAL, -1) ;
  memmove(buf, h, len) ;
  return 1 ;
}
