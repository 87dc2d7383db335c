/* cprun.c: see cprun.h. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/bytestr.h>
#include <skalibs/djbunix.h>
#include <skalibs/gccattributes.h>
#include <skalibs/sig.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "cprun.h"
#include "logline.h"

#define CP_INPUT_MAX 512    /* what a checkpassword reads from fd 3 */

void cprun_stamp (char *s, char const *hostname)
{
  size_t n = 0, hlen = strlen(hostname) ;
  if (hlen > 255) hlen = 255 ;
  s[n++] = '<' ;
  n += pid_fmt(s + n, getpid()) ;
  s[n++] = '.' ;
  n += uint64_fmt(s + n, (uint64_t)time(0)) ;
  s[n++] = '@' ;
  memcpy(s + n, hostname, hlen) ; n += hlen ;
  s[n++] = '>' ;
  s[n] = 0 ;
}

/* In the child: the descriptors, the signals, then exec. in is the end
   of the pipe that becomes fd 3. */
static void child (cprun_how const *how, int in) gccattr_noreturn ;
static void child (cprun_how const *how, int in)
{
  if (how->timeout && setpgid(0, 0) < 0) _exit(111) ;
  if (how->rfd >= 0)
  {
    /* The UCSPI-TLS pipes first: one of them may be fd 3. */
    if (fd_move(0, how->rfd) < 0 || fd_move(1, how->wfd) < 0) _exit(111) ;
    /* ucspitls_init made them close-on-exec; the copies dup2 gave are
       not, but a pipe already on 0 or 1 was not moved. */
    if (uncoe(0) < 0 || uncoe(1) < 0) _exit(111) ;
  }
  else if (how->rfd == CPRUN_NULL)
  {
    int nul = open("/dev/null", O_RDWR | O_CLOEXEC) ;  /* only its copies on 0 and 1 stay */
    if (nul < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0) _exit(111) ;
  }
  /* in is close-on-exec (pipecoe): its copy on fd 3 is not */
  if (in == 3 ? uncoe(3) < 0 : dup2(in, 3) < 0) _exit(111) ;
  ndelay_off(0) ; ndelay_off(1) ;
  sig_restore(SIGPIPE) ;
  sig_blocknone() ;
  execvp(how->argv[0], (char *const *)how->argv) ;
  strerr_warnwusys("exec ", how->argv[0]) ;
  _exit(111) ;
}

static volatile sig_atomic_t alarmed = 0 ;
static void onalarm (int sig)
{
  (void)sig ;
  alarmed = 1 ;
}

/* Waits for pid, killing its process group after timeout seconds (0:
   none). Returns its wait status, or -1 if waitpid failed (warned), or
   -2 if it was killed for the timeout (reaped, warned). */
static int reap (char const *prog, pid_t pid, unsigned long timeout)
{
  struct sigaction sa, old ;
  int wstat ;
  if (!timeout)
  {
    if (waitpid_nointr(pid, &wstat, 0) != pid) { strerr_warnwusys("wait for ", prog) ; return -1 ; }
    return wstat ;
  }
  /* Not skalibs' sig_catch, which sets SA_RESTART: waitpid must be
     interrupted by the alarm, or a hung checkpassword program holds the
     caller (and its client) for ever. */
  memset(&sa, 0, sizeof sa) ;
  sa.sa_handler = &onalarm ;
  sigemptyset(&sa.sa_mask) ;
  sa.sa_flags = 0 ;
  sigaction(SIGALRM, &sa, &old) ;
  alarmed = 0 ;
  alarm(timeout > UINT_MAX ? UINT_MAX : (unsigned int)timeout) ;
  for (;;)
  {
    if (waitpid(pid, &wstat, 0) == pid) break ;
    if (errno != EINTR) { wstat = -1 ; break ; }
    if (alarmed) { kill(-pid, SIGKILL) ; kill(pid, SIGKILL) ; }
  }
  alarm(0) ;
  sigaction(SIGALRM, &old, 0) ;
  if (wstat == -1) { strerr_warnwusys("wait for ", prog) ; return -1 ; }
  if (alarmed)
  {
    char s[ULONG_FMT] ;
    s[ulong_fmt(s, timeout)] = 0 ;
    strerr_warnw(prog, " did not exit within ", s, " seconds: killed") ;
    return -2 ;
  }
  return wstat ;
}

int cprun (cprun_how const *how, char const *name, size_t namelen, char const *pw, size_t pwlen)
{
  char buf[CP_INPUT_MAX] ;
  size_t slen = strlen(how->stamp), n = 0 ;
  int p[2] ;
  int wstat ;
  pid_t pid ;

  if (namelen + pwlen + slen + 3 > sizeof buf) return 1 ;
  memcpy(buf, name, namelen) ; n = namelen ; buf[n++] = 0 ;
  memcpy(buf + n, pw, pwlen) ; n += pwlen ; buf[n++] = 0 ;
  memcpy(buf + n, how->stamp, slen) ; n += slen ; buf[n++] = 0 ;

  if (pipecoe(p) < 0) { byte_zzero(buf, sizeof buf) ; strerr_warnwusys("pipe") ; return -1 ; }
  pid = fork() ;
  if (pid < 0)
  {
    byte_zzero(buf, sizeof buf) ;
    fd_close(p[0]) ; fd_close(p[1]) ;
    strerr_warnwusys("fork") ;
    return -1 ;
  }
  if (!pid)
  {
    byte_zzero(buf, sizeof buf) ;
    child(how, p[0]) ;
  }
  /* both sides set the group, so that it exists before any kill */
  if (how->timeout) setpgid(pid, pid) ;
  fd_close(p[0]) ;
  /* at most 512 bytes into an empty pipe: never blocks. A program that
     does not read (EPIPE) decides by its exit. */
  allwrite(p[1], buf, n) ;
  fd_close(p[1]) ;
  byte_zzero(buf, sizeof buf) ;
  wstat = reap(how->argv[0], pid, how->timeout) ;
  if (wstat < 0) return -1 ;
  if (WIFEXITED(wstat) && WEXITSTATUS(wstat) == 0) return 0 ;
  if (WIFEXITED(wstat) && WEXITSTATUS(wstat) == 1) return 1 ;
  {
    char s[UINT_FMT] ;
    s[uint_fmt(s, WIFEXITED(wstat) ? WEXITSTATUS(wstat) : WTERMSIG(wstat))] = 0 ;
    strerr_warnw(how->argv[0], WIFEXITED(wstat) ? " exited " : " crashed with signal ", s) ;
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
