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
   session wrong but never makes it read or write out of bounds. SELECT
   reads and checks only the header and the records (UID, name offset,
   flags: 9 bytes a message, read straight into the session's array);
   the names block, 95% of the file, has its own checksum and is checked
   by idx_names when a command first needs a name. */

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

#define IDX_MAGIC "postidx2"
#define IDX_ORDER 0x01020304u
#define IDX_HEAD 112
#define IDX_REC 9                 /* a message's record: uid 4, name 4, flags 1 (a packed msg) */
#define IDX_KW 1                  /* header flag: the keywords array is there */
#define IDX_MAX ((size_t)1 << 30) /* the largest index read */
#define STAMP_SLACK 1000000000LL  /* ns: a directory changed more recently may change again unseen */

_Static_assert(sizeof(msg) == IDX_REC, "a record is a msg") ;

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
  size_t n = b->n, i, len, namesize = 0, at, base, kwat = 0 ;
  uint32_t hflags = 0 ;
  uint64_t h ;
  char *buf ;
  int fd ;
  if (n > 0xffffffffu / (IDX_REC + 4)) return (errno = EFBIG, 0) ;
  for (i = 0 ; i < n ; i++)
  {
    namesize += MSG_PRE + strlen(msg_name(b, i)) + 1 ;
    if (msg_kw(b, i)) hflags = IDX_KW ;
  }
  if (namesize > 0xffffffffu) return (errno = EFBIG, 0) ;
  base = IDX_HEAD + n * IDX_REC ;
  if (hflags & IDX_KW) { kwat = base ; base += 4 * n ; }
  len = base + namesize ;
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
  put32(buf + 28, hflags) ;
  for (i = 0 ; i < 8 ; i++) put64(buf + 32 + 8 * i, s->v[i]) ;
  at = base ;
  for (i = 0 ; i < n ; i++)
  {
    char const *nm = msg_name(b, i) ;
    size_t l = strlen(nm) + 1 ;
    char *r = buf + IDX_HEAD + IDX_REC * i ;
    put32(r, b->m[i].uid) ;
    put32(r + 4, (uint32_t)(at + MSG_PRE - base)) ;
    r[8] = (char)b->m[i].flags ;
    if (kwat) put32(buf + kwat + 4 * i, msg_kw(b, i)) ;
    memcpy(buf + at, nm - MSG_PRE, MSG_PRE + l) ;
    at += MSG_PRE + l ;
  }
  h = sum64(buf, IDX_HEAD, SUM_INIT) ;
  h = sum64(buf + IDX_HEAD, n * IDX_REC, h) ;
  if (kwat) h = sum64(buf + kwat, 4 * n, h) ;
  put64(buf + 96, h) ;
  put64(buf + 104, sum64(buf + base, namesize, SUM_INIT)) ;
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) ;
  if (fd < 0) { free(buf) ; return 0 ; }
  if (allwrite(fd, buf, len) < len) { int e = errno ; close(fd) ; unlink(tmp) ; free(buf) ; return (errno = e, 0) ; }
  free(buf) ;
  if (close(fd) < 0 || rename(tmp, fin) < 0) { int e = errno ; unlink(tmp) ; return (errno = e, 0) ; }
  return 1 ;
}

/* Where an index's parts are, from its header (IDX_HEAD bytes) and its
   length: 1 when the header is sound and the parts fill the file
   exactly, 0 otherwise. */
typedef struct layout_s layout ;
struct layout_s { size_t n, namesize, kw, names ; uint32_t next ; } ;

static int idx_layout (char const *h, size_t len, idxstamp const *s, layout *l)
{
  size_t i, per ;
  uint32_t fl ;
  if (len < IDX_HEAD || len > IDX_MAX) return 0 ;
  if (memcmp(h, IDX_MAGIC, 8) || get32(h + 8) != IDX_ORDER) return 0 ;
  l->n = get32(h + 12) ;
  l->namesize = get32(h + 24) ;
  l->next = get32(h + 20) ;
  fl = get32(h + 28) ;
  if (!get32(h + 16) || !l->next || fl & ~(uint32_t)IDX_KW) return 0 ;
  per = IDX_REC + (fl & IDX_KW ? 4 : 0) ;
  if (l->n > (len - IDX_HEAD) / per || len - IDX_HEAD - l->n * per != l->namesize) return 0 ;
  if (l->n && !l->namesize) return 0 ;
  l->kw = fl & IDX_KW ? IDX_HEAD + l->n * IDX_REC : 0 ;
  l->names = IDX_HEAD + l->n * per ;
  for (i = 0 ; i < 8 ; i++) if (get64(h + 32 + 8 * i) != s->v[i]) return 0 ;
  return 1 ;
}

/* The header's checksum: over the header (its two checksums as zero),
   the records and the keywords. */
static uint64_t headsum (char const *h, char const *recs, char const *kw, size_t n)
{
  char z[IDX_HEAD] ;
  uint64_t x ;
  memcpy(z, h, IDX_HEAD) ;
  memset(z + 96, 0, 16) ;
  x = sum64(z, IDX_HEAD, SUM_INIT) ;
  x = sum64(recs, n * IDX_REC, x) ;
  if (kw) x = sum64(kw, 4 * n, x) ;
  return x ;
}

/* The records (and keywords): UIDs increasing below UIDNEXT, flags and
   keywords of known bits, name offsets inside the names block with room
   for the date and size before them. */
static int check_recs (char const *recs, char const *kw, layout const *l)
{
  size_t i ;
  uint32_t prev = 0 ;
  for (i = 0 ; i < l->n ; i++)
  {
    char const *r = recs + IDX_REC * i ;
    uint32_t u = get32(r), off = get32(r + 4) ;
    if (!u || u <= prev || u >= l->next) return 0 ;
    prev = u ;
    if ((unsigned char)r[8] & ~(FL_DRAFT | FL_FLAGGED | FL_ANSWERED | FL_SEEN | FL_DELETED)) return 0 ;
    if (kw && get32(kw + 4 * i) >> KW_N) return 0 ;
    if (off < MSG_PRE || off >= l->namesize) return 0 ;
  }
  return 1 ;
}

/* A name in the names block (which ends with a NUL, checked before):
   cur/ then 1 to 250 bytes, no /, not beginning with a dot. */
static int name_ok (char const *nm)
{
  size_t l = strlen(nm) ;
  return l >= 5 && l <= 4 + 250 && !memcmp(nm, "cur/", 4) && nm[4] != '.' && !memchr(nm + 4, '/', l - 4) ;
}

/* Checks an index of len bytes in buf against the stamps s, all of it
   (what idx_read checks, then what idx_names checks): 1 when it is
   whole, consistent, and built from the very files s describes. */
int idx_check (char const *buf, size_t len, idxstamp const *s)
{
  layout l ;
  size_t i ;
  if (!idx_layout(buf, len, s, &l)) return 0 ;
  if (headsum(buf, buf + IDX_HEAD, l.kw ? buf + l.kw : 0, l.n) != get64(buf + 96)) return 0 ;
  if (!check_recs(buf + IDX_HEAD, l.kw ? buf + l.kw : 0, &l)) return 0 ;
  if (l.namesize && buf[len - 1]) return 0 ;  /* every name ends inside the block */
  if (sum64(buf + l.names, l.namesize, SUM_INIT) != get64(buf + 104)) return 0 ;
  for (i = 0 ; i < l.n ; i++)
    if (!name_ok(buf + l.names + get32(buf + IDX_HEAD + IDX_REC * i + 4))) return 0 ;
  return 1 ;
}

/* The pages of a new array of len bytes made at once, rather than a
   page fault each as pread fills them (100,000 messages: 220 pages). A
   kernel without MADV_POPULATE_WRITE (Linux 5.14) just faults them. */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
static void populate (void *p, size_t len)
{
  uintptr_t a = ((uintptr_t)p + 4095) & ~(uintptr_t)4095, e = ((uintptr_t)p + len) & ~(uintptr_t)4095 ;
  if (e > a + 4096) madvise((void *)a, e - a, MADV_POPULATE_WRITE) ;
}

static int preadall (int fd, char *s, size_t n, size_t off)
{
  while (n)
  {
    ssize_t r = pread(fd, s, n, off) ;
    if (r <= 0) return 0 ;
    s += r ; n -= r ; off += r ;
  }
  return 1 ;
}

/* The names block of b's mapped index, checked when a command first
   needs a name (its checksum, and each message's name): 1 good (or no
   index mapped), 0 damaged (b unchanged: the caller lists the folder). */
int idx_names (box *b)
{
  size_t i ;
  if (!b->map || b->namesok) return 1 ;
  {
    /* one call for the block's pages rather than a fault each */
    uintptr_t a = (uintptr_t)b->mapnames & ~(uintptr_t)4095 ;
    madvise((void *)a, (uintptr_t)b->map + b->maplen - a, MADV_POPULATE_READ) ;
  }
  if (sum64(b->mapnames, b->mapn, SUM_INIT) != b->namesum) return 0 ;
  for (i = 0 ; i < b->n ; i++)
    if (b->m[i].name < b->mapn && !name_ok(b->mapnames + b->m[i].name)) return 0 ;
  b->namesok = 1 ;
  return 1 ;
}

/* b's messages from dir/postie-index when it holds what the files s
   describe. The header, records and keywords are read (pread: the
   records straight into b->m) and checked; the names block is mapped
   (read only, used where it is) and, unless lazy, checked too; when
   lazy it is checked by idx_names before a command first needs a name.
   Returns 1 loaded (b's previous snapshot dropped), 0 not usable
   (absent, stale, damaged: b untouched). */
int idx_read (box *b, idxstamp const *s, int lazy)
{
  char p[600], h[IDX_HEAD] ;
  struct stat st ;
  char *map = 0 ;
  size_t len ;
  layout l ;
  msg *m = 0 ;
  uint32_t *kw = 0 ;
  int fd ;
  if (!idxpath(p, sizeof p, b->dir, "postie-index")) return 0 ;
  fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY) ;
  if (fd < 0) return 0 ;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < IDX_HEAD || (uint64_t)st.st_size > IDX_MAX) goto no ;
  len = st.st_size ;
  if (!preadall(fd, h, IDX_HEAD, 0) || !idx_layout(h, len, s, &l)) goto no ;
  m = malloc(l.n ? l.n * sizeof(msg) : 1) ;
  if (m) populate(m, l.n * sizeof(msg)) ;
  if (!m || !preadall(fd, (char *)m, l.n * IDX_REC, IDX_HEAD)) goto no ;
  if (l.kw && (!(kw = malloc(4 * l.n)) || !preadall(fd, (char *)kw, 4 * l.n, l.kw))) goto no ;
  if (headsum(h, (char *)m, (char *)kw, l.n) != get64(h + 96) || !check_recs((char *)m, (char *)kw, &l)) goto no ;
  if (l.namesize)
  {
    char c ;
    if (!preadall(fd, &c, 1, len - 1) || c) goto no ;  /* every name ends inside the block */
  }
  map = mmap(0, len, PROT_READ, MAP_PRIVATE, fd, 0) ;
  if (map == MAP_FAILED) { map = 0 ; goto no ; }
  close(fd) ; fd = -1 ;
  {
    box t = *b ;
    t.map = map ; t.maplen = len ;
    t.mapnames = map + l.names ; t.mapn = l.namesize ;
    t.namesum = get64(h + 104) ; t.namesok = 0 ;
    t.m = m ; t.n = l.n ;
    if (!lazy && !idx_names(&t)) goto no ;
  }
  box_free(b) ;
  b->map = map ; b->maplen = len ;
  b->mapnames = map + l.names ;
  b->mapn = l.namesize ;
  b->namesum = get64(h + 104) ;
  b->namesok = !lazy ;
  b->uidvalidity = get32(h + 16) ;
  b->uidnext = l.next ;
  b->m = m ; b->n = l.n ; b->cap = l.n ? l.n : 1 ;
  b->kwbits = kw ;
  box_release(b) ;
  return 1 ;
 no:
  if (fd >= 0) close(fd) ;
  if (map) munmap(map, len) ;
  free(m) ; free(kw) ;
  return 0 ;
}
