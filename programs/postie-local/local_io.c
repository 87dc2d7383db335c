/* local_io.c: writing with a remembered error, reading the message, and
   the one timer (SIGALRM, installed without SA_RESTART, so that a blocked
   read, write, wait or lock wait returns EINTR when it rings), and the
   wait for a child under it. local_alarm(0) disarms it and keeps
   local_timedout as it was. */

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include "local.h"

volatile sig_atomic_t local_timedout = 0 ;

static void onalrm (int sig)
{
  (void)sig ;
  local_timedout = 1 ;
}

void local_alarm (unsigned long secs)
{
  static int installed = 0 ;
  struct itimerval it ;
  if (!installed)
  {
    struct sigaction sa ;
    memset(&sa, 0, sizeof sa) ;
    sa.sa_handler = &onalrm ;
    sigemptyset(&sa.sa_mask) ;
    sa.sa_flags = 0 ;
    sigaction(SIGALRM, &sa, 0) ;
    installed = 1 ;
  }
  /* After the deadline the timer keeps ringing every second: a blocking
     call entered just after the flag was set is interrupted too. */
  memset(&it, 0, sizeof it) ;
  if (secs)
  {
    local_timedout = 0 ;
    it.it_value.tv_sec = secs > 86400UL * 365 ? 86400L * 365 : (long)secs ;
    it.it_interval.tv_sec = 1 ;
  }
  setitimer(ITIMER_REAL, &it, 0) ;
}

int local_wait (pid_t pid, int group, int *killed, char const *what)
{
  int wstat ;
  while (waitpid(pid, &wstat, 0) < 0)
  {
    if (errno != EINTR) { local_alarm(0) ; tempsys("unable to wait for ", what) ; }
    if (local_timedout && !*killed)
    {
      *killed = 1 ;
      if (group) kill(-pid, SIGKILL) ;
      kill(pid, SIGKILL) ;
    }
  }
  local_alarm(0) ;
  return wstat ;
}

void local_printable (char *s, size_t n)
{
  for (; n-- ; s++)
    if ((unsigned char)*s < 32 || *s == 127) *s = '?' ;
}

void out_init (local_out *o, int fd)
{
  o->fd = fd ;
  o->err = 0 ;
  o->len = 0 ;
}

static int writeall (int fd, char const *s, size_t n)
{
  while (n)
  {
    ssize_t w = write(fd, s, n) ;
    if (w < 0)
    {
      if (errno == EINTR && !local_timedout) continue ;
      if (errno == EINTR) errno = ETIMEDOUT ;
      return -1 ;
    }
    s += w ; n -= w ;
  }
  return 0 ;
}

int out_flush (local_out *o)
{
  if (o->err) return (errno = o->err, -1) ;
  if (o->len && writeall(o->fd, o->buf, o->len) < 0)
  {
    o->err = errno ;
    o->len = 0 ;
    return -1 ;
  }
  o->len = 0 ;
  return 0 ;
}

void out_put (local_out *o, char const *s, size_t n)
{
  if (o->err) return ;
  if (o->len + n > sizeof o->buf && out_flush(o) < 0) return ;
  if (n > sizeof o->buf)
  {
    if (writeall(o->fd, s, n) < 0) o->err = errno ;
    return ;
  }
  memcpy(o->buf + o->len, s, n) ;
  o->len += n ;
}

void out_puts (local_out *o, char const *s)
{
  out_put(o, s, strlen(s)) ;
}

ssize_t msg_read (char *buf, size_t n)
{
  for (;;)
  {
    ssize_t r = read(0, buf, n) ;
    if (r >= 0 || errno != EINTR) return r ;
    if (local_timedout) return (errno = ETIMEDOUT, -1) ;
  }
}

int msg_rewind (void)
{
  return lseek(0, 0, SEEK_SET) == 0 ? 0 : -1 ;
}
