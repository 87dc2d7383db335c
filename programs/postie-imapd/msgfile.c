/* msgfile.c: a message file read in pieces, never whole: its size as
   sent (every line ending in CRLF), its header, and any range of its
   CRLF form written to the client. A Maildir file may end its lines in
   LF (the convention) or CRLF; a bare LF counts, and is sent, as CRLF.
   Memory stays one buffer of CHUNK bytes whatever the message's size. */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/stralloc.h>
#include "imapd.h"

#define CHUNK 65536

/* Opens message i of b read-only. Returns the fd, or -1 (errno). */
int msg_open (box *b, size_t i)
{
  stralloc p = STRALLOC_ZERO ;
  struct stat st ;
  int fd ;
  if (!stralloc_cats(&p, b->dir) || !stralloc_cats(&p, "/") || !stralloc_cats(&p, msg_name(b, i)) || !stralloc_0(&p)) return -1 ;
  fd = open(p.s, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY) ;
  stralloc_free(&p) ;
  if (fd < 0) return -1 ;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) { close(fd) ; errno = EINVAL ; return -1 ; }
  return fd ;
}

/* Walks the CRLF form of the file from its start. For each piece of the
   CRLF form, in order, calls f(piece, length, data); a bare LF is given
   as "\r\n". Stops when f returns 0, or at the end. Returns 1, or 0 on
   a read error. */
static int walk (int fd, int (*f)(char const *, size_t, void *), void *data)
{
  char buf[CHUNK] ;
  char prev = 0 ;
  uint64_t off = 0 ;
  for (;;)
  {
    ssize_t r = pread(fd, buf, sizeof buf, off) ;
    size_t i = 0 ;
    if (r < 0) { if (errno == EINTR) continue ; return 0 ; }
    if (!r) return 1 ;
    off += r ;
    while (i < (size_t)r)
    {
      char const *nl = memchr(buf + i, '\n', r - i) ;
      size_t run = nl ? (size_t)(nl - (buf + i)) : r - i ;
      int bare = nl && !(run ? buf[i + run - 1] == '\r' : prev == '\r') ;
      if (run && !(*f)(buf + i, run, data)) return 1 ;
      if (nl && !(*f)(bare ? "\r\n" : "\n", bare ? 2 : 1, data)) return 1 ;
      i += run + !!nl ;
      prev = buf[i - 1] ;
    }
  }
}

static int count (char const *s, size_t n, void *data)
{
  (void)s ;
  *(uint64_t *)data += n ;
  return 1 ;
}

/* The size of message i as sent (cached in m[i].sent). Returns -1 on
   a read error. */
int64_t msg_size (box *b, size_t i, int fd)
{
  uint64_t n = 0 ;
  if (msg_sent(b, i) >= 0) return msg_sent(b, i) ;
  if (!walk(fd, &count, &n)) return -1 ;
  msg_setsent(b, i, n) ;
  return n ;
}

typedef struct hdr_s hdr ;
struct hdr_s
{
  stralloc *sa ;
  size_t max ;
  int err ;
} ;

static int addheader (char const *s, size_t n, void *data)
{
  hdr *h = data ;
  size_t l ;
  if (h->sa->len + n > h->max) { h->err = EFBIG ; return 0 ; }
  if (!stralloc_catb(h->sa, s, n)) { h->err = errno ; return 0 ; }
  /* the header ends at an empty line: "\n\n" or "\n\r\n" */
  l = h->sa->len ;
  if (s[n-1] == '\n' && l >= 2 && (h->sa->s[l-2] == '\n' || (l >= 3 && h->sa->s[l-2] == '\r' && h->sa->s[l-3] == '\n'))) return 0 ;
  if (s[n-1] == '\n' && l <= 2 && (l == 1 || h->sa->s[0] == '\r')) return 0 ;  /* no header at all */
  return 1 ;
}

/* The header of the message in fd, in CRLF form with the empty line that
   ends it (or the whole message when there is none), into sa: at most
   max bytes. Returns 1, or 0 (errno; EFBIG past max). */
int msg_header (int fd, stralloc *sa, size_t max)
{
  hdr h = { .sa = sa, .max = max, .err = 0 } ;
  sa->len = 0 ;
  if (!walk(fd, &addheader, &h)) return 0 ;
  if (h.err) return (errno = h.err, 0) ;
  return 1 ;
}

typedef struct range_s range ;
struct range_s
{
  uint64_t pos ;    /* where in the CRLF form the next piece begins */
  uint64_t from ;
  uint64_t end ;
} ;

static int send_range (char const *s, size_t n, void *data)
{
  range *r = data ;
  uint64_t a = r->pos, z = r->pos + n ;
  r->pos = z ;
  if (z <= r->from) return 1 ;
  if (a >= r->end) return 0 ;
  if (a < r->from) { s += r->from - a ; a = r->from ; }
  if (z > r->end) z = r->end ;
  put(s, z - a) ;
  return z < r->end ;
}

/* Writes bytes [from, from + len) of the CRLF form of the message in fd
   to the client, exactly len bytes: should the file be shorter than it
   was measured (it cannot change in a Maildir, but a read can fail),
   spaces fill the rest, since the literal's length is already sent.
   Returns 1, or 0 when it had to fill. */
int msg_send (int fd, uint64_t from, uint64_t len)
{
  range r = { .pos = 0, .from = from, .end = from + len } ;
  int ok = walk(fd, &send_range, &r) ;
  uint64_t sent = r.pos <= from ? 0 : (r.pos >= r.end ? len : r.pos - from) ;
  if (sent < len)
  {
    static char const sp[64] = "                                                                " ;
    uint64_t k = len - sent ;
    while (k) { size_t w = k < sizeof sp ? k : sizeof sp ; put(sp, w) ; k -= w ; }
    return 0 ;
  }
  return ok ;
}
