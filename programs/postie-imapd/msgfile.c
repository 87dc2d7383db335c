/* msgfile.c: a message file read in pieces, never whole: its size as
   sent (every line ending in CRLF), its header, and any range of its
   CRLF form written to the client. A Maildir file may end its lines in
   LF (the convention) or CRLF; a bare LF counts, and is sent, as CRLF.
   Memory stays one buffer of CHUNK bytes whatever the message's size. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/stralloc.h>
#include "imapd.h"

#define CHUNK 65536

/* The path of message i of b into p (max bytes). Returns 1, or 0
   (ENAMETOOLONG). */
int msg_path (box const *b, size_t i, char *p, size_t max)
{
  size_t dl = strlen(b->dir) ;
  char const *name = msg_name(b, i) ;
  size_t nl = strlen(name) ;
  if (dl + 1 + nl + 1 > max) return (errno = ENAMETOOLONG, 0) ;
  memcpy(p, b->dir, dl) ; p[dl] = '/' ;
  memcpy(p + dl + 1, name, nl + 1) ;
  return 1 ;
}

/* Opens message i of b read-only. Returns the fd, or -1 (errno). */
int msg_open (box *b, size_t i)
{
  char p[PATH_MAX] ;
  struct stat st ;
  int fd ;
  if (!msg_path(b, i, p, sizeof p)) return -1 ;
  fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY) ;
  if (fd < 0) return -1 ;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) { close(fd) ; errno = EINVAL ; return -1 ; }
  return fd ;
}

/* The buffer every message read goes into, kept from one message to the
   next: no allocation per message once it is as large as the largest. */
static stralloc rawbuf = STRALLOC_ZERO ;

/* The end of a command: a buffer grown for a large message is not kept
   in an idle session. */
void msg_trim (void)
{
  if (rawbuf.a > 262144) stralloc_free(&rawbuf) ;
}

/* Where the header ends in s[0, n): the offset after its empty line,
   or 0 when there is none yet. Looks from offset from on. */
static size_t blank_line (char const *s, size_t n, size_t from)
{
  size_t i = from ;
  while (i < n)
  {
    char const *nl = memchr(s + i, '\n', n - i) ;
    size_t k ;
    if (!nl) return 0 ;
    k = nl - s ;
    if (k + 1 < n && s[k+1] == '\n') return k + 2 ;
    if (k + 2 < n && s[k+1] == '\r' && s[k+2] == '\n') return k + 3 ;
    i = k + 1 ;
  }
  return 0 ;
}

/* Message i of b as stored (its own line ends, LF or CRLF), read into
   the session's buffer: with hdr, at least up to the empty line that ends
   its header (or all of it when there is none), else all of it; at most
   max bytes (EFBIG past that). One open, one read for a message that
   fits the buffer and whose size SELECT saw; no stat: the read is
   bounded, and O_NOFOLLOW | O_NONBLOCK keep a link or a fifo out; st
   (when not null) gets the file's fstat, for the header cache.
   Returns 2 (all of it read) or 1 (its header, maybe more) with *s, *n
   set (valid until the next read), or 0 (errno). */
int msg_raw (box *b, size_t i, int hdr, size_t max, char const **s, size_t *n, struct stat *st)
{
  char p[PATH_MAX] ;
  size_t got = 0 ;
  int fd, all = 0 ;
  if (!msg_path(b, i, p, sizeof p)) return 0 ;
  fd = open(p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY) ;
  if (fd < 0) return 0 ;
  if (st && fstat(fd, st) < 0) { close(fd) ; return 0 ; }
  {
    /* the file as SELECT saw it, and a byte more to see its end at once */
    size_t want = msg_fsize(b, i) < max ? msg_fsize(b, i) + 1 : max + 1 ;
    if (hdr && want > CHUNK) want = CHUNK ;
    if (want < 4096) want = 4096 ;
    if (!stralloc_ready(&rawbuf, want)) { close(fd) ; return 0 ; }
  }
  for (;;)
  {
    size_t room = rawbuf.a - got ;
    ssize_t r = read(fd, rawbuf.s + got, room) ;
    if (r < 0) { if (errno == EINTR) continue ; close(fd) ; return 0 ; }
    if (!r) { all = 1 ; break ; }
    got += r ;
    if (got > max) { close(fd) ; errno = EFBIG ; return 0 ; }
    if ((size_t)r < room && got == msg_fsize(b, i)) { all = 1 ; break ; }  /* a regular file's end */
    if (hdr && blank_line(rawbuf.s, got, got - r < 2 ? 0 : got - r - 2)) break ;
    if (got == rawbuf.a && !stralloc_ready(&rawbuf, got + (got < max - got ? got : max - got) + 1)) { close(fd) ; return 0 ; }
  }
  close(fd) ;
  *s = rawbuf.s ; *n = got ;
  return 1 + all ;
}

/* s[0, n) in CRLF form (a bare LF becomes CRLF) appended to sa. Returns
   1, or 0 (ENOMEM). */
int crlf_cat (stralloc *sa, char const *s, size_t n)
{
  size_t i = 0 ;
  char prev = sa->len ? sa->s[sa->len-1] : 0 ;
  if (!stralloc_readyplus(sa, n + n / 8 + 16)) return 0 ;
  while (i < n)
  {
    char const *nl = memchr(s + i, '\n', n - i) ;
    size_t run = nl ? (size_t)(nl - (s + i)) : n - i ;
    if (!stralloc_catb(sa, s + i, run)) return 0 ;
    if (!nl) break ;
    if (!(run ? s[i + run - 1] == '\r' : prev == '\r') && !stralloc_catb(sa, "\r", 1)) return 0 ;
    if (!stralloc_catb(sa, "\n", 1)) return 0 ;
    i += run + 1 ;
    prev = '\n' ;
  }
  return 1 ;
}

/* The size of s[0, n) in CRLF form */
uint64_t crlf_size (char const *s, size_t n)
{
  uint64_t k = n ;
  size_t i = 0 ;
  for (;;)
  {
    char const *nl = memchr(s + i, '\n', n - i) ;
    if (!nl) return k ;
    if (nl == s || nl[-1] != '\r') k++ ;
    i = nl + 1 - s ;
    if (i >= n) return k ;
  }
}

/* Message i of b in CRLF form, all of it, into sa (at most maxmessage
   bytes as stored). Returns 1, or 0 (errno). */
int msg_load (box *b, size_t i, stralloc *sa)
{
  char const *s ;
  size_t n ;
  sa->len = 0 ;
  if (!msg_raw(b, i, 0, maxmessage, &s, &n, 0) || !crlf_cat(sa, s, n)) return 0 ;
  msg_setsent(b, i, sa->len) ;
  return 1 ;
}

/* The header of message i of b as stored, with the empty line that ends
   it: from the folder's header cache when it has the message, else read
   from the file (and given to the cache). Returns 2 (*s, *n: the whole
   message), 1 (its header, perhaps more), or 0 (errno). */
int msg_head (box *b, size_t i, char const **s, size_t *n)
{
  struct stat st ;
  size_t h ;
  int r = hcache_get(b, i, s, n) ;
  if (r) return r ;
  r = msg_raw(b, i, 1, maxmessage, s, n, hcache_max ? &st : 0) ;
  if (!r) return 0 ;
  h = blank_line(*s, *n, 0) ;
  if (hcache_max && (h || r == 2)) hcache_put(b, i, *s, h ? h : *n, &st) ;
  return r ;
}

/* The header of message i of b in CRLF form, with the empty line that
   ends it (or the whole message when there is none), into sa: at most
   max bytes. Returns 1, or 0 (errno; EFBIG past max). */
int msg_header_of (box *b, size_t i, stralloc *sa, size_t max)
{
  char const *s ;
  size_t n, h ;
  sa->len = 0 ;
  if (!msg_head(b, i, &s, &n)) return 0 ;
  h = blank_line(s, n, 0) ;
  if (!h) h = n ;
  if (!crlf_cat(sa, s, h)) return 0 ;
  if (sa->len > max) return (errno = EFBIG, 0) ;
  return 1 ;
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

/* The size of message i as sent (cached by msg_setsent). Returns -1 on
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
