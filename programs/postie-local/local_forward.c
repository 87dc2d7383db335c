/* local_forward.c: the forwards of the instructions file, all in one new
   message, given to the queue program (postie_queue.h: POSTIE_QUEUE,
   default postie-queue through PATH): the message, with our Delivered-To
   line on top, on its fd 0; the envelope on its fd 1: the original sender
   (the null sender stays null, so bounces never loop) and the forward
   addresses; the queue id back on its fd 3. */

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
#include "postie.h"
#include "postie_queue.h"
#include "queue.h"

void deliver_forward (char const *addrs, size_t len)
{
  static local_out out POSTIE_LARGE ;
  int m[2], e[2], id[2] ;
  pid_t pid ;
  int wstat ;
  char idbuf[QUEUE_ID_MAX + 1] ;
  size_t idlen = 0 ;
  int werr = 0 ;
  int killed = 0 ;

  if (msg_rewind() < 0) tempsys("unable to rewind the message") ;
  if (pipecoe(m) < 0 || pipecoe(e) < 0 || pipecoe(id) < 0) tempsys("unable to create a pipe") ;
  pid = postie_queue_spawn(postie_queue_prog(), m[0], e[0], id[1]) ;
  if (pid < 0) tempsys("unable to fork") ;
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
    stralloc env = STRALLOC_ZERO ;
    if (!postie_queue_envelope(&env, ctx.sender, strlen(ctx.sender), addrs, len)) die_nomem() ;
    out_init(&out, e[1]) ;
    out_put(&out, env.s, env.len) ;
    if (out_flush(&out) < 0) werr = errno ;
    stralloc_free(&env) ;
  }
  close(e[1]) ;
  if (local_timedout) kill(pid, SIGKILL) ;
  idlen = postie_queue_id_read(id[0], idbuf, sizeof idbuf, &local_timedout) ;
  if (local_timedout) kill(pid, SIGKILL) ;
  close(id[0]) ;
  wstat = local_wait(pid, 0, &killed, "the queue program") ;
  if (local_timedout) temp("timed out forwarding the message (control/localprogtimeout)") ;
  if (WIFSIGNALED(wstat)) temp("the queue program was killed by a signal while forwarding") ;
  {
    int code = WEXITSTATUS(wstat) ;
    char fmt[UINT_FMT] ;
    fmt[uint_fmt(fmt, code)] = 0 ;
    if (code == 120) temp("unable to run the queue program to forward the message") ;
    if (queue_exit_permanent(code)) perm("forwarding refused by the queue (exit ", fmt, ": ", queue_exit_str(code), ")") ;
    if (code) temp("unable to forward: queue exit ", fmt, ": ", queue_exit_str(code)) ;
    if (werr) { errno = werr ; tempsys("unable to forward: the queue program exited 0 but did not take the whole message") ; }
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
