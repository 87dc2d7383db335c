/* index.c: a folder's index, postie-index (doc/imap-index.md): what
   SELECT needs (UIDVALIDITY, UIDNEXT, and each message's UID, flags,
   keywords, INTERNALDATE, size and file name), with the stamps of what it was
   built from: the mtimes of new/ and cur/ and the identity of
   postie-uids. It is a cache. box_sync uses it only when the three
   stamps are still those of the files, and otherwise lists the folder as
   it always did and writes it again. It is written under the folder's
   lock (write, rename; no fsync: a file a crash left half-written fails
   its size or checksum test and is rebuilt), and read as hostile input:
   the user may write anything into it, which may make the user's own
   session wrong but never makes it read or write out of bounds. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>  /* rename */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/stralloc.h>
#include "imapd.h"

#define IDX_MAGIC "postidx1"
#define IDX_ORDER 0x01020304u
#define IDX_HEAD 104
#define IDX_PER 13                /* bytes a message: uid 4, name 4, kw 4, flags 1 */
#define IDX_MAX ((size_t)1 << 30) /* the largest index read */
#define STAMP_SLACK 1000000000LL  /* ns: a directory changed more recently may change again unseen */

static void put32 (char *s, uint32_t u) { memcpy(s, &u, 4) ; }
static void put64 (char *s, uint64_t u) { memcpy(s, &u, 8) ; }
static uint32_t get32 (char const *s) { uint32_t u ; memcpy(&u, s, 4) ; return u ; }
static uint64_t get64 (char const *s) { uint64_t u ; memcpy(&u, s, 8) ; return u ; }

/* The checksum: FNV-1a's step on 64-bit words (native order) rather
   than bytes, each followed by h ^= h >> 32, then on the bytes left
   over; a stream split at multiples of 8 sums as it would whole. Eight
   times faster than FNV-1a (100,000 messages: a 6 MB index). */
static uint64_t sum64 (char const *s, size_t n, uint64_t h)
{
  for (; n >= 8 ; s += 8, n -= 8)
  {
    uint64_t w ;
    memcpy(&w, s, 8) ;
    h = (h ^ w) * 0x100000001b3ULL ;
    h ^= h >> 32 ;
  }
  for (; n ; s++, n--) { h ^= (unsigned char)*s ; h *= 0x100000001b3ULL ; }
  return h ;
}
#define SUM_INIT 0xcbf29ce484222325ULL

static int statin (char const *dir, char const *name, struct stat *st)
{
  char p[600] ;
  size_t l = strlen(dir), k = strlen(name) ;
  if (l + k + 2 > sizeof p) return (errno = ENAMETOOLONG, 0) ;
  memcpy(p, dir, l) ; p[l] = '/' ; memcpy(p + l + 1, name, k + 1) ;
  return stat(p, st) == 0 ;
}

/* The stamps of new/ and cur/ into s->v[0..3]. Returns 1 when they can
   be trusted to move on any later change: neither changed within the
   last second (a change in the same clock tick as the last one would
   leave the mtime as it is: a tick is a few milliseconds on Linux's
   local file systems, a whole second on some others), nor in the
   future; 0 otherwise (or on a stat error). Taken before the
   directories are listed. */
static int old_enough (struct timespec const *t, struct timespec const *now)
{
  int64_t d = ((int64_t)now->tv_sec - (int64_t)t->tv_sec) * 1000000000LL + ((int64_t)now->tv_nsec - (int64_t)t->tv_nsec) ;
  return d >= STAMP_SLACK ;
}

int idx_stampdirs (char const *dir, idxstamp *s)
{
  struct stat stn, stc ;
  struct timespec now ;
  memset(s->v, 0, 4 * sizeof(uint64_t)) ;
  clock_gettime(CLOCK_REALTIME, &now) ;
  if (!statin(dir, "new", &stn) || !statin(dir, "cur", &stc)) return 0 ;
  s->v[0] = (uint64_t)stn.st_mtim.tv_sec ; s->v[1] = (uint64_t)stn.st_mtim.tv_nsec ;
  s->v[2] = (uint64_t)stc.st_mtim.tv_sec ; s->v[3] = (uint64_t)stc.st_mtim.tv_nsec ;
  return old_enough(&stn.st_mtim, &now) && old_enough(&stc.st_mtim, &now) ;
}

/* The stamp of postie-uids (mtime, inode, size) into s->v[4..7]. Taken
   under the lock, after postie-uids was written. Returns 1, 0 (absent,
   or a stat error). */
int idx_stampuids (char const *dir, idxstamp *s)
{
  struct stat st ;
  memset(s->v + 4, 0, 4 * sizeof(uint64_t)) ;
  if (!statin(dir, "postie-uids", &st)) return 0 ;
  s->v[4] = (uint64_t)st.st_mtim.tv_sec ; s->v[5] = (uint64_t)st.st_mtim.tv_nsec ;
  s->v[6] = (uint64_t)st.st_ino ; s->v[7] = (uint64_t)st.st_size ;
  return 1 ;
}

static int idxpath (char *p, size_t max, char const *dir, char const *name)
{
  size_t l = strlen(dir), k = strlen(name) ;
  if (l + k + 2 > max) return 0 ;
  memcpy(p, dir, l) ; p[l] = '/' ; memcpy(p + l + 1, name, k + 1) ;
  return 1 ;
}

/* Writes b's messages, with the stamps s, as dir/postie-index. Called
   under the folder's lock. Returns 1, 0 (errno). */
int idx_write (box const *b, idxstamp const *s)
{
  char tmp[600], fin[600] ;
  size_t n = b->n, i, len, namesize = 0, at, base ;
  char *buf ;
  int fd ;
  if (n > 0xffffffffu / IDX_PER) return (errno = EFBIG, 0) ;
  for (i = 0 ; i < n ; i++) namesize += MSG_PRE + strlen(msg_name(b, i)) + 1 ;
  if (namesize > 0xffffffffu) return (errno = EFBIG, 0) ;
  len = IDX_HEAD + n * IDX_PER + namesize ;
  if (len > IDX_MAX) return (errno = EFBIG, 0) ;
  if (!idxpath(tmp, sizeof tmp, b->dir, "postie-index.tmp") || !idxpath(fin, sizeof fin, b->dir, "postie-index")) return (errno = ENAMETOOLONG, 0) ;
  buf = malloc(len) ;
  if (!buf) return 0 ;
  memset(buf, 0, IDX_HEAD) ;
  memcpy(buf, IDX_MAGIC, 8) ;
  put32(buf + 8, IDX_ORDER) ;
  put32(buf + 12, (uint32_t)n) ;
  put32(buf + 16, b->uidvalidity) ;
  put32(buf + 20, b->uidnext) ;
  put32(buf + 24, (uint32_t)namesize) ;
  for (i = 0 ; i < 8 ; i++) put64(buf + 32 + 8 * i, s->v[i]) ;
  base = IDX_HEAD + n * IDX_PER ;
  at = base ;
  for (i = 0 ; i < n ; i++)
  {
    char const *nm = msg_name(b, i) ;
    size_t l = strlen(nm) + 1 ;
    put32(buf + IDX_HEAD + 4 * i, b->m[i].uid) ;
    put32(buf + IDX_HEAD + n * 4 + 4 * i, (uint32_t)(at + MSG_PRE - base)) ;
    put32(buf + IDX_HEAD + n * 8 + 4 * i, msg_kw(b, i)) ;
    buf[IDX_HEAD + n * 12 + i] = (char)b->m[i].flags ;
    memcpy(buf + at, nm - MSG_PRE, MSG_PRE + l) ;
    at += MSG_PRE + l ;
  }
  put64(buf + 96, sum64(buf, len, SUM_INIT)) ;
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) ;
  if (fd < 0) { free(buf) ; return 0 ; }
  if (allwrite(fd, buf, len) < len) { int e = errno ; close(fd) ; unlink(tmp) ; free(buf) ; return (errno = e, 0) ; }
  free(buf) ;
  if (close(fd) < 0 || rename(tmp, fin) < 0) { int e = errno ; unlink(tmp) ; return (errno = e, 0) ; }
  return 1 ;
}

/* Checks an index of len bytes in buf against the stamps s: 1 when it
   is whole, consistent, and built from the very files s describes. */
int idx_check (char const *buf, size_t len, idxstamp const *s)
{
  size_t n, namesize, i, names ;
  uint32_t next, prev = 0 ;
  char zero[8] ;
  uint64_t h ;
  if (len < IDX_HEAD || len > IDX_MAX) return 0 ;
  if (memcmp(buf, IDX_MAGIC, 8) || get32(buf + 8) != IDX_ORDER) return 0 ;
  n = get32(buf + 12) ;
  namesize = get32(buf + 24) ;
  next = get32(buf + 20) ;
  if (!get32(buf + 16) || !next) return 0 ;
  if (n > (len - IDX_HEAD) / IDX_PER || len - IDX_HEAD - n * IDX_PER != namesize) return 0 ;
  if (n && !namesize) return 0 ;
  for (i = 0 ; i < 8 ; i++) if (get64(buf + 32 + 8 * i) != s->v[i]) return 0 ;
  memset(zero, 0, 8) ;
  h = sum64(buf, 96, SUM_INIT) ;
  h = sum64(zero, 8, h) ;
  h = sum64(buf + IDX_HEAD, len - IDX_HEAD, h) ;
  if (h != get64(buf + 96)) return 0 ;
  names = IDX_HEAD + n * IDX_PER ;
  if (namesize && buf[len - 1]) return 0 ;  /* every name ends inside the block */
  for (i = 0 ; i < n ; i++)
  {
    uint32_t u = get32(buf + IDX_HEAD + 4 * i) ;
    uint32_t off = get32(buf + IDX_HEAD + n * 4 + 4 * i) ;
    unsigned char fl = (unsigned char)buf[IDX_HEAD + n * 12 + i] ;
    char const *nm ;
    size_t l ;
    if (!u || u <= prev || u >= next) return 0 ;
    prev = u ;
    if (fl & ~(FL_DRAFT | FL_FLAGGED | FL_ANSWERED | FL_SEEN | FL_DELETED)) return 0 ;
    if (get32(buf + IDX_HEAD + n * 8 + 4 * i) >> KW_N) return 0 ;
    if (off < MSG_PRE || off >= namesize) return 0 ;
    nm = buf + names + off ;
    l = strlen(nm) ;  /* bounded: the block ends with a NUL */
    if (l < 5 || l > 4 + 250 || memcmp(nm, "cur/", 4) || nm[4] == '.' || memchr(nm + 4, '/', l - 4)) return 0 ;
  }
  return 1 ;
}

/* b's messages from dir/postie-index when it holds what the files s
   describe: the file is mapped (read only, its names block used where
   it is), the UIDs, flags and name offsets copied into b->m. Returns 1
   loaded (b's previous snapshot dropped), 0 not usable (absent, stale,
   damaged: b untouched). */
int idx_read (box *b, idxstamp const *s)
{
  char p[600] ;
  struct stat st ;
  char *map ;
  size_t len, n, i ;
  msg *m ;
  uint32_t *kw = 0 ;
  int fd ;
  if (!idxpath(p, sizeof p, b->dir, "postie-index")) return 0 ;
  fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY) ;
  if (fd < 0) return 0 ;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < IDX_HEAD || (uint64_t)st.st_size > IDX_MAX) { close(fd) ; return 0 ; }
  len = st.st_size ;
  /* MAP_POPULATE: every page is read below; one call maps them all
     (a page fault each costs more than the reading here) */
  map = mmap(0, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0) ;
  close(fd) ;
  if (map == MAP_FAILED) return 0 ;
  if (!idx_check(map, len, s)) { munmap(map, len) ; return 0 ; }
  n = get32(map + 12) ;
  m = malloc((n ? n : 1) * sizeof(msg)) ;
  if (!m) { munmap(map, len) ; return 0 ; }
  for (i = 0 ; i < n ; i++)
  {
    uint32_t k = get32(map + IDX_HEAD + n * 8 + 4 * i) ;
    m[i].uid = get32(map + IDX_HEAD + 4 * i) ;
    m[i].name = get32(map + IDX_HEAD + n * 4 + 4 * i) ;
    m[i].flags = (unsigned char)map[IDX_HEAD + n * 12 + i] ;
    if (k && !kw)
    {
      kw = calloc(n, sizeof(uint32_t)) ;
      if (!kw) { free(m) ; munmap(map, len) ; return 0 ; }
    }
    if (kw) kw[i] = k ;
  }
  box_free(b) ;
  b->map = map ; b->maplen = len ;
  b->mapnames = map + IDX_HEAD + n * IDX_PER ;
  b->mapn = get32(map + 24) ;
  b->uidvalidity = get32(map + 16) ;
  b->uidnext = get32(map + 20) ;
  b->m = m ; b->n = n ; b->cap = n ? n : 1 ;
  b->kwbits = kw ;
  box_release(b) ;
  return 1 ;
}
