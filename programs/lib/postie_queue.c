/* postie_queue.c: running the queue program (postie_queue.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <skalibs/djbunix.h>
#include <skalibs/sig.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include "exec_sibling.h"
#include "postie.h"
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

/* Our environment with POSTIE_QUEUE_IDFD=3 (any other value of it
   left out), made once. Not skalibs' env_merge: it drops only the first
   of two POSTIE_QUEUE_IDFD entries, and getenv would find the second.
   The array: a static one for an environment of up to ID_ENV_STATIC
   variables (a service's is some 60), else malloc'd. The static one
   spares postie-smtpd a malloc group of this size class of its own: an
   mmap and a page fault per session (doc/bench.md, profile notes). */
#define ID_ENV_STATIC 254
static char const **id_env (void)
{
  static char const **env = 0 ;
  static char const *fixed[ID_ENV_STATIC + 2] ;
  if (!env)
  {
    extern char **environ ;
    size_t n = 0, j = 0 ;
    while (environ[n]) n++ ;
    env = n <= ID_ENV_STATIC ? fixed : malloc((n + 2) * sizeof *env) ;
    if (!env) return 0 ;
    for (size_t i = 0 ; i < n ; i++)
      if (strncmp(environ[i], "POSTIE_QUEUE_IDFD=", 18)) env[j++] = environ[i] ;
    env[j++] = "POSTIE_QUEUE_IDFD=3" ;
    env[j] = 0 ;
  }
  return env ;
}

/* The path of name next to this binary (sibling_path), or 0 if there
   is no such file. The answer for the last name asked is kept:
   postie-smtpd asks once per message. */
static char const *sibling_cached (char const *name)
{
  static char path[4096] POSTIE_LARGE ;
  static char last[256] ;
  static int known = 0 ;
  size_t len = strlen(name) ;
  if (len >= sizeof last) return sibling_path(path, sizeof path, name) ? path : 0 ;
  if (!known || strcmp(last, name))
  {
    known = sibling_path(path, sizeof path, name) ? 1 : -1 ;
    memcpy(last, name, len + 1) ;
  }
  return known > 0 ? path : 0 ;
}

static int spawn (pid_t *pid, char const *prog, int m, int e, int id, unsigned int flags)
{
  posix_spawn_file_actions_t fa ;
  posix_spawnattr_t attr ;
  sigset_t none, pipeset ;
  char const *argv[2] = { prog, 0 } ;
  extern char **environ ;
  char const *const *env = (char const *const *)environ ;
  short sflags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF ;
  int r ;
  if (flags & POSTIE_QUEUE_ID)
  {
    env = id_env() ;
    if (!env) return errno ;
  }
  if (flags & POSTIE_QUEUE_PGROUP) sflags |= POSIX_SPAWN_SETPGROUP ;
  sigemptyset(&none) ;
  sigemptyset(&pipeset) ;
  sigaddset(&pipeset, SIGPIPE) ;
  r = posix_spawn_file_actions_init(&fa) ;
  if (r) return r ;
  r = posix_spawnattr_init(&attr) ;
  if (r) { posix_spawn_file_actions_destroy(&fa) ; return r ; }
  /* m >= 3 (0, 1 and 2 are open) and e, id > m: dup2 to 0, 1 and 3 in
     this order never clobbers a descriptor still to be moved */
  if ((r = posix_spawn_file_actions_adddup2(&fa, m, 0))
   || (r = posix_spawn_file_actions_adddup2(&fa, e, 1))
   || (id >= 0 && (r = posix_spawn_file_actions_adddup2(&fa, id, 3)))
   || (r = posix_spawnattr_setflags(&attr, sflags))
   || (r = posix_spawnattr_setpgroup(&attr, 0))
   || (r = posix_spawnattr_setsigmask(&attr, &none))
   || (r = posix_spawnattr_setsigdefault(&attr, &pipeset)))
    ;
  else
  {
    char const *sib = flags & POSTIE_QUEUE_SIBLING && !strchr(prog, '/') ? sibling_cached(prog) : 0 ;
    r = ENOENT ;
    if (sib) r = posix_spawn(pid, sib, &fa, &attr, (char *const *)argv, (char *const *)env) ;
    /* with a slash, posix_spawnp searches no PATH */
    if (r == ENOENT) r = posix_spawnp(pid, prog, &fa, &attr, (char *const *)argv, (char *const *)env) ;
  }
  posix_spawnattr_destroy(&attr) ;
  posix_spawn_file_actions_destroy(&fa) ;
  return r ;
}

int postie_queue_start (postie_queue *q, char const *prog, unsigned int flags)
{
  int m[2], e[2], id[2] = { -1, -1 } ;
  int r ;
  if (pipecoe(m) < 0) return 0 ;
  if (pipecoe(e) < 0) { r = errno ; goto errm ; }
  if (flags & POSTIE_QUEUE_ID && pipecoe(id) < 0) { r = errno ; goto erre ; }
  r = spawn(&q->pid, prog, m[0], e[0], id[1], flags) ;
  if (r)
  {
    if (id[0] >= 0) { fd_close(id[0]) ; fd_close(id[1]) ; }
    goto erre ;
  }
  fd_close(m[0]) ; fd_close(e[0]) ;
  if (id[1] >= 0) fd_close(id[1]) ;
  q->msgfd = m[1] ; q->envfd = e[1] ; q->idfd = id[0] ;
  return 1 ;
 erre:
  fd_close(e[0]) ; fd_close(e[1]) ;
 errm:
  fd_close(m[0]) ; fd_close(m[1]) ;
  errno = r ;
  return 0 ;
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
