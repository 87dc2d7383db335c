/* queue_info.c: write and read postie-send's info files (queue_info.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <skalibs/djbunix.h>
#include <skalibs/stralloc.h>
#include <skalibs/types.h>
#include "queue_info.h"

int queue_info_head (stralloc *out, uint64_t msglen, char const *sender, size_t senderlen)
{
  char fmt[UINT64_FMT] ;
  return stralloc_cats(out, QUEUE_INFO_MAGIC)
   && stralloc_catb(out, fmt, uint64_fmt(fmt, msglen)) && stralloc_catb(out, "\n", 1)
   && stralloc_catb(out, sender, senderlen) && stralloc_catb(out, "\n", 1) ;
}

static int catfield (stralloc *sa, char const *s, char sep)
{
  return stralloc_cats(sa, s) && stralloc_catb(sa, &sep, 1) ;
}

int queue_info_line (stralloc *out, char state, char kind, char const *addr, char const *orig, char const *const *f)
{
  return stralloc_catb(out, &state, 1) && stralloc_catb(out, &kind, 1) && stralloc_catb(out, "\t", 1)
   && catfield(out, addr, '\t') && catfield(out, orig, '\t') && catfield(out, f[0], '\t')
   && catfield(out, f[1], '\t') && catfield(out, f[2], '\t') && catfield(out, f[3], '\t')
   && catfield(out, f[4], '\n') ;
}

int queue_info_load (char const *path, stralloc *sa, queue_info *qi)
{
  struct stat st ;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) ;
  if (fd < 0) return errno == ENOENT ? 0 : -1 ;
  if (fstat(fd, &st) < 0) goto err ;
  if ((uint64_t)st.st_size > QUEUE_INFO_MAX) { errno = EINVAL ; goto err ; }
  if (!stralloc_ready(sa, (size_t)st.st_size + 1)) goto err ;
  {
    ssize_t r = pread(fd, sa->s, (size_t)st.st_size, 0) ;
    if (r < 0) goto err ;
    sa->len = (size_t)r ;
  }
  fd_close(fd) ;
  qi->mtime = (int64_t)st.st_mtime ;
  return queue_info_parse(sa, qi) ? 1 : (errno = EINVAL, -1) ;
 err:
  fd_close(fd) ;
  return -1 ;
}

/* One recipient line from i to its newline nl: checked, its separators
   made NULs. */
static int line_split (char *s, size_t i, size_t nl)
{
  unsigned int j ;
  if (nl - i < 3 || s[i + 2] != '\t') return 0 ;
  if ((s[i] != 'P' && s[i] != 'D' && s[i] != 'F') || (s[i + 1] != 'L' && s[i + 1] != 'R' && s[i + 1] != 'X')) return 0 ;
  s[i + 2] = 0 ;
  i += 3 ;
  for (j = 0 ; j < QI_FIELDS ; j++)
  {
    size_t e = i ;
    while (e < nl && s[e] != '\t') e++ ;
    if ((e == nl) != (j == QI_FIELDS - 1)) return 0 ;
    s[e] = 0 ;
    i = e + 1 ;
  }
  return 1 ;
}

int queue_info_parse (stralloc *sa, queue_info *qi)
{
  size_t i, m = sizeof(QUEUE_INFO_MAGIC) - 1 ;
  char *nl ;
  if (sa->len < m || memcmp(sa->s, QUEUE_INFO_MAGIC, m) || sa->s[sa->len - 1] != '\n') return 0 ;
  i = uint64_scan(sa->s + m, &qi->msglen) ;
  if (!i || sa->s[m + i] != '\n') return 0 ;
  i += m + 1 ;
  /* the sender's line: the file may end before it */
  nl = memchr(sa->s + i, '\n', sa->len - i) ;
  if (!nl) return 0 ;
  qi->sender = sa->s + i ;
  *nl = 0 ;
  qi->first = nl - sa->s + 1 ;
  qi->nrcpt = 0 ;
  for (i = qi->first ; i < sa->len ; qi->nrcpt++)
  {
    size_t e = (char *)memchr(sa->s + i, '\n', sa->len - i) - sa->s ;
    if (!line_split(sa->s, i, e)) return 0 ;
    i = e + 1 ;
  }
  sa->s[sa->len] = 0 ;
  return 1 ;
}

int queue_info_rcpt_next (stralloc const *sa, size_t *pos, queue_info_rcpt *r)
{
  size_t i = *pos ;
  unsigned int k ;
  if (i + 3 > sa->len) return 0 ;
  r->off = i ;
  r->state = sa->s[i] ;
  r->kind = sa->s[i + 1] ;
  i += 3 ;
  for (k = 0 ; k < QI_FIELDS ; k++)
  {
    r->field[k] = i ;
    i += strlen(sa->s + i) + 1 ;
  }
  *pos = i ;
  return 1 ;
}

int queue_info_next (stralloc const *sa, size_t *pos, char *state, char *kind, char const **addr)
{
  queue_info_rcpt r ;
  if (!queue_info_rcpt_next(sa, pos, &r)) return 0 ;
  *state = r.state ;
  *kind = r.kind ;
  *addr = sa->s + r.field[QI_ADDR] ;
  return 1 ;
}
