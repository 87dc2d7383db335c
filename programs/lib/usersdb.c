/* usersdb.c: look a user up in users/users.cdb. */
#include <errno.h>
#include <sys/stat.h>
#include <string.h>
#include <skalibs/bytestr.h>
#include <skalibs/cdb.h>
#include <skalibs/types.h>
#include "cdbfind.h"
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

/* The databases stay mapped between lookups: a program that looks up a
   user per delivery (postie-lspawn, postie-send) would otherwise open,
   map, unmap and close the file each time, and fault its pages in again
   (each munmap also flushes the TLB). Each lookup stat()s the path and
   maps the file again when it is not the one mapped (another device,
   inode, size, modification or change time): postie-users replaces it
   by a rename, so the next lookup sees the new database, as before. A
   database gone or unreadable is an error at once, as before. */
typedef struct kept_s kept ;
struct kept_s
{
  char const *file ;
  cdb c ;
  struct stat st ;
} ;
static kept kept_db[2] ;

static int same_file (struct stat const *a, struct stat const *b)
{
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size
   && a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec
   && a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec ;
}

static cdb const *db_get (char const *file)
{
  struct stat st ;
  kept *k = 0 ;
  unsigned int i ;
  for (i = 0 ; i < sizeof(kept_db) / sizeof(kept_db[0]) ; i++)
    if (kept_db[i].file && !strcmp(kept_db[i].file, file)) { k = kept_db + i ; break ; }
  if (!k)
  {
    for (i = 0 ; i < sizeof(kept_db) / sizeof(kept_db[0]) ; i++)
      if (!kept_db[i].file) { k = kept_db + i ; break ; }
    if (!k) { k = kept_db ; cdb_free(&k->c) ; k->c = cdb_zero ; k->file = 0 ; }
  }
  if (stat(file, &st) < 0)
  {
    int e = errno ;
    if (k->file) { cdb_free(&k->c) ; k->c = cdb_zero ; k->file = 0 ; }
    errno = e ;
    return 0 ;
  }
  if (k->file && same_file(&k->st, &st)) return &k->c ;
  if (k->file) { cdb_free(&k->c) ; k->c = cdb_zero ; k->file = 0 ; }
  /* Opened after the stat: the file mapped is the one stat()ed or a
     newer one, whose identity differs from st; then the next lookup maps
     it again (never the other way round: never a stale file kept). */
  if (!cdb_init(&k->c, file)) return 0 ;
  k->file = file ;
  k->st = st ;
  return &k->c ;
}

void usersdb_close (void)
{
  unsigned int i ;
  for (i = 0 ; i < sizeof(kept_db) / sizeof(kept_db[0]) ; i++)
    if (kept_db[i].file) { cdb_free(&kept_db[i].c) ; kept_db[i].c = cdb_zero ; kept_db[i].file = 0 ; }
}

/* Find the lowercased name (into key) in file, kept mapped (db_get): on
   1, *d is the record's data, valid until the next lookup. */
static int lookup_open (char const *file, char const *name, size_t namelen, char *key, cdb_data *d)
{
  cdb const *c ;
  if (!namelen || namelen > USERSDB_NAME_MAX) return 0 ;
  memcpy(key, name, namelen) ;
  case_lowerb(key, namelen) ;
  c = db_get(file) ;
  if (!c) return -1 ;
  /* cdbfind: a record whose data runs past the file is a malformed
     database (EINVAL), never a read past the mapping. */
  return cdbfind(c, d, key, namelen) ;
}

int usersdb_lookup (char const *file, char const *name, size_t namelen, stralloc *sa, size_t *datalen)
{
  cdb_data d ;
  char key[USERSDB_NAME_MAX] ;
  int r = lookup_open(file, name, namelen, key, &d) ;
  if (r <= 0) return r ;
  sa->len = 0 ;
  if (!stralloc_catb(sa, key, namelen) || !stralloc_0(sa)
   || !stralloc_catb(sa, d.s, d.len)) return -1 ;
  *datalen = d.len ;
  return 1 ;
}

int usersdb_lookupb (char const *file, char const *name, size_t namelen, char *buf, size_t max, size_t *datalen)
{
  cdb_data d ;
  int r = lookup_open(file, name, namelen, buf, &d) ;
  if (r <= 0) return r ;
  if (namelen + 1 + d.len > max) return (errno = EINVAL, -1) ;
  buf[namelen] = 0 ;
  memcpy(buf + namelen + 1, d.s, d.len) ;
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
