/* userspw.c: look a password hash up in users/passwords.cdb. */
#include <errno.h>
#include <string.h>
#include <skalibs/bytestr.h>
#include <skalibs/cdb.h>
#include "usersdb.h"
#include "userspw.h"

int userspw_find (char const *name, size_t namelen, stralloc *sa)
{
  cdb c = CDB_ZERO ;
  cdb_data d ;
  char key[USERSDB_NAME_MAX] ;
  int r ;
  if (!namelen || namelen > USERSDB_NAME_MAX) return 0 ;
  memcpy(key, name, namelen) ;
  case_lowerb(key, namelen) ;
  if (!cdb_init(&c, USERSPW_FILE)) return -1 ;
  r = cdb_find(&c, &d, key, namelen) ;
  if (r <= 0) { cdb_free(&c) ; if (r < 0) errno = EINVAL ; return r ; }
  if (!d.len || d.s[d.len - 1] || memchr(d.s, 0, d.len - 1)) { cdb_free(&c) ; return (errno = EINVAL, -1) ; }
  sa->len = 0 ;
  if (!stralloc_catb(sa, d.s, d.len)) { cdb_free(&c) ; return -1 ; }
  cdb_free(&c) ;
  return 1 ;
}
