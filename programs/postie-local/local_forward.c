/* local_forward.c: the forwards of the instructions file, all in one new
   message, given to the queue program (POSTIE_QUEUE, default postie-queue
   through PATH) with qmail-queue's interface: the message, with our
   Delivered-To line on top, on its fd 0; the envelope on its fd 1: the
   original sender (the null sender stays null, so bounces never loop) and
   the forward addresses. POSTIE_QUEUE_IDFD=3 asks it for the queue id. */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <skalibs/djbunix.h>
#include <skalibs/sig.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "local.h"
#include "queue.h"

static void child (int m, int e, int id) gccattr_noreturn ;
static void child (int m, int e, int id)
{
  char const *q = getenv("POSTIE_QUEUE") ;
  char const *argv[2] = { q && *q ? q : "postie-queue", 0 } ;
  signal(SIGPIPE, SIG_DFL) ;
  signal(SIGXFSZ, SIG_DFL) ;
  signal(SIGALRM, SIG_DFL) ;
  sig_blocknone() ;
  /* all three are >= 3 (main made sure 0, 1, 2 are open) and close-on-exec */
  if (fd_copy(0, m) < 0 || fd_copy(1, e) < 0) _exit(120) ;
  if (id == 3) { if (uncoe(3) < 0) _exit(120) ; }
  else if (fd_copy(3, id) < 0) _exit(120) ;
  if (setenv("POSTIE_QUEUE_IDFD", "3", 1) < 0) _exit(120) ;
  execvp(argv[0], (char *const *)argv) ;
  strerr_warnwusys("exec ", argv[0]) ;
  _exit(120) ;
}

void deliver_forward (char const *addrs, size_t len)
{
  static local_out out ;
  int m[2], e[2], id[2] ;
  pid_t pid ;
  int wstat ;
  char idbuf[QUEUE_ID_MAX + 1] ;
  size_t idlen = 0 ;
  int werr = 0 ;

  if (msg_rewind() < 0) tempsys("unable to rewind the message") ;
  if (pipecoe(m) < 0 || pipecoe(e) < 0 || pipecoe(id) < 0) tempsys("unable to create a pipe") ;
  /* make sure none of the child's ends sits on fd 3 unless it is id[1] */
  if (m[0] == 3 || e[0] == 3)
  {
    int fd = fcntl(3, F_DUPFD_CLOEXEC, 4) ;
    if (fd < 0) tempsys("unable to dup a pipe") ;
    close(3) ;
    if (m[0] == 3) m[0] = fd ; else e[0] = fd ;
  }
  pid = fork() ;
  if (pid < 0) tempsys("unable to fork") ;
  if (!pid) child(m[0], e[0], id[1]) ;
  close(m[0]) ; close(e[0]) ; close(id[1]) ;

  local_alarm(ctx.progtimeout) ;
  out_init(&out, m[1]) ;
  out_put(&out, ctx.dtline.s, ctx.dtline.len) ;
  for (;;)
  {
    char buf[65536] ;
    ssize_t r = msg_read(buf, sizeof buf) ;
    if (r < 0) { werr = errno ; break ; }
    if (!r) break ;
    out_put(&out, buf, r) ;
    if (out.err) break ;
  }
  if (out_flush(&out) < 0 && !werr) werr = errno ;
  close(m[1]) ;
  if (!werr)
  {
    size_t i = 0 ;
    out_init(&out, e[1]) ;
    out_put(&out, "F", 1) ;
    out_put(&out, ctx.sender, strlen(ctx.sender) + 1) ;
    while (i < len)
    {
      size_t k = strlen(addrs + i) + 1 ;
      out_put(&out, "T", 1) ;
      out_put(&out, addrs + i, k) ;
      i += k ;
    }
    out_put(&out, "", 1) ;
    if (out_flush(&out) < 0) werr = errno ;
  }
  close(e[1]) ;
  if (local_timedout) kill(pid, SIGKILL) ;
  for (;;)
  {
    ssize_t r = read(id[0], idbuf + idlen, sizeof idbuf - 1 - idlen) ;
    if (r < 0 && errno == EINTR)
    {
      if (!local_timedout) continue ;
      kill(pid, SIGKILL) ;
    }
    if (r <= 0) break ;
    idlen += r ;
    if (idlen >= sizeof idbuf - 1) break ;
  }
  close(id[0]) ;
  while (waitpid(pid, &wstat, 0) < 0)
  {
    if (errno != EINTR) { local_alarm(0) ; tempsys("unable to wait for the queue program") ; }
    if (local_timedout) kill(pid, SIGKILL) ;
  }
  local_alarm(0) ;
  if (local_timedout) temp("timed out forwarding the message (control/localprogtimeout)") ;
  if (WIFSIGNALED(wstat)) temp("the queue program was killed by a signal while forwarding") ;
  {
    int code = WEXITSTATUS(wstat) ;
    char fmt[UINT_FMT] ;
    fmt[uint_fmt(fmt, code)] = 0 ;
    if (code == 120) temp("unable to run the queue program to forward the message") ;
    if (code >= 11 && code <= 40) perm("forwarding refused by the queue (exit ", fmt, ": ", queue_exit_str(code), ")") ;
    if (code) temp("unable to forward: queue exit ", fmt, ": ", queue_exit_str(code)) ;
    if (werr) { errno = werr ; tempsys("unable to forward: the queue program exited 0 but did not take the whole message") ; }
    {
      size_t i ;
      while (idlen && (idbuf[idlen - 1] == '\n' || idbuf[idlen - 1] == '\r')) idlen-- ;
      for (i = 0 ; i < idlen ; i++) if (idbuf[i] == '\n') { idlen = i ; break ; }
      idbuf[idlen] = 0 ;
    }
    {
      stralloc sa = STRALLOC_ZERO ;
      size_t i = 0 ;
      while (i < len)
      {
        if (sa.len && !stralloc_cats(&sa, ", ")) die_nomem() ;
        if (!stralloc_cats(&sa, addrs + i)) die_nomem() ;
        i += strlen(addrs + i) + 1 ;
      }
      if (!stralloc_0(&sa)) die_nomem() ;
      did("forward to ", sa.s, idlen ? " (queue id " : "", idbuf, idlen ? ")" : "") ;
      stralloc_free(&sa) ;
    }
  }
}
