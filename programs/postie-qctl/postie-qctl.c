/* postie-qctl: delete, hold, release, or retry now one message, through
   postie-send: the request goes into queue/ctl, the trigger wakes
   postie-send, which carries it out between its own steps (never while
   a delivery of that message is in flight) and answers. The channel:
   doc/queue-ctl.md. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>  /* rename */
#include <string.h>
#include <unistd.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/buffer.h>
#include <skalibs/djbunix.h>
#include <skalibs/iopause.h>
#include <skalibs/sgetopt.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>
#include "postie.h"
#include "queue.h"

#define USAGE "postie-qctl [ -t timeout ] delete|hold|release|retry ID"
#define dieusage() strerr_dieusage(100, USAGE)
#define TIMEOUT_DEFAULT 120
#define ANSWER_MAX 512

static char req[32 + UINT64_FMT], run[32 + UINT64_FMT], re[32 + UINT64_FMT] ;
static int sent = 0 ;

static void mkname (char *path, char const *name, char const *suffix)
{
  size_t n = strlen(name) ;
  memcpy(path, "queue/ctl/", 10) ;
  memcpy(path + 10, name, n) ;
  memcpy(path + 10 + n, suffix, strlen(suffix) + 1) ;
}

/* The id postie-queue makes: digits.6 digits.digits. */
static int idok (char const *s)
{
  size_t i = 0, j ;
  for (j = i ; s[i] >= '0' && s[i] <= '9' ; i++) ;
  if (i == j || i - j > 20 || s[i++] != '.') return 0 ;
  for (j = i ; s[i] >= '0' && s[i] <= '9' ; i++) ;
  if (i - j != 6 || s[i++] != '.') return 0 ;
  for (j = i ; s[i] >= '0' && s[i] <= '9' ; i++) ;
  return i > j && i - j <= 20 && !s[i] ;
}

/* The answer, if there is one: 1 ok, 0 error (text in ans), -1 none yet. */
static int answer (char *ans)
{
  char buf[ANSWER_MAX + 1] ;
  ssize_t r = openreadnclose(re, buf, ANSWER_MAX) ;
  char *nl ;
  if (r < 0)
  {
    if (errno == ENOENT) return -1 ;
    strerr_diefusys(111, "read ", re) ;
  }
  unlink(re) ;
  buf[r] = 0 ;
  nl = memchr(buf, '\n', r) ;
  if (nl) *nl = 0 ;
  if (!strncmp(buf, "ok ", 3)) { memcpy(ans, buf + 3, strlen(buf + 3) + 1) ; return 1 ; }
  if (!strncmp(buf, "error ", 6)) { memcpy(ans, buf + 6, strlen(buf + 6) + 1) ; return 0 ; }
  memcpy(ans, "malformed answer from postie-send", 34) ;
  return 0 ;
}

/* Takes the request back, unless postie-send has claimed it: 1 withdrawn. */
static int withdraw (void)
{
  if (unlink(req) == 0) return 1 ;
  if (errno != ENOENT) strerr_diefusys(111, "remove ", req) ;
  return 0 ;
}

/* Over 80 lines: the option switch, then one request written and its
   answer awaited, in order. */
int main (int argc, char const *const *argv)
{
  unsigned int timeout = TIMEOUT_DEFAULT ;
  char const *cmd, *id ;
  char name[UINT64_FMT] ;
  char ans[ANSWER_MAX + 1] ;
  tain deadline ;
  int claimed = 0 ;
  PROG = "postie-qctl" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "t:", &l) ;
      if (opt == -1) break ;
      switch (opt)
      {
        case 't' : if (!uint0_scan(l.arg, &timeout)) dieusage() ; break ;
        default : dieusage() ;
      }
    }
    argc -= l.ind ; argv += l.ind ;
  }
  if (argc != 2) dieusage() ;
  cmd = argv[0] ; id = argv[1] ;
  if (strcmp(cmd, "delete") && strcmp(cmd, "hold") && strcmp(cmd, "release") && strcmp(cmd, "retry")) dieusage() ;
  if (!idok(id)) strerr_dief(100, "not a queue id: ", id) ;
  if (chdir(postie_home()) < 0) strerr_diefusys(111, "enter the instance directory ", postie_home()) ;

  name[uint64_fmt(name, (uint64_t)getpid())] = 0 ;
  mkname(req, name, ".req") ;
  mkname(run, name, ".run") ;
  mkname(re, name, ".re") ;
  unlink(re) ;  /* an answer nobody read, to an earlier process with our pid */
  {
    char tmp[32 + UINT64_FMT] ;
    char line[16 + QUEUE_ID_MAX] ;
    size_t n = strlen(cmd) ;
    int fd ;
    memcpy(line, cmd, n) ; line[n++] = ' ' ;
    memcpy(line + n, id, strlen(id)) ; n += strlen(id) ;
    line[n++] = '\n' ;
    mkname(tmp, name, ".new") ;
    /* 0644: postie-send (another uid in system mode) reads it */
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644) ;
    if (fd < 0)
    {
      if (errno == EACCES || errno == EPERM)
        strerr_diefusys(111, "create ", postie_home(), "/", tmp, " (postie-qctl runs as root, or as the instance's owner in unprivileged mode)") ;
      strerr_diefusys(111, "create ", postie_home(), "/", tmp) ;
    }
    if (fchmod(fd, 0644) < 0 || allwrite(fd, line, n) < n || fsync(fd) < 0)
    {
      unlink(tmp) ;
      strerr_diefusys(111, "write ", tmp) ;
    }
    close(fd) ;
    if (rename(tmp, req) < 0) { unlink(tmp) ; strerr_diefusys(111, "rename ", tmp, " to ", req) ; }
    sent = 1 ;
  }
  {
    int r = queue_trigger("queue/trigger", QUEUE_TRIGGER_CTL) ;
    if (r < 0)
    {
      int e = errno ;
      withdraw() ;
      errno = e ;
      strerr_diefusys(111, "write to queue/trigger") ;
    }
    if (!r && withdraw()) strerr_dief(111, "postie-send is not running: nothing done") ;
  }

  tain_now_set_stopwatch_g() ;
  if (timeout) tain_addsec_g(&deadline, (int)timeout) ;
  else deadline = tain_infinite ;
  for (;;)
  {
    int r = answer(ans) ;
    tain step ;
    if (r >= 0)
    {
      if (!r) strerr_dief(1, id, ": ", ans) ;
      buffer_puts(buffer_1, id) ;
      buffer_puts(buffer_1, ": ") ;
      buffer_puts(buffer_1, ans) ;
      buffer_putsflush(buffer_1, "\n") ;
      return 0 ;
    }
    tain_now_g() ;
    if (!tain_less(&STAMP, &deadline))
    {
      if (!claimed)
      {
        if (withdraw())
        {
          char fmt[UINT_FMT] ;
          fmt[uint_fmt(fmt, timeout)] = 0 ;
          strerr_dief(111, id, ": postie-send did not answer within ", fmt, " seconds (a delete waits for the deliveries in flight: try -t 0): request withdrawn, nothing done") ;
        }
        /* claimed: it is being carried out; the answer follows at once */
        claimed = 1 ;
        tain_addsec_g(&deadline, 10) ;
        continue ;
      }
      strerr_dief(111, id, ": postie-send took the request but did not answer: see its log") ;
    }
    /* 20 ms between looks: the answer is a file, and postie-qctl is an
       admin's command, not a hot path */
    {
      tain ms ;
      tain_from_millisecs(&ms, 20) ;
      tain_add_g(&step, &ms) ;
    }
    if (tain_less(&deadline, &step)) step = deadline ;
    iopause_g(0, 0, &step) ;
  }
}
