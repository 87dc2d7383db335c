/* usersdb.c: look a user up in users/users.cdb. */
#include <errno.h>
#include <string.h>
#include <skalibs/bytestr.h>
#include <skalibs/cdb.h>
#include <skalibs/types.h>
#include "usersdb.h"

int usersdb_parse (char const *data, size_t len, usersdb_entry *e)
{
  char const *f[5] ;
  size_t i = 0, n = 0 ;
  uint32_t u, g ;
  while (n < 5 && i < len)
  {
    char const *z = memchr(data + i, 0, len - i) ;
    if (!z) return 0 ;
    f[n++] = data + i ;
    i = z - data + 1 ;
  }
  if (n != 5 || i != len) return 0 ;
  if (!*f[1] || uint32_scan(f[1], &u) != strlen(f[1])) return 0 ;
  if (!*f[2] || uint32_scan(f[2], &g) != strlen(f[2])) return 0 ;
  if (f[3][0] != '/') return 0 ;
  e->hash = f[0] ; e->uid = u ; e->gid = g ; e->home = f[3] ; e->maildir = f[4] ;
  return 1 ;
}

/* Open file and find the lowercased name (into key): on 1, *c is open
   (the caller frees it) and *d is the record's data. */
static int lookup_open (char const *file, char const *name, size_t namelen, char *key, cdb *c, cdb_data *d)
{
  int r ;
  if (!namelen || namelen > USERSDB_NAME_MAX) return 0 ;
  memcpy(key, name, namelen) ;
  case_lowerb(key, namelen) ;
  if (!cdb_init(c, file)) return -1 ;
  r = cdb_find(c, d, key, namelen) ;
  if (r <= 0) { cdb_free(c) ; if (r < 0) errno = EINVAL ; return r ; }
  return 1 ;
}

int usersdb_lookup (char const *file, char const *name, size_t namelen, stralloc *sa, size_t *datalen)
{
  cdb c = CDB_ZERO ;
  cdb_data d ;
  char key[USERSDB_NAME_MAX] ;
  int r = lookup_open(file, name, namelen, key, &c, &d) ;
  if (r <= 0) return r ;
  sa->len = 0 ;
  if (!stralloc_catb(sa, key, namelen) || !stralloc_0(sa)
   || !stralloc_catb(sa, d.s, d.len)) { cdb_free(&c) ; return -1 ; }
  cdb_free(&c) ;
  *datalen = d.len ;
  return 1 ;
}

int usersdb_lookupb (char const *file, char const *name, size_t namelen, char *buf, size_t max, size_t *datalen)
{
  cdb c = CDB_ZERO ;
  cdb_data d ;
  int r = lookup_open(file, name, namelen, buf, &c, &d) ;
  if (r <= 0) return r ;
  if (namelen + 1 + d.len > max) { cdb_free(&c) ; return (errno = EINVAL, -1) ; }
  buf[namelen] = 0 ;
  memcpy(buf + namelen + 1, d.s, d.len) ;
  cdb_free(&c) ;
  *datalen = d.len ;
  return 1 ;
}

static int entry (char const *rec, size_t namelen, size_t len, usersdb_entry *e)
{
  if (!usersdb_parse(rec + namelen + 1, len, e)) return (errno = EINVAL, -1) ;
  e->name = rec ;
  return 1 ;
}

int usersdb_find (char const *name, size_t namelen, usersdb_entry *e, stralloc *sa)
{
  size_t len ;
  /* A missing database is an error like an unreadable one: an admin
     rebuilding it by hand or a failed copy must defer mail, never turn
     every user into an unknown one. */
  int r = usersdb_lookup(USERSDB_FILE, name, namelen, sa, &len) ;
  return r <= 0 ? r : entry(sa->s, namelen, len, e) ;
}

int usersdb_findb (char const *name, size_t namelen, usersdb_entry *e, char *buf, size_t max)
{
  size_t len ;
  int r = usersdb_lookupb(USERSDB_FILE, name, namelen, buf, max, &len) ;
  return r <= 0 ? r : entry(buf, namelen, len, e) ;
}
