/* fsync_dir.c: fsync a directory (fsync_dir.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

int fsync_parent (char const *path)
{
  char dir[PATH_MAX] ;
  char const *slash = strrchr(path, '/') ;
  size_t n = slash ? (size_t)(slash - path) : 0 ;
  if (!slash) return (errno = EINVAL, -1) ;
  if (n >= sizeof dir) return (errno = ENAMETOOLONG, -1) ;
  if (!n) return fsync_dir("/") ;
  memcpy(dir, path, n) ;
  dir[n] = 0 ;
  return fsync_dir(dir) ;
}
