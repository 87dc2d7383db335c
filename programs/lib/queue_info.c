/* queue_info.c: read postie-send's info files (queue_info.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <skalibs/djbunix.h>
#include <skalibs/stralloc.h>
#include <skalibs/types.h>
#include "queue_info.h"

#define INFO_MAX (256UL << 20)

int queue_info_load (char const *path, stralloc *sa, queue_info *qi)
{
  struct stat st ;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) ;
  if (fd < 0) return errno == ENOENT ? 0 : -1 ;
  if (fstat(fd, &st) < 0) goto err ;
  if ((uint64_t)st.st_size > INFO_MAX) { errno = EINVAL ; goto err ; }
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
  for (i = qi->first ; i < sa->len ; i++) if (sa->s[i] == '\t' || sa->s[i] == '\n') sa->s[i] = 0 ;
  sa->s[sa->len] = 0 ;
  return 1 ;
}

int queue_info_next (stralloc const *sa, size_t *pos, char *state, char *kind, char const **addr)
{
  size_t i = *pos ;
  unsigned int k ;
  if (i + 3 > sa->len) return 0 ;
  *state = sa->s[i] ;
  *kind = sa->s[i + 1] ;
  *addr = sa->s + i + 3 ;
  i += 3 ;
  for (k = 0 ; k < 7 && i < sa->len ; k++) i += strlen(sa->s + i) + 1 ;
  *pos = i ;
  return 1 ;
}
