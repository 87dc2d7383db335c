/* postie-qread: one line per queued message: id, age, size, sender, next
   retry, and each recipient with its state. Reads the queue without
   locking it; works while postie-send runs. Format: doc/postie-qread.md. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <skalibs/buffer.h>
#include <skalibs/djbunix.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "postie.h"
#include "queue.h"
#include "queue_walk.h"
#include "queue_info.h"

#define USAGE "postie-qread"
#define ENVELOPE_MAX (64UL << 20)

static int64_t now ;

static void put (char const *s)
{
  if (buffer_puts(buffer_1, s) < 0) strerr_diefusys(111, "write to stdout") ;
}

static void putnum (int64_t x)
{
  char fmt[UINT64_FMT + 1] ;
  size_t n = 0 ;
  if (x < 0) { fmt[n++] = '-' ; x = -x ; }
  n += uint64_fmt(fmt + n, (uint64_t)x) ;
  fmt[n] = 0 ;
  put(fmt) ;
}

static void head (char const *id, uint64_t size, char const *sender)
{
  uint64_t sec = 0 ;
  uint64_scan(id, &sec) ;
  put(id) ;
  put(" age ") ; putnum(now - (int64_t)sec) ; put("s") ;
  put(" size ") ; putnum((int64_t)size) ;
  put(" from <") ; put(sender) ; put(">") ;
}

#define DEFER_MAX (4UL << 20)

/* queue/defer/B/ID (postie-send's last deferral reasons, lines
   ADDR\tTEXT\n) into df, or df empty: it is informational, and may be
   missing, stale or unreadable. */
static void defer_load (char const *infopath, stralloc *df)
{
  char path[32 + 2 * QUEUE_ID_MAX] ;
  struct stat st ;
  size_t n = strlen(infopath) ;
  int fd ;
  df->len = 0 ;
  if (n < 11 || n - 11 + 13 > sizeof path) return ;
  memcpy(path, "queue/defer/", 12) ;
  memcpy(path + 12, infopath + 11, n - 11 + 1) ;  /* after "queue/info/" */
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK) ;
  if (fd < 0) return ;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 && (uint64_t)st.st_size <= DEFER_MAX
   && stralloc_ready(df, (size_t)st.st_size)
   && pread(fd, df->s, (size_t)st.st_size, 0) == (ssize_t)st.st_size)
    df->len = (size_t)st.st_size ;
  fd_close(fd) ;
}

/* queue/hold/B/ID exists: postie-qctl held the message. */
static int held (char const *infopath)
{
  char path[32 + 2 * QUEUE_ID_MAX] ;
  size_t n = strlen(infopath) ;
  if (n < 11 || n - 11 + 12 > sizeof path) return 0 ;
  memcpy(path, "queue/hold/", 11) ;
  memcpy(path + 11, infopath + 11, n - 11 + 1) ;
  return access(path, F_OK) == 0 ;
}

/* The text recorded for addr, or 0; *len its length. */
static char const *defer_find (stralloc const *df, char const *addr, size_t *len)
{
  size_t alen = strlen(addr), p = 0 ;
  while (p < df->len)
  {
    char const *nl = memchr(df->s + p, '\n', df->len - p) ;
    size_t e = nl ? (size_t)(nl - df->s) : df->len ;
    if (e - p > alen && !memcmp(df->s + p, addr, alen) && df->s[p + alen] == '\t')
    {
      *len = e - p - alen - 1 ;
      return df->s + p + alen + 1 ;
    }
    p = e + 1 ;
  }
  return 0 ;
}

static void info (char const *path, char const *id, stralloc *sa)
{
  static stralloc df = STRALLOC_ZERO ;
  queue_info qi ;
  size_t pos ;
  char state, kind ;
  char const *addr ;
  int pending = 0, first = 1 ;
  int r = queue_info_load(path, sa, &qi) ;
  if (r < 0) { strerr_warnwusys("read ", path) ; return ; }
  if (!r) return ;
  head(id, qi.msglen, qi.sender) ;
  pos = qi.first ;
  while (queue_info_next(sa, &pos, &state, &kind, &addr)) if (state == 'P') pending = 1 ;
  if (pending)
  {
    defer_load(path, &df) ;
    if (held(path)) put(" held") ;
    else
    {
      put(" next-retry ") ;
      if (qi.mtime <= now) put("now") ;
      else { put("+") ; putnum(qi.mtime - now) ; put("s") ; }
    }
  }
  put(":") ;
  pos = qi.first ;
  while (queue_info_next(sa, &pos, &state, &kind, &addr))
  {
    put(first ? " " : "; ") ;
    first = 0 ;
    put(state == 'P' ? "pending " : state == 'D' ? "done " : "failed ") ;
    put(kind == 'R' ? "remote <" : "local <") ;
    put(addr) ;
    put(">") ;
    if (state == 'P' && pending && df.len)
    {
      size_t len ;
      char const *why = defer_find(&df, addr, &len) ;
      if (why)
      {
        put(" (last: ") ;
        if (buffer_put(buffer_1, why, len) < 0) strerr_diefusys(111, "write to stdout") ;
        put(")") ;
      }
    }
  }
  put("\n") ;
}

static void todo (char const *path, char const *id, stralloc *sa)
{
  struct stat st ;
  char tr[QUEUE_TRAILER_LEN] ;
  uint64_t msglen, envlen ;
  size_t i ;
  int first = 1 ;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) ;
  if (fd < 0) return ;  /* picked up meanwhile */
  if (fstat(fd, &st) < 0 || st.st_size < QUEUE_TRAILER_LEN
   || pread(fd, tr, QUEUE_TRAILER_LEN, st.st_size - QUEUE_TRAILER_LEN) != QUEUE_TRAILER_LEN
   || !queue_trailer_scan(tr, &msglen) || msglen > (uint64_t)st.st_size - QUEUE_TRAILER_LEN
   || (envlen = (uint64_t)st.st_size - QUEUE_TRAILER_LEN - msglen) > ENVELOPE_MAX || envlen < 4
   || !stralloc_ready(sa, envlen + 1)
   || pread(fd, sa->s, envlen, (off_t)msglen) != (ssize_t)envlen)
  {
    fd_close(fd) ;
    return ;
  }
  fd_close(fd) ;
  sa->len = envlen ;
  sa->s[envlen] = 0 ;
  if (sa->s[0] != 'F' || sa->s[envlen - 1]) return ;
  head(id, msglen, sa->s + 1) ;
  put(" not-yet-picked-up:") ;
  for (i = strlen(sa->s) + 1 ; i < envlen && sa->s[i] == 'T' ; i += strlen(sa->s + i) + 1)
  {
    put(first ? " " : "; ") ;
    first = 0 ;
    put("pending <") ; put(sa->s + i + 1) ; put(">") ;
  }
  put("\n") ;
}

static int info_cb (char const *path, char const *id, void *sa)
{
  info(path, id, sa) ;
  return 0 ;
}

static int todo_cb (char const *path, char const *id, void *sa)
{
  todo(path, id, sa) ;
  return 0 ;
}

int main (int argc, char const *const *argv)
{
  stralloc sa = STRALLOC_ZERO ;
  PROG = "postie-qread" ;
  (void)argv ;
  if (argc > 1) strerr_dieusage(100, USAGE) ;
  if (chdir(postie_home()) < 0) strerr_diefusys(111, "enter the instance directory") ;
  {
    struct timespec ts ;
    clock_gettime(CLOCK_REALTIME, &ts) ;
    now = (int64_t)ts.tv_sec ;
  }
  {
    char const *where ;
    if (queue_walk("info", &info_cb, &sa, &where) < 0
     || queue_walk("todo", &todo_cb, &sa, &where) < 0)
      strerr_diefusys(111, "read ", where) ;
  }
  if (!buffer_flush(buffer_1)) strerr_diefusys(111, "write to stdout") ;
  return 0 ;
}
