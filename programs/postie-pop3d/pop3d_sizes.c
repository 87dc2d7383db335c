/* pop3d_sizes.c: the size of each message as postie-pop3d sends it (RFC
   1939 11: CRLF line ends), which STAT, LIST and RETR announce, without
   reading every message at every login.

   postie-local writes it into the name at delivery (",W=" next to ",S=",
   maildir_size.h). For a file without it (delivered by another program),
   the size is counted once by reading the file and kept in SIZES_FILE,
   one line per message: "WIRE SIZE MTIME UNIQUE\n", UNIQUE the name up to
   its ':' (flags change, that part does not), SIZE and MTIME the file's,
   so that an entry is believed only for the file it was counted on. The
   file is a cache: missing, unreadable or damaged, it is rebuilt; it is
   replaced with a rename, so a reader never sees half of it. */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <skalibs/djbunix.h>
#include <skalibs/genalloc.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "maildir_size.h"
#include "pop3d.h"

#define SIZES_FILE_MAX (64 << 20)  /* a bigger one is not read (rebuilt) */

typedef struct entry_s entry ;
struct entry_s
{
  uint64_t wire ;
  uint64_t size ;
  int64_t mtime ;
  size_t key ;      /* offset of UNIQUE\0 in its stralloc */
} ;

static stralloc oldtext = STRALLOC_ZERO ;   /* the file as read, keys NUL-terminated */
static genalloc old = GENALLOC_ZERO ;       /* entry, sorted by key */
static stralloc newkeys = STRALLOC_ZERO ;
static genalloc new = GENALLOC_ZERO ;       /* entry: this session's */
static size_t nhits = 0 ;
static int counted = 0 ;                    /* an entry was counted anew */

static int cmpentry (void const *a, void const *b)
{
  return strcmp(oldtext.s + ((entry const *)a)->key, oldtext.s + ((entry const *)b)->key) ;
}

void sizes_load (void)
{
  size_t i = 0 ;
  struct stat st ;
  if (stat(SIZES_FILE, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > SIZES_FILE_MAX) return ;
  if (!openslurpclose(&oldtext, SIZES_FILE)) return ;
  while (i < oldtext.len)
  {
    char *nl = memchr(oldtext.s + i, '\n', oldtext.len - i) ;
    char *p = oldtext.s + i ;
    entry e ;
    size_t n ;
    uint64_t mt ;
    int neg = 0 ;
    if (!nl) break ;  /* a torn last line */
    *nl = 0 ;
    i = nl + 1 - oldtext.s ;
    n = uint64_scan(p, &e.wire) ; if (!n || p[n] != ' ') continue ; p += n + 1 ;
    n = uint64_scan(p, &e.size) ; if (!n || p[n] != ' ') continue ; p += n + 1 ;
    if (*p == '-') { neg = 1 ; p++ ; }
    n = uint64_scan(p, &mt) ; if (!n || p[n] != ' ') continue ; p += n + 1 ;
    if (!*p || strchr(p, ':')) continue ;
    e.mtime = neg ? -(int64_t)mt : (int64_t)mt ;
    e.key = p - oldtext.s ;
    if (!genalloc_append(entry, &old, &e)) { genalloc_setlen(entry, &old, 0) ; return ; }
  }
  if (genalloc_len(entry, &old))
    qsort(genalloc_s(entry, &old), genalloc_len(entry, &old), sizeof(entry), &cmpentry) ;
}

static entry const *lookup (char const *key)
{
  entry const *t = genalloc_s(entry, &old) ;
  size_t lo = 0, hi = genalloc_len(entry, &old) ;
  while (lo < hi)
  {
    size_t mid = lo + (hi - lo) / 2 ;
    int c = strcmp(key, oldtext.s + t[mid].key) ;
    if (!c) return t + mid ;
    if (c < 0) hi = mid ; else lo = mid + 1 ;
  }
  return 0 ;
}

/* Counts the file; st_size when it cannot be read (logged). */
static uint64_t count (char const *path, struct stat const *st)
{
  maildir_size ms = MAILDIR_SIZE_ZERO ;
  struct stat fst ;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY) ;
  if (fd < 0) goto err ;
  if (fstat(fd, &fst) < 0 || !S_ISREG(fst.st_mode) || fst.st_ino != st->st_ino) { close(fd) ; errno = EINVAL ; goto err ; }
  if (maildir_size_fd(fd, &ms) < 0) { close(fd) ; goto err ; }
  close(fd) ;
  return maildir_size_wire(&ms) ;
 err:
  strerr_warnwu2sys("count the size of ", path) ;
  return st->st_size ;
}

uint64_t sizes_wire (char const *path, char const *name, struct stat const *st)
{
  uint64_t s, w ;
  unsigned int f = maildir_size_fromname(name, &s, &w) ;
  size_t klen = strcspn(name, ":") ;
  entry e = { .size = st->st_size, .mtime = st->st_mtime } ;
  entry const *hit ;
  /* the name's own sizes, unless the file is not what they describe */
  if ((f & 2) && (!(f & 1) || s == (uint64_t)st->st_size) && w >= (uint64_t)st->st_size) return w ;
  if (!klen || memchr(name, '\n', klen) || newkeys.len > SIZES_FILE_MAX) return count(path, st) ;
  e.key = newkeys.len ;
  if (!stralloc_catb(&newkeys, name, klen) || !stralloc_0(&newkeys)) return count(path, st) ;
  hit = lookup(newkeys.s + e.key) ;
  if (hit && hit->size == e.size && hit->mtime == e.mtime && hit->wire >= e.size) { e.wire = hit->wire ; nhits++ ; }
  else { e.wire = count(path, st) ; counted = 1 ; }
  if (!genalloc_append(entry, &new, &e)) newkeys.len = e.key ;
  return e.wire ;
}

void sizes_save (void)
{
  stralloc sa = STRALLOC_ZERO ;
  entry const *t = genalloc_s(entry, &new) ;
  size_t n = genalloc_len(entry, &new) ;
  char suffix[8 + PID_FMT] = ".tmp." ;
  /* unchanged: every entry read was used, none counted anew */
  if (!counted && nhits == genalloc_len(entry, &old)) return ;
  if (!n) { if (genalloc_len(entry, &old)) unlink(SIZES_FILE) ; return ; }
  for (size_t i = 0 ; i < n ; i++)
  {
    char fmt[UINT64_FMT] ;
    if (!stralloc_catb(&sa, fmt, uint64_fmt(fmt, t[i].wire)) || !stralloc_catb(&sa, " ", 1)
     || !stralloc_catb(&sa, fmt, uint64_fmt(fmt, t[i].size)) || !stralloc_catb(&sa, " ", 1)
     || (t[i].mtime < 0 && !stralloc_catb(&sa, "-", 1))
     || !stralloc_catb(&sa, fmt, uint64_fmt(fmt, t[i].mtime < 0 ? -(uint64_t)t[i].mtime : (uint64_t)t[i].mtime))
     || !stralloc_catb(&sa, " ", 1)
     || !stralloc_cats(&sa, newkeys.s + t[i].key) || !stralloc_catb(&sa, "\n", 1))
    { stralloc_free(&sa) ; return ; }
  }
  suffix[5 + pid_fmt(suffix + 5, getpid())] = 0 ;
  if (!openwritenclose_suffix(SIZES_FILE, sa.s, sa.len, suffix))
    strerr_warnwu2sys("write ", SIZES_FILE " (a cache of message sizes)") ;
  stralloc_free(&sa) ;
}
