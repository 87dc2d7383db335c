/* hcache.c: the folder's header cache, postie-hcache (doc/imap-hcache.md):
   the header of each message as stored, by UID, so that FETCH of header
   items and SEARCH of header fields need not open the messages again.
   A cache only: every entry is checked against the message file it
   stands for when it is used (the UID and the file name's unique part,
   then an lstat: the same inode, size and modification time to the
   nanosecond as when the header was read) and by its checksum when the
   file is read; anything that does not fit is read from the message
   instead. The file is mapped for one command at a time (nothing stays in
   the idle session's memory), appended to when the new headers come after
   the last one in it, else rewritten (a temporary file, then rename: a
   reader sees the old file or the new one). No fsync: a file a crash
   garbled fails its checksums and is rebuilt. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>  /* rename */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/stralloc.h>
#include <skalibs/types.h>
#include "imapd.h"

#define MAGIC "postie-hcache 1 "
#define MAGIC_LEN (sizeof MAGIC - 1)
#define HEAD_MAX (MAGIC_LEN + 21)

unsigned long hcache_max = 33554432 ;  /* control/imapheadercache */

typedef struct ent_s ent ;
struct ent_s
{
  uint32_t uid ;
  uint64_t size, ino, mtime ;  /* the file's, when it was read */
  size_t name, namelen ;  /* in the mapped file, or in fresh */
  size_t hdr, hdrlen ;
  int fresh ;             /* read in this command (in fresh), not from the file */
} ;

static char const *map = 0 ;      /* the file, mapped for this command */
static size_t maplen = 0 ;
static int tried = 0 ;            /* looked for the file in this command */
static int clean = 0 ;            /* the file parsed to its end */
static int quiet = 0 ;            /* cur/ unchanged since the file's stamp */
static size_t checked = 0 ;       /* entries an lstat found fitting in this command */
static uint64_t curtime = 0 ;     /* cur/'s last change, as load saw it */
static uint32_t lastuid = 0 ;     /* the last UID in it */
static ent *ents = 0 ;            /* its entries, in UID order */
static size_t nents = 0, capents = 0 ;
static stralloc fresh = STRALLOC_ZERO ;  /* headers read in this command */
static int dirfd = -2 ;           /* the folder, for fstatat; -2 not open yet */
static ent *fents = 0 ;
static size_t nfents = 0, capfents = 0 ;

/* The checksum: FNV-1a's constants over 8-byte little-endian words, then
   the last bytes one by one; over a, then over b. Fast (the whole file is
   checked at every command that uses it), and enough to catch a garbled
   or cut file; not a defence against forgery (the file is the user's). */
static uint64_t sum_add (uint64_t h, char const *s, size_t n)
{
  size_t k = 0 ;
  for (; k + 8 <= n ; k += 8)
  {
    unsigned char const *u = (unsigned char const *)s + k ;
    uint64_t w = (uint64_t)u[0] | (uint64_t)u[1] << 8 | (uint64_t)u[2] << 16 | (uint64_t)u[3] << 24
               | (uint64_t)u[4] << 32 | (uint64_t)u[5] << 40 | (uint64_t)u[6] << 48 | (uint64_t)u[7] << 56 ;
    h = (h ^ w) * 1099511628211u ;
  }
  for (; k < n ; k++) h = (h ^ (unsigned char)s[k]) * 1099511628211u ;
  return h ;
}

static uint64_t sum64 (char const *a, size_t an, char const *b, size_t bn)
{
  return sum_add(sum_add(14695981039346656037u, a, an), b, bn) ;
}

static int ent_add (ent **v, size_t *n, size_t *cap, ent const *e)
{
  if (*n == *cap)
  {
    size_t nc = *cap ? *cap * 2 : 256 ;
    ent *nv = realloc(*v, nc * sizeof(ent)) ;
    if (!nv) return 0 ;
    *v = nv ; *cap = nc ;
  }
  (*v)[(*n)++] = *e ;
  return 1 ;
}

static int path_in (box const *b, char const *file, char *p, size_t max)
{
  size_t dl = strlen(b->dir), fl = strlen(file) ;
  if (dl + 1 + fl + 1 > max) return 0 ;
  memcpy(p, b->dir, dl) ; p[dl] = '/' ; memcpy(p + dl + 1, file, fl + 1) ;
  return 1 ;
}

/* a file's modification time, to the nanosecond, as one number */
static uint64_t mtime_of (struct stat const *st)
{
  return (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec ;
}

/* a decimal number ending in c at *pos */
static int num (char const *s, size_t n, size_t *pos, char c, uint64_t *u)
{
  size_t k = *pos ;
  uint64_t v = 0 ;
  while (k < n && s[k] >= '0' && s[k] <= '9')
  {
    unsigned int d = s[k++] - '0' ;
    if (v > (UINT64_MAX - d) / 10) return 0 ;
    v = v * 10 + d ;
  }
  if (k == *pos || k >= n || s[k] != c) return 0 ;  /* never past the end of the mapping */
  *u = v ;
  *pos = k + 1 ;
  return 1 ;
}

/* Maps and reads the file: "postie-hcache 1 STAMP\n", then entries
   "UID SIZE INODE MTIME SUM NAMELEN HDRLEN\n" NAME HEADER "\n" in
   increasing UID order. Reading stops at the first entry that does not parse or whose
   checksum is wrong (clean stays 0: the next write rewrites the file). */
static void load (box const *b)
{
  char p[PATH_MAX] ;
  struct stat st ;
  size_t pos ;
  int fd ;
  tried = 1 ; clean = 0 ; quiet = 0 ; curtime = 0 ; lastuid = 0 ; nents = 0 ;
  if (!path_in(b, "postie-hcache", p, sizeof p)) return ;
  fd = open(p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY) ;
  if (fd < 0) return ;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < (off_t)MAGIC_LEN || (uint64_t)st.st_size > hcache_max + 1048576) { close(fd) ; return ; }
  map = mmap(0, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0) ;
  close(fd) ;
  if (map == MAP_FAILED) { map = 0 ; return ; }
  maplen = st.st_size ;
  if (memcmp(map, MAGIC, MAGIC_LEN)) return ;
  if (capents < b->n + 1)
  {
    ent *nv = realloc(ents, (b->n + 1) * sizeof(ent)) ;  /* one entry a message, at most, usually */
    if (nv) { ents = nv ; capents = b->n + 1 ; }
  }
  pos = MAGIC_LEN ;
  {
    /* The stamp: when the writer began checking the entries it kept. A
       message file replaced by a rename since then changed cur/: until
       cur/ changes, the names and sizes the session saw suffice; after,
       each entry is checked with an lstat. 1 s of margin: file times
       come from a coarser clock than the stamp. */
    uint64_t stamp ;
    struct stat cst ;
    if (!num(map, maplen, &pos, '\n', &stamp)) return ;
    if (path_in(b, "cur", p, sizeof p) && stat(p, &cst) == 0)
    {
      uint64_t c = mtime_of(&cst), ct = (uint64_t)cst.st_ctim.tv_sec * 1000000000u + (uint64_t)cst.st_ctim.tv_nsec ;
      if (ct > c) c = ct ;
      curtime = c ;
      quiet = c + 1000000000u < stamp ;
    }
  }
  while (pos < maplen)
  {
    uint64_t uid, size, ino, mtime, sum, nl, hl ;
    ent e ;
    if (!num(map, maplen, &pos, ' ', &uid) || !num(map, maplen, &pos, ' ', &size) || !num(map, maplen, &pos, ' ', &ino)
     || !num(map, maplen, &pos, ' ', &mtime) || !num(map, maplen, &pos, ' ', &sum)
     || !num(map, maplen, &pos, ' ', &nl) || !num(map, maplen, &pos, '\n', &hl)) return ;
    /* nl <= 255 first, so maplen - pos - nl - 1 is computed only when
       it cannot wrap, and hl is never added to anything */
    if (!uid || uid > 0xffffffffu || uid <= lastuid || !nl || nl > 255 || hl > size
     || maplen - pos < nl + 1 || hl > maplen - pos - nl - 1) return ;
    if (map[pos + nl + hl] != '\n' || sum64(map + pos, nl, map + pos + nl, hl) != sum) return ;
    e.uid = uid ; e.size = size ; e.ino = ino ; e.mtime = mtime ; e.name = pos ; e.namelen = nl ; e.hdr = pos + nl ; e.hdrlen = hl ; e.fresh = 0 ;
    if (!ent_add(&ents, &nents, &capents, &e)) return ;
    lastuid = uid ;
    pos += nl + hl + 1 ;
  }
  clean = 1 ;
}

/* the unique part of message i's file name */
static char const *uniq (box const *b, size_t i, size_t *n)
{
  char const *nm = msg_name(b, i) ;
  size_t k = 0 ;
  if (!strncmp(nm, "cur/", 4) || !strncmp(nm, "new/", 4)) nm += 4 ;
  while (nm[k] && nm[k] != ':') k++ ;
  *n = k ;
  return nm ;
}

/* The header of message i of b as the cache has it, when its entry fits
   the message. Returns 2 (the header is the whole file), 1 (found), or 0. */
int hcache_get (box *b, size_t i, char const **s, size_t *n)
{
  struct stat st ;
  size_t lo = 0, hi, un ;
  char const *u ;
  uint32_t uid = b->m[i].uid ;
  if (!hcache_max) return 0 ;
  if (!tried) load(b) ;
  hi = nents ;
  while (lo < hi)
  {
    size_t mid = lo + (hi - lo) / 2 ;
    if (ents[mid].uid < uid) lo = mid + 1 ; else hi = mid ;
  }
  if (lo >= nents || ents[lo].uid != uid) return 0 ;
  u = uniq(b, i, &un) ;
  if (un != ents[lo].namelen || memcmp(u, map + ents[lo].name, un)) return 0 ;
  if (quiet && ents[lo].size == msg_fsize(b, i)) goto found ;
  /* the file as it is now, not as SELECT saw it */
  if (dirfd == -2) dirfd = open(b->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  if (dirfd < 0 || fstatat(dirfd, msg_name(b, i), &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)
   || (uint64_t)st.st_size != ents[lo].size || (uint64_t)st.st_ino != ents[lo].ino || mtime_of(&st) != ents[lo].mtime) return 0 ;
  checked++ ;
 found:
  *s = map + ents[lo].hdr ; *n = ents[lo].hdrlen ;
  return ents[lo].hdrlen == ents[lo].size ? 2 : 1 ;
}

/* Remembers the header s[0, n) just read from message i (st: its file's
   fstat), to be written at the end of the command. */
void hcache_put (box *b, size_t i, char const *s, size_t n, struct stat const *st)
{
  ent e ;
  size_t un ;
  char const *u = uniq(b, i, &un), *x ;
  size_t xn ;
  if (!hcache_max || !un || un > 255 || n > HCACHE_ENTRY_MAX) return ;
  if (hcache_get(b, i, &x, &xn)) return ;  /* the cache has it already */
  if (nfents && fents[nfents-1].uid >= b->m[i].uid) return ;  /* in UID order only */
  e.uid = b->m[i].uid ; e.size = st->st_size ; e.ino = st->st_ino ; e.mtime = mtime_of(st) ; e.fresh = 1 ;
  e.name = fresh.len ; e.namelen = un ;
  if (!stralloc_catb(&fresh, u, un)) return ;
  e.hdr = fresh.len ; e.hdrlen = n ;
  if (!stralloc_catb(&fresh, s, n) || !ent_add(&fents, &nfents, &capfents, &e)) { fresh.len = e.name ; return ; }
}

static int put_ent (stralloc *sa, ent const *e, char const *base)
{
  char fmt[UINT64_FMT] ;
  uint64_t sum = sum64(base + e->name, e->namelen, base + e->hdr, e->hdrlen) ;
  return stralloc_catb(sa, fmt, uint32_fmt(fmt, e->uid)) && stralloc_catb(sa, " ", 1)
   && stralloc_catb(sa, fmt, uint64_fmt(fmt, e->size)) && stralloc_catb(sa, " ", 1)
   && stralloc_catb(sa, fmt, uint64_fmt(fmt, e->ino)) && stralloc_catb(sa, " ", 1)
   && stralloc_catb(sa, fmt, uint64_fmt(fmt, e->mtime)) && stralloc_catb(sa, " ", 1)
   && stralloc_catb(sa, fmt, uint64_fmt(fmt, sum)) && stralloc_catb(sa, " ", 1)
   && stralloc_catb(sa, fmt, uint64_fmt(fmt, e->namelen)) && stralloc_catb(sa, " ", 1)
   && stralloc_catb(sa, fmt, uint64_fmt(fmt, e->hdrlen)) && stralloc_catb(sa, "\n", 1)
   && stralloc_catb(sa, base + e->name, e->namelen) && stralloc_catb(sa, base + e->hdr, e->hdrlen)
   && stralloc_catb(sa, "\n", 1) ;
}

static size_t ent_bytes (ent const *e)
{
  return e->namelen + e->hdrlen + 110 ;
}

/* Is entry e (from the file) still the message with its UID in b? */
static int still (box const *b, ent const *e, size_t *j)
{
  size_t un ;
  char const *u ;
  while (*j < b->n && b->m[*j].uid < e->uid) (*j)++ ;
  if (*j >= b->n || b->m[*j].uid != e->uid || msg_fsize(b, *j) != e->size) return 0 ;
  u = uniq(b, *j, &un) ;
  return un == e->namelen && !memcmp(u, map + e->name, un) ;
}

/* The new file: the entries of the old one that still fit a message of
   the folder, and the fresh ones, in UID order; the newest within
   hcache_max bytes. */
static void rewrite (box const *b, int force)
{
  char p[PATH_MAX], t[PATH_MAX] ;
  char pid[UINT64_FMT + 20] ;
  stralloc sa = STRALLOC_ZERO ;
  ent *all = 0 ;
  size_t nall = 0, capall = 0, x = 0, y = 0, j = 0, total = HEAD_MAX, first ;
  int changed = !clean || force ;
  int fd ;
  struct timespec now ;
  char fmt[UINT64_FMT] ;
  clock_gettime(CLOCK_REALTIME, &now) ;  /* before any entry is checked */
  /* merge: both lists are in UID order; a fresh entry wins */
  while (x < nents || y < nfents)
  {
    ent e ;
    if (y < nfents && (x >= nents || fents[y].uid <= ents[x].uid))
    {
      if (x < nents && ents[x].uid == fents[y].uid) x++ ;
      e = fents[y++] ;
    }
    else
    {
      e = ents[x++] ;
      if (!still(b, &e, &j)) { changed = 1 ; continue ; }
      quiet = 0 ;  /* an entry kept is checked against its file */
      {
        char const *dummy ;
        size_t dn ;
        if (!hcache_get((box *)b, j, &dummy, &dn)) { changed = 1 ; continue ; }
      }
    }
    if (!ent_add(&all, &nall, &capall, &e)) goto end ;
    total += ent_bytes(&e) ;
  }
  for (first = 0 ; first < nall && total > hcache_max ; first++) total -= ent_bytes(&all[first]) ;
  if (first) changed = 1 ;
  for (x = first ; x < nall && !changed ; x++) if (all[x].fresh) changed = 1 ;
  /* a folder past the bound: headers read again that would be dropped
     again change nothing */
  if (!changed) goto end ;
  if (!stralloc_ready(&sa, total) || !stralloc_cats(&sa, MAGIC)
   || !stralloc_catb(&sa, fmt, uint64_fmt(fmt, (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec)) || !stralloc_catb(&sa, "\n", 1)) goto end ;
  for (x = first ; x < nall ; x++)
    if (!put_ent(&sa, &all[x], all[x].fresh ? fresh.s : map)) goto end ;
  {
    size_t k = 0 ;
    memcpy(pid, "postie-hcache.tmp.", 18) ; k = 18 ;
    k += uint64_fmt(pid + k, (uint64_t)getpid()) ; pid[k] = 0 ;
  }
  if (!path_in(b, "postie-hcache", p, sizeof p) || !path_in(b, pid, t, sizeof t)) goto end ;
  fd = open(t, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600) ;
  if (fd < 0) goto end ;
  if (allwrite(fd, sa.s, sa.len) < sa.len) { close(fd) ; unlink(t) ; goto end ; }
  close(fd) ;
  if (rename(t, p) < 0) unlink(t) ;
 end:
  free(all) ;
  stralloc_free(&sa) ;
}

/* New entries after the file's last: one write at its end (O_APPEND). */
static void append (box const *b)
{
  char p[PATH_MAX] ;
  stralloc sa = STRALLOC_ZERO ;
  size_t y ;
  int fd ;
  for (y = 0 ; y < nfents ; y++) if (!put_ent(&sa, &fents[y], fresh.s)) goto end ;
  if (!path_in(b, "postie-hcache", p, sizeof p)) goto end ;
  fd = open(p, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK) ;
  if (fd < 0) goto end ;
  allwrite(fd, sa.s, sa.len) ;  /* a short write is a bad entry: rewritten later */
  close(fd) ;
 end:
  stralloc_free(&sa) ;
}

/* The end of a command: writes what it read anew, unmaps the file. */
void hcache_done (box *b)
{
  if (nfents)
  {
    if (!tried) load(b) ;
    if (clean && map && fents[0].uid > lastuid && maplen + fresh.len + nfents * 110 <= hcache_max) append(b) ;
    else rewrite(b, 0) ;
  }
  /* every entry was checked by lstat (cur/ changed since the stamp, by a
     change of flags, a delivery...): a new stamp spares the next
     commands those checks (rewrite checks them again after taking it) */
  else if (map && clean && !quiet && nents && checked >= nents)
  {
    struct timespec now ;
    clock_gettime(CLOCK_REALTIME, &now) ;
    if (curtime && curtime + 1000000000u < (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec) rewrite(b, 1) ;
  }
  if (dirfd >= 0) close(dirfd) ;
  dirfd = -2 ;
  if (map) munmap((void *)map, maplen) ;
  map = 0 ; maplen = 0 ; tried = 0 ; clean = 0 ; quiet = 0 ; checked = 0 ; curtime = 0 ; lastuid = 0 ; nents = 0 ;
  nfents = 0 ; fresh.len = 0 ;
  if (capents > 4096) { free(ents) ; ents = 0 ; capents = 0 ; }
  if (capfents > 4096) { free(fents) ; fents = 0 ; capfents = 0 ; }
  if (fresh.a > 1048576) stralloc_free(&fresh) ;
}
