/* queue_walk.c: visit every message file of one queue directory. */
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <skalibs/types.h>
#include "queue.h"
#include "queue_walk.h"

int queue_walk (char const *sub, queue_walk_func *f, void *arg, char const **where)
{
  static char path[32 + 2 * QUEUE_ID_MAX] ;
  size_t sublen = strlen(sub) ;
  unsigned int b ;
  if (sublen > 16) return (errno = EINVAL, -1) ;
  memcpy(path, "queue/", 6) ;
  memcpy(path + 6, sub, sublen) ;
  path[6 + sublen] = '/' ;
  for (b = 0 ; b < QUEUE_SPLIT ; b++)
  {
    size_t n = 7 + sublen ;
    DIR *dir ;
    n += uint_fmt(path + n, b) ;
    path[n] = 0 ;
    dir = opendir(path) ;
    if (!dir)
    {
      if (errno == ENOENT) continue ;
      *where = path ;
      return -1 ;
    }
    path[n++] = '/' ;
    for (;;)
    {
      struct dirent *e ;
      size_t len ;
      int r ;
      errno = 0 ;
      e = readdir(dir) ;
      if (!e)
      {
        if (errno) { int e2 = errno ; closedir(dir) ; path[n-1] = 0 ; *where = path ; errno = e2 ; return -1 ; }
        break ;
      }
      len = strlen(e->d_name) ;
      if (e->d_name[0] < '0' || e->d_name[0] > '9' || len >= QUEUE_ID_MAX) continue ;
      memcpy(path + n, e->d_name, len + 1) ;
      r = (*f)(path, path + n, arg) ;
      if (r) { closedir(dir) ; return r ; }
    }
    closedir(dir) ;
  }
  return 0 ;
}
