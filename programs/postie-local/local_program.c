/* local_program.c: the |command instruction.

   /bin/sh -c COMMAND runs in HOME, in a process group of its own, with the
   message on fd 0 (the same seekable file, at offset 0, without the
   Return-Path and Delivered-To lines: they are in RPLINE and DTLINE), its
   stdout and stderr on a pipe whose first bytes become the reason of a
   failure, and the delivery's facts in the environment (doc/dot-postie.md).
   It has progtimeout seconds; then its process group is killed. It gets
   no descriptor but 0, 1 and 2.

   Exit codes (qmail's convention): 0 delivered; 99 delivered, and stop
   processing the instructions; 100, 64, 65, 70, 76, 77, 78, 112 permanent
   failure; anything else, or death by a signal, temporary failure. */

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <skalibs/djbunix.h>
#include <skalibs/sig.h>
#include <skalibs/types.h>
#include "local.h"

static int permanent (int code)
{
  switch (code)
  {
    case 64 : case 65 : case 70 : case 76 : case 77 : case 78 : case 100 : case 112 : return 1 ;
    default : return 0 ;
  }
}

/* qmail's EXT2..4 (EXT after the first, second, third '-') and HOST2..4
   (DOMAIN before its last, second-to-last, third-to-last '.'). */
static void setparts (void)
{
  char const *p = ctx.ext ;
  unsigned int i ;
  char name[5] = "EXT?" ;
  for (i = 2 ; i <= 4 ; i++)
  {
    p = p ? strchr(p, '-') : 0 ;
    if (p) p++ ;
    name[3] = '0' + i ;
    if (p) setenv(name, p, 1) ; else unsetenv(name) ;
  }
  {
    size_t n = strlen(ctx.domain) ;
    char host[6] = "HOST?" ;
    char *d = strdup(ctx.domain) ;
    if (!d) return ;
    for (i = 2 ; i <= 4 ; i++)
    {
      while (n && d[n - 1] != '.') n-- ;
      host[4] = '0' + i ;
      if (n) { d[--n] = 0 ; setenv(host, d, 1) ; }
      else unsetenv(host) ;
    }
  }
}

static void child (char const *cmd, int outfd) gccattr_noreturn ;
static void child (char const *cmd, int outfd)
{
  char const *argv[4] = { "/bin/sh", "-c", cmd, 0 } ;
  setpgid(0, 0) ;
  signal(SIGPIPE, SIG_DFL) ;
  signal(SIGXFSZ, SIG_DFL) ;
  signal(SIGALRM, SIG_DFL) ;
  sig_blocknone() ;
  if (fd_move(1, outfd) < 0 || fd_copy(2, 1) < 0) _exit(111) ;
  /* nothing but 0, 1, 2: postie-local's own descriptors are close-on-exec,
     but whatever its caller left open is not the user's program's business */
  /* close_range(2) through syscall(): musl 1.2.3 has no wrapper */
  if (syscall(SYS_close_range, 3, ~0U, 0) < 0)
  {
    int fd, max = getdtablesize() ;
    for (fd = 3 ; fd < max ; fd++) close(fd) ;
  }
  if (setenv("SENDER", ctx.sender, 1) < 0
   || setenv("NEWSENDER", ctx.sender, 1) < 0
   || setenv("RECIPIENT", ctx.recipient, 1) < 0
   || setenv("USER", ctx.user, 1) < 0
   || setenv("HOME", ctx.home, 1) < 0
   || setenv("LOCAL", ctx.local, 1) < 0
   || setenv("EXT", ctx.ext, 1) < 0
   || setenv("HOST", ctx.domain, 1) < 0
   || setenv("RPLINE", ctx.rpline.s, 1) < 0
   || setenv("DTLINE", ctx.dtline.s, 1) < 0
   || setenv("UFLINE", ctx.ufline.s, 1) < 0)
  {
    static char const s[] = "postie-local: unable to set up the environment: out of memory\n" ;
    if (write(1, s, sizeof s - 1) < 0) { }
    _exit(111) ;
  }
  if (ctx.deflt) setenv("DEFAULT", ctx.deflt, 1) ; else unsetenv("DEFAULT") ;
  setparts() ;
  execv(argv[0], (char *const *)argv) ;
  {
    static char const s[] = "postie-local: unable to exec /bin/sh\n" ;
    if (write(1, s, sizeof s - 1) < 0) { }
  }
  _exit(111) ;
}

/* The program's output, on one line: blanks for control bytes, runs of
   blanks squeezed, none at either end. s[len] must be there; returns
   the new length, s terminated. */
static size_t output_one_line (char *s, size_t len)
{
  size_t i, j = 0 ;
  int sp = 1 ;
  for (i = 0 ; i < len ; i++)
  {
    char c = s[i] ;
    if ((unsigned char)c < 32 || c == 127 || c == ' ') { if (!sp) s[j++] = ' ' ; sp = 1 ; }
    else { s[j++] = c ; sp = 0 ; }
  }
  while (j && s[j - 1] == ' ') j-- ;
  s[j] = 0 ;
  return j ;
}

int deliver_program (char const *cmd)
{
  int p[2] ;
  pid_t pid ;
  int wstat ;
  char outbuf[LOCAL_PROGOUT_MAX + 1] ;
  size_t outlen = 0 ;
  int timedout = 0 ;

  if (msg_rewind() < 0) tempsys("unable to rewind the message") ;
  if (pipecoe(p) < 0) tempsys("unable to create a pipe") ;
  pid = fork() ;
  if (pid < 0) tempsys("unable to fork") ;
  if (!pid) { close(p[0]) ; child(cmd, p[1]) ; }
  close(p[1]) ;
  setpgid(pid, pid) ;  /* also here: no race with kill(-pid) below */

  local_alarm(ctx.progtimeout) ;
  for (;;)
  {
    char buf[4096] ;
    ssize_t r = read(p[0], buf, sizeof buf) ;
    if (r < 0)
    {
      if (errno == EINTR && !local_timedout) continue ;
      if (errno == EINTR) { timedout = 1 ; kill(-pid, SIGKILL) ; kill(pid, SIGKILL) ; }
      break ;
    }
    if (!r) break ;
    if (outlen < LOCAL_PROGOUT_MAX)
    {
      size_t k = (size_t)r < LOCAL_PROGOUT_MAX - outlen ? (size_t)r : LOCAL_PROGOUT_MAX - outlen ;
      memcpy(outbuf + outlen, buf, k) ;
      outlen += k ;
    }
  }
  close(p[0]) ;
  wstat = local_wait(pid, 1, &timedout, "the program") ;
  outlen = output_one_line(outbuf, outlen) ;

  if (timedout)
  {
    char fmt[ULONG_FMT] ;
    fmt[ulong_fmt(fmt, ctx.progtimeout)] = 0 ;
    temp("program |", cmd, " timed out after ", fmt, " seconds", outlen ? ": " : "", outbuf) ;
  }
  if (WIFSIGNALED(wstat))
  {
    char fmt[UINT_FMT] ;
    fmt[uint_fmt(fmt, WTERMSIG(wstat))] = 0 ;
    temp("program |", cmd, " killed by signal ", fmt, outlen ? ": " : "", outbuf) ;
  }
  {
    int code = WEXITSTATUS(wstat) ;
    char fmt[UINT_FMT] ;
    fmt[uint_fmt(fmt, code)] = 0 ;
    if (!code || code == 99)
    {
      if (code) did("program |", cmd, " (exit 99: stop)") ;
      else did("program |", cmd) ;
      return code ;
    }
    if (permanent(code)) perm("program |", cmd, " failed permanently (exit ", fmt, ")", outlen ? ": " : "", outbuf) ;
    temp("program |", cmd, " failed temporarily (exit ", fmt, ")", outlen ? ": " : "", outbuf) ;
  }
}
