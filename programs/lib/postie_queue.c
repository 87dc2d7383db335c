/* postie_queue.c: running the queue program (postie_queue.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <skalibs/djbunix.h>
#include <skalibs/sig.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include "postie_queue.h"

char const *postie_queue_prog (void)
{
  char const *q = getenv("POSTIE_QUEUE") ;
  return q && *q ? q : "postie-queue" ;
}

int postie_queue_envelope (stralloc *sa, char const *sender, size_t senderlen, char const *rcpts, size_t rcptslen)
{
  size_t i = 0 ;
  if (!stralloc_catb(sa, "F", 1) || !stralloc_catb(sa, sender, senderlen) || !stralloc_catb(sa, "", 1)) return 0 ;
  while (i < rcptslen)
  {
    size_t k = strlen(rcpts + i) + 1 ;
    if (!stralloc_catb(sa, "T", 1) || !stralloc_catb(sa, rcpts + i, k)) return 0 ;
    i += k ;
  }
  return stralloc_catb(sa, "", 1) ;
}

/* In the child: fd becomes to, even if fd already is to. */
static int fd_place (int to, int fd)
{
  return fd == to ? uncoe(fd) : fd_copy(to, fd) ;
}

pid_t postie_queue_spawn (char const *prog, int msgfd, int envfd, int idfd)
{
  pid_t pid = fork() ;
  if (pid) return pid ;
  {
    char const *argv[2] = { prog, 0 } ;
    signal(SIGPIPE, SIG_DFL) ;
    signal(SIGXFSZ, SIG_DFL) ;
    signal(SIGALRM, SIG_DFL) ;
    sig_blocknone() ;
    /* the sources must not sit where an earlier copy goes: 0 and 1 are
       placed first, so msgfd and envfd are moved off 3 if they are
       there, and idfd off 0 and 1 */
    if (idfd >= 0 && idfd < 2) { idfd = fcntl(idfd, F_DUPFD_CLOEXEC, 4) ; if (idfd < 0) _exit(120) ; }
    if (envfd == 0) { envfd = fcntl(envfd, F_DUPFD_CLOEXEC, 4) ; if (envfd < 0) _exit(120) ; }
    if (fd_place(0, msgfd) < 0 || fd_place(1, envfd) < 0) _exit(120) ;
    if (idfd >= 0)
    {
      if (fd_place(3, idfd) < 0 || setenv("POSTIE_QUEUE_IDFD", "3", 1) < 0) _exit(120) ;
    }
    execvp(argv[0], (char *const *)argv) ;
    strerr_warnwusys("exec ", argv[0]) ;
    _exit(120) ;
  }
}

size_t postie_queue_id_read (int fd, char *id, size_t idmax, int const volatile *stop)
{
  size_t n = 0, i ;
  while (n < idmax - 1)
  {
    ssize_t r = read(fd, id + n, idmax - 1 - n) ;
    if (r < 0 && errno == EINTR && (!stop || !*stop)) continue ;
    if (r <= 0) break ;
    n += (size_t)r ;
  }
  for (i = 0 ; i < n ; i++) if (id[i] == '\n') { n = i ; break ; }
  while (n && id[n - 1] == '\r') n-- ;
  for (i = 0 ; i < n ; i++) if ((unsigned char)id[i] <= 32 || id[i] == 127) { n = 0 ; break ; }
  id[n] = 0 ;
  return n ;
}
