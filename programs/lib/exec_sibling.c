/* exec_sibling.c: exec a sibling program from our own directory, else
   through PATH. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "exec_sibling.h"

int sibling_path (char *buf, size_t n, char const *name)
{
  size_t len = strlen(name) ;
  ssize_t r ;
  char *slash ;
  if (n < 2) { errno = ENAMETOOLONG ; return 0 ; }
  r = readlink("/proc/self/exe", buf, n - 1) ;
  if (r <= 0 || (size_t)r >= n - 1) { errno = ENOENT ; return 0 ; }
  buf[r] = 0 ;
  slash = strrchr(buf, '/') ;
  if (!slash || (size_t)(slash - buf) + 2 + len > n) { errno = ENAMETOOLONG ; return 0 ; }
  memcpy(slash + 1, name, len + 1) ;
  return access(buf, F_OK) == 0 ;
}

void exec_sibling (char const *name, char const *const *argv)
{
  char self[4096] ;
  if (strchr(name, '/')) { execv(name, (char *const *)argv) ; return ; }
  if (sibling_path(self, sizeof self, name))
  {
    execv(self, (char *const *)argv) ;
    if (errno != ENOENT) return ;
  }
  execvp(name, (char *const *)argv) ;
}
