/* fsync_dir.c: fsync a directory (fsync_dir.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <skalibs/djbunix.h>
#include "fsync_dir.h"

int fsync_dir (char const *dir)
{
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  if (fd < 0) return -1 ;
  if (fsync(fd) < 0 && errno != EINVAL)
  {
    int e = errno ;
    fd_close(fd) ;
    errno = e ;
    return -1 ;
  }
  fd_close(fd) ;
  return 0 ;
}

/* A short directory name (a queue bucket, most Maildirs) is copied
   into a small buffer: a PATH_MAX one would reach a stack page no other
   call of a short-lived program touches, a page fault more per run. */
int fsync_parent (char const *path)
{
  char const *slash = strrchr(path, '/') ;
  size_t n = slash ? (size_t)(slash - path) : 0 ;
  if (!slash) return (errno = EINVAL, -1) ;
  if (n >= PATH_MAX) return (errno = ENAMETOOLONG, -1) ;
  if (!n) return fsync_dir("/") ;
  if (n < 256)
  {
    char dir[256] ;
    memcpy(dir, path, n) ;
    dir[n] = 0 ;
    return fsync_dir(dir) ;
  }
  {
    char *dir = malloc(n + 1) ;
    int r ;
    if (!dir) return -1 ;
    memcpy(dir, path, n) ;
    dir[n] = 0 ;
    r = fsync_dir(dir) ;
    if (r < 0) { int e = errno ; free(dir) ; errno = e ; }
    else free(dir) ;
    return r ;
  }
}
