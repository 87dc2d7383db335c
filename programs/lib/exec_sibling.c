/* exec_sibling.c: exec a sibling program through PATH, else from our own
   directory. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "exec_sibling.h"

void exec_sibling (char const *name, char const *const *argv)
{
  size_t n = strlen(name) ;
  char self[4096] ;
  ssize_t r ;
  char *slash ;
  if (strchr(name, '/')) { execv(name, (char *const *)argv) ; return ; }
  execvp(name, (char *const *)argv) ;
  if (errno != ENOENT) return ;
  r = readlink("/proc/self/exe", self, sizeof self - 1) ;
  if (r <= 0 || (size_t)r >= sizeof self - 1) { errno = ENOENT ; return ; }
  self[r] = 0 ;
  slash = strrchr(self, '/') ;
  if (!slash || (size_t)(slash - self) + 2 + n > sizeof self) { errno = ENOENT ; return ; }
  memcpy(slash + 1, name, n + 1) ;
  execv(self, (char *const *)argv) ;
}
