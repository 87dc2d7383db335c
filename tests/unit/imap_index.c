/* Unit test: postie-imapd's folder index (index.c, doc/imap-index.md).
   A box written with idx_write reads back the same with idx_read (UIDs,
   flags, keywords, names, INTERNALDATEs, UIDVALIDITY, UIDNEXT); an index
   whose stamps are not the files' is refused; then a deterministic fuzz
   run (fixed seed) of damaged indexes (bytes changed, cut short or
   lengthened, header fields set to extremes), half of them with their
   checksums made right again so that the checks behind them are
   reached: whatever idx_check accepts, idx_read maps and every name and
   date it gives is read whole (under SAN, a memory-safety check); read
   as SELECT reads it (names unchecked), every name is still bounded and
   idx_names then accepts exactly what idx_check accepts. A names block
   damaged behind a good header is read by SELECT and refused by
   idx_names. */
/* links: postie-imapd */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <skalibs/stralloc.h>
#include "imapd.h"

unsigned long maxmessage = 40000000 ;  /* main.c's, which is not linked */

static int failed = 0 ;
static uint64_t seed = 0x2545f4914f6cdd1dULL ;
static uint64_t rnd (void) { seed ^= seed << 13 ; seed ^= seed >> 7 ; seed ^= seed << 17 ; return seed ; }

#define CHECK(c, what) do { if (!(c)) { fprintf(stderr, "FAIL %s (line %d)\n", what, __LINE__) ; failed++ ; } } while (0)

/* doc/imap-index.md's checksum, written again from the page */
static uint64_t fnv (char const *s, size_t n, uint64_t h)
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

/* both checksums made right again (doc/imap-index.md's layout; nothing
   when the header does not say where the parts are) */
static void resum (char *buf, size_t len)
{
  uint64_t h ;
  uint32_t n, fl ;
  size_t kw, names ;
  char z[16] = { 0 } ;
  if (len < 112) return ;
  memcpy(&n, buf + 12, 4) ; memcpy(&fl, buf + 28, 4) ;
  kw = fl & 1 ? 4 * (size_t)n : 0 ;
  names = 112 + 9 * (size_t)n + kw ;
  if (names > len) return ;
  h = fnv(buf, 96, 0xcbf29ce484222325ULL) ;
  h = fnv(z, 16, h) ;
  h = fnv(buf + 112, 9 * (size_t)n, h) ;
  if (kw) h = fnv(buf + 112 + 9 * (size_t)n, kw, h) ;
  memcpy(buf + 96, &h, 8) ;
  h = fnv(buf + names, len - names, 0xcbf29ce484222325ULL) ;
  memcpy(buf + 104, &h, 8) ;
}

static int slurpfile (char const *p, stralloc *sa)
{
  char b[65536] ;
  int fd = open(p, O_RDONLY) ;
  ssize_t r ;
  sa->len = 0 ;
  if (fd < 0) return 0 ;
  while ((r = read(fd, b, sizeof b)) > 0) if (!stralloc_catb(sa, b, r)) { close(fd) ; return 0 ; }
  close(fd) ;
  return r == 0 ;
}

static int spit (char const *p, char const *s, size_t n)
{
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600) ;
  int ok ;
  if (fd < 0) return 0 ;
  ok = write(fd, s, n) == (ssize_t)n ;
  close(fd) ;
  return ok ;
}

/* every name of an index idx_read accepted but idx_names did not check
   yet, read whole: bounded even so (under SAN, a memory-safety check) */
static void walk_unchecked (box const *b)
{
  size_t i, sum = 0 ;
  for (i = 0 ; i < b->n ; i++) sum += strlen(msg_name(b, i)) + (size_t)(msg_mtime(b, i) & 1) + (size_t)msg_fsize(b, i) ;
  (void)sum ;
}

/* every message of an index idx_read accepted, read whole */
static void walk (box const *b)
{
  size_t i, sum = 0 ;
  for (i = 0 ; i < b->n ; i++)
  {
    char const *nm = msg_name(b, i) ;
    sum += strlen(nm) + (size_t)(msg_mtime(b, i) & 1) + (size_t)msg_fsize(b, i) + msg_kw(b, i) + b->m[i].flags ;
    CHECK(!strncmp(nm, "cur/", 4) && !strchr(nm + 4, '/'), "accepted name is cur/NAME") ;
    CHECK(!i || b->m[i].uid > b->m[i-1].uid, "accepted UIDs increase") ;
    CHECK(b->m[i].uid && b->m[i].uid < b->uidnext, "accepted UID below UIDNEXT") ;
  }
  (void)sum ;
}

int main (void)
{
  char dir[] = "/tmp/postie-imap-index.XXXXXX" ;
  char path[200] ;
  box b, r ;
  idxstamp st, other ;
  stralloc good = STRALLOC_ZERO, buf = STRALLOC_ZERO ;
  size_t i, n = 40, accepted = 0, iter ;
  if (!mkdtemp(dir)) { perror("mkdtemp") ; return 111 ; }
  snprintf(path, sizeof path, "%s/postie-index", dir) ;

  memset(&b, 0, sizeof b) ;
  strcpy(b.dir, dir) ;
  b.uidvalidity = 1700000000 ; b.uidnext = 400 ;
  b.m = calloc(n, sizeof(msg)) ; b.kwbits = calloc(n, sizeof(uint32_t)) ;
  for (i = 0 ; i < n ; i++)
  {
    char nm[80] ;
    int64_t pre[2] = { 1600000000 + (int64_t)i * 86400, 1000 + (int64_t)i } ;
    stralloc_catb(&b.names, (char *)pre, MSG_PRE) ;
    b.m[i].name = b.names.len ;
    snprintf(nm, sizeof nm, "cur/%zu.M%zuP7.host:2,%s", 1700000000 + i, i, i % 3 ? "S" : "") ;
    stralloc_catb(&b.names, nm, strlen(nm) + 1) ;
    b.m[i].uid = 3 + 7 * i ;
    b.m[i].flags = i % 32 ;
    b.kwbits[i] = i % 5 ? 0 : 1u << (i % 26) ;
  }
  b.n = b.cap = n ;
  for (i = 0 ; i < 8 ; i++) st.v[i] = 1000 + i ;
  other = st ; other.v[3]++ ;

  CHECK(idx_write(&b, &st), "idx_write") ;
  memset(&r, 0, sizeof r) ;
  strcpy(r.dir, dir) ;
  CHECK(!idx_read(&r, &other, 0), "an index with other stamps is refused") ;
  CHECK(idx_read(&r, &st, 1), "idx_read, names left unchecked") ;
  CHECK(!r.namesok && idx_names(&r) && r.namesok, "idx_names passes a good names block") ;
  CHECK(idx_read(&r, &st, 0) && r.namesok, "idx_read, names checked") ;
  CHECK(r.n == n && r.uidvalidity == b.uidvalidity && r.uidnext == b.uidnext && r.map, "header read back") ;
  for (i = 0 ; i < n && r.n == n ; i++)
  {
    CHECK(r.m[i].uid == b.m[i].uid && r.m[i].flags == b.m[i].flags, "UID and flags read back") ;
    CHECK(msg_kw(&r, i) == msg_kw(&b, i), "keywords read back") ;
    CHECK(!strcmp(msg_name(&r, i), msg_name(&b, i)), "name read back") ;
    CHECK(msg_mtime(&r, i) == msg_mtime(&b, i) && msg_mtime(&r, i) == 1600000000 + (int64_t)i * 86400, "INTERNALDATE read back") ;
    CHECK(msg_fsize(&r, i) == 1000 + i, "size read back") ;
  }
  box_release(&r) ;
  CHECK(r.n == n && !strcmp(msg_name(&r, 0), msg_name(&b, 0)), "names read again after release") ;
  CHECK(slurpfile(path, &good), "read the index") ;

  /* a names block damaged behind a good header: SELECT's read takes it,
     the first use of a name refuses it; a full read refuses it */
  {
    size_t at = good.len - 3 ;  /* inside the last name */
    buf.len = 0 ;
    stralloc_catb(&buf, good.s, good.len) ;
    buf.s[at] ^= 1 ;
    CHECK(spit(path, buf.s, buf.len), "write a damaged index") ;
    CHECK(idx_read(&r, &st, 1) && r.n == n && !r.namesok, "names block damaged: header and records still read") ;
    CHECK(!idx_names(&r) && !r.namesok, "names block damaged: idx_names refuses it") ;
    CHECK(!idx_read(&r, &st, 0), "names block damaged: a full read refuses it") ;
    CHECK(!idx_check(buf.s, buf.len, &st), "names block damaged: idx_check refuses it") ;
    /* a name with a slash, both checksums right: only the names check sees it */
    buf.s[at] ^= 1 ;
    buf.s[at] = '/' ;
    resum(buf.s, buf.len) ;
    CHECK(spit(path, buf.s, buf.len), "write a damaged index") ;
    CHECK(idx_read(&r, &st, 1) && !idx_names(&r), "a name with a slash is refused by idx_names") ;
    /* one record changed: the header's checksum */
    buf.len = 0 ;
    stralloc_catb(&buf, good.s, good.len) ;
    buf.s[112 + 9 * 3 + 8] ^= 8 ;
    CHECK(spit(path, buf.s, buf.len), "write a damaged index") ;
    CHECK(!idx_read(&r, &st, 1), "a record changed: refused at once") ;
    CHECK(spit(path, good.s, good.len), "write the index again") ;
  }

  /* fuzz */
  for (iter = 0 ; iter < 20000 ; iter++)
  {
    size_t len = good.len, k, nmut = 1 + rnd() % 4 ;
    buf.len = 0 ;
    stralloc_catb(&buf, good.s, good.len) ;
    stralloc_readyplus(&buf, 4096) ;
    for (k = 0 ; k < nmut ; k++)
    {
      switch (rnd() % 6)
      {
        case 0 : if (len) buf.s[rnd() % len] ^= 1 << (rnd() % 8) ; break ;
        case 1 : if (len) buf.s[rnd() % len] = (char)rnd() ; break ;
        case 2 : len = rnd() % (len + 1) ; break ;
        case 3 : { size_t add = rnd() % 64 ; size_t j ; for (j = 0 ; j < add ; j++) buf.s[len + j] = (char)rnd() ; len += add ; break ; }
        case 4 :
        {
          /* a header count or a table entry set to an extreme */
          static uint32_t const ext[6] = { 0, 1, 7, 0x7fffffff, 0xffffffff, 0x80000000 } ;
          size_t at = rnd() % 2 ? 12 + 4 * (rnd() % 5) : 112 + 9 * (rnd() % n) + 4 * (rnd() % 2) ;
          uint32_t v = ext[rnd() % 6] ;
          if (at + 4 <= len) memcpy(buf.s + at, &v, 4) ;
          break ;
        }
        default :
        {
          /* a name offset moved a little */
          size_t at = 112 + 9 * (rnd() % n) + 4 ;
          uint32_t v ;
          if (at + 4 <= len) { memcpy(&v, buf.s + at, 4) ; v += (uint32_t)(rnd() % 17) - 8 ; memcpy(buf.s + at, &v, 4) ; }
          break ;
        }
      }
    }
    if (rnd() % 2) resum(buf.s, len) ;
    if (idx_check(buf.s, len, &st))
    {
      accepted++ ;
      if (accepted % 20 == 1)
      {
        CHECK(spit(path, buf.s, len), "write a damaged index") ;
        CHECK(idx_read(&r, &st, 0), "idx_read takes what idx_check accepted") ;
        walk(&r) ;
        box_release(&r) ;
      }
    }
    else if (iter % 500 == 0)
    {
      /* refused by idx_check: refused by idx_read, r untouched */
      size_t before = r.n ;
      CHECK(spit(path, buf.s, len), "write a damaged index") ;
      CHECK(!idx_read(&r, &st, 0) && r.n == before, "idx_read refuses what idx_check refused") ;
    }
    if (iter % 50 == 0)
    {
      /* read as SELECT reads it: names unchecked, yet bounded; then
         idx_names agrees with idx_check */
      int full = idx_check(buf.s, len, &st) ;
      CHECK(spit(path, buf.s, len), "write a damaged index") ;
      if (idx_read(&r, &st, 1))
      {
        walk_unchecked(&r) ;
        CHECK(idx_names(&r) == full, "idx_read then idx_names accept what idx_check accepts") ;
        if (full) walk(&r) ;
        box_release(&r) ;
      }
      else CHECK(!full, "idx_read refuses only what idx_check refuses") ;
    }
  }
  CHECK(accepted > 0 && accepted < 20000, "some damaged indexes pass, most do not") ;
  box_free(&r) ;
  box_free(&b) ;
  unlink(path) ;
  rmdir(dir) ;
  stralloc_free(&good) ; stralloc_free(&buf) ;
  if (failed) { fprintf(stderr, "imap_index: %d failed\n", failed) ; return 1 ; }
  printf("imap_index: ok (%zu of 20000 damaged indexes accepted)\n", accepted) ;
  return 0 ;
}
