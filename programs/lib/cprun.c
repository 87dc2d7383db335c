/* cprun.c: see cprun.h. */

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "cprun.h"
#include "logline.h"

#define CP_INPUT_MAX 512    /* what a checkpassword reads from fd 3 */

int cprun (char const *const *argv, char const *hostname,
           char const *name, size_t namelen, char const *pw, size_t pwlen,
           int rfd, int wfd)
{
  char buf[CP_INPUT_MAX] ;
  char fmt[PID_FMT + UINT64_FMT + 4] ;
  size_t fmtlen = 0, hlen = strlen(hostname), n = 0 ;
  int p[2] ;
  int wstat ;
  pid_t pid ;

  fmt[fmtlen++] = '<' ;
  fmtlen += pid_fmt(fmt + fmtlen, getpid()) ;
  fmt[fmtlen++] = '.' ;
  fmtlen += uint64_fmt(fmt + fmtlen, (uint64_t)time(0)) ;
  fmt[fmtlen++] = '@' ;
  if (hlen > 255) hlen = 255 ;
  if (namelen + pwlen + fmtlen + hlen + 4 > sizeof buf) return 1 ;
  memcpy(buf, name, namelen) ; n = namelen ; buf[n++] = 0 ;
  memcpy(buf + n, pw, pwlen) ; n += pwlen ; buf[n++] = 0 ;
  memcpy(buf + n, fmt, fmtlen) ; n += fmtlen ;
  memcpy(buf + n, hostname, hlen) ; n += hlen ;
  buf[n++] = '>' ; buf[n++] = 0 ;

  if (pipe(p) < 0) { memset(buf, 0, sizeof buf) ; strerr_warnwusys("pipe") ; return -1 ; }
  pid = fork() ;
  if (pid < 0)
  {
    memset(buf, 0, sizeof buf) ;
    close(p[0]) ; close(p[1]) ;
    strerr_warnwusys("fork") ;
    return -1 ;
  }
  if (!pid)
  {
    memset(buf, 0, sizeof buf) ;
    close(p[1]) ;
    if (rfd >= 0)
    {
      /* The UCSPI-TLS pipes first: one of them may be fd 3. */
      if (fd_move(0, rfd) < 0 || fd_move(1, wfd) < 0) _exit(111) ;
      /* ucspitls_init made them close-on-exec; the copies dup2 gave are
         not, but a pipe already on 0 or 1 was not moved. */
      if (uncoe(0) < 0 || uncoe(1) < 0) _exit(111) ;
    }
    if (p[0] != 3 && fd_move(3, p[0]) < 0) _exit(111) ;
    ndelay_off(0) ; ndelay_off(1) ;
    signal(SIGPIPE, SIG_DFL) ;
    execvp(argv[0], (char *const *)argv) ;
    strerr_warnwusys("exec ", argv[0]) ;
    _exit(111) ;
  }
  close(p[0]) ;
  if (allwrite(p[1], buf, n) < n && errno != EPIPE) { /* the child decides */ }
  close(p[1]) ;
  memset(buf, 0, sizeof buf) ;
  if (waitpid_nointr(pid, &wstat, 0) != pid) { strerr_warnwusys("waitpid") ; return -1 ; }
  if (WIFEXITED(wstat) && WEXITSTATUS(wstat) == 0) return 0 ;
  if (WIFEXITED(wstat) && WEXITSTATUS(wstat) == 1) return 1 ;
  {
    char s[UINT_FMT] ;
    s[uint_fmt(s, WIFEXITED(wstat) ? WEXITSTATUS(wstat) : WTERMSIG(wstat))] = 0 ;
    strerr_warnw(argv[0], WIFEXITED(wstat) ? " exited " : " crashed with signal ", s) ;
  }
  return -1 ;
}

void cprun_logfail (char const *name, size_t namelen, char const *result)
{
  logline l ;
  logline_start(&l, PROG) ;
  logline_cat(&l, "login user=") ;
  logline_catb(&l, name, namelen) ;
  logline_env(&l, "ip", "TCPREMOTEIP") ;
  logline_env(&l, "port", "TCPREMOTEPORT") ;
  logline_cat(&l, " ") ;
  logline_cat(&l, result) ;
  logline_end(&l) ;
}
