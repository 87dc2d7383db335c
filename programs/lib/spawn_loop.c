/* spawn_loop.c: the event loop postie-lspawn and postie-rspawn share
   (spawn.h): requests on fd 0, one child per request, reports on fd 1. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/alloc.h>
#include <skalibs/djbunix.h>
#include <skalibs/iopause.h>
#include <skalibs/selfpipe.h>
#include <skalibs/sig.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>
#include "spawn.h"

typedef struct child_s child ;
struct child_s
{
  pid_t pid ;
  int fd ;
  stralloc req ;
  stralloc out ;
  size_t outmax ;
  tain deadline ;
  int timedout ;
} ;

static unsigned int timeout = 0 ;

static child *kids ;
static unsigned int nkids = 0 ;
static char const *fields[SPAWN_FIELDS_MAX] ;

static void die_proto (void)
{
  strerr_dief(100, "malformed request from postie-send") ;
}

static void report (spawn_ops const *ops, child *k, int wstat)
{
  stralloc out = STRALLOC_ZERO ;
  stralloc rec = STRALLOC_ZERO ;
  int n = spawn_split(k->req.s, k->req.len, fields, SPAWN_FIELDS_MAX) ;
  if (n < 2) die_proto() ;
  if (!stralloc_catb(&out, fields[0], strlen(fields[0]) + 1)) strerr_diefu(111, "allocate") ;
  if (!(*ops->report)(&out, fields + 2, (unsigned int)n - 2, k->out.s, k->out.len, wstat)) strerr_diefu(111, "allocate") ;
  {
    char fmt[SIZE_FMT] ;
    if (!stralloc_catb(&rec, fmt, size_fmt(fmt, out.len)) || !stralloc_catb(&rec, ":", 1)
     || !stralloc_catb(&rec, out.s, out.len) || !stralloc_catb(&rec, ",", 1))
      strerr_diefu(111, "allocate") ;
  }
  /* postie-send gone: nobody to tell; it retries this delivery later */
  if (allwrite(1, rec.s, rec.len) < rec.len && errno != EPIPE) strerr_diefusys(111, "write to postie-send") ;
  stralloc_free(&out) ;
  stralloc_free(&rec) ;
}

static void drain (child *k)
{
  char buf[4096] ;
  for (;;)
  {
    ssize_t r ;
    if (k->fd < 0) return ;
    r = fd_read(k->fd, buf, sizeof buf) ;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return ;
    if (r <= 0) { fd_close(k->fd) ; k->fd = -1 ; return ; }
    if (k->out.len < k->outmax)
    {
      size_t n = (size_t)r < k->outmax - k->out.len ? (size_t)r : k->outmax - k->out.len ;
      if (!stralloc_catb(&k->out, buf, n)) strerr_diefu(111, "allocate") ;
    }
  }
}

/* A message file name as postie-send makes it: relative, no ".." */
static int msgpath_ok (char const *s)
{
  if (!*s || *s == '/') return 0 ;
  for (;;)
  {
    size_t n = strcspn(s, "/") ;
    if (n == 2 && s[0] == '.' && s[1] == '.') return 0 ;
    if (!s[n]) return 1 ;
    s += n + 1 ;
  }
}

static void start (spawn_ops const *ops, char const *p, size_t len)
{
  child *k = kids + nkids ;
  int pfd[2] ;
  pid_t pid ;
  int n = spawn_split(p, len, fields, SPAWN_FIELDS_MAX) ;
  if (n < 2) die_proto() ;
  k->req = stralloc_zero ;
  k->out = stralloc_zero ;
  if (!stralloc_catb(&k->req, p, len)) strerr_diefu(111, "allocate") ;
  k->outmax = (*ops->outmax)((unsigned int)n - 2) ;
  k->timedout = 0 ;
  if (timeout) tain_addsec_g(&k->deadline, (int)timeout) ;
  else k->deadline = tain_infinite ;
  if (pipecoe(pfd) < 0) strerr_diefusys(111, "create a pipe") ;
  pid = fork() ;
  if (pid < 0) strerr_diefusys(111, "fork") ;
  if (!pid)
  {
    struct stat st ;
    int mfd ;
    selfpipe_finish() ;
    sig_restore(SIGPIPE) ;
    setpgid(0, 0) ;  /* a timeout kills whatever the delivery started too */
    if (fd_move(1, pfd[1]) < 0) _exit(111) ;
    /* These texts have no kind byte: the spawner's report function adds
       the result's (exit 111: Z), as for its program's own output.
       postie-lspawn opens it as root and hands it to the recipient: only
       a regular file inside the instance, never through a symlink, so
       that whoever can write requests cannot read /etc/shadow. */
    if (!msgpath_ok(fields[1]))
    {
      static char const m[] = "message file outside the instance\n" ;
      if (write(1, m, sizeof m - 1) < 0) { }
      _exit(111) ;
    }
    mfd = open(fields[1], O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY) ;
    if (mfd < 0 || fstat(mfd, &st) < 0 || !S_ISREG(st.st_mode) || ndelay_off(mfd) < 0)
    {
      static char const m[] = "unable to open the message file\n" ;
      if (write(1, m, sizeof m - 1) < 0) { }
      _exit(111) ;
    }
    if (fd_move(0, mfd) < 0) _exit(111) ;  /* dup2: fd 0 survives exec */
    (*ops->child)(fields + 2, (unsigned int)n - 2) ;
    _exit(111) ;
  }
  fd_close(pfd[1]) ;
  ndelay_on(pfd[0]) ;
  k->pid = pid ;
  k->fd = pfd[0] ;
  nkids++ ;
}

static void reap (spawn_ops const *ops)
{
  for (;;)
  {
    int wstat ;
    unsigned int i ;
    pid_t pid = waitpid(-1, &wstat, WNOHANG) ;
    if (pid <= 0) return ;
    for (i = 0 ; i < nkids ; i++) if (kids[i].pid == pid) break ;
    if (i == nkids) continue ;
    drain(kids + i) ;
    if (kids[i].fd >= 0) { fd_close(kids[i].fd) ; kids[i].fd = -1 ; }
    if (kids[i].timedout)
    {
      char fmt[UINT_FMT] ;
      fmt[uint_fmt(fmt, timeout)] = 0 ;
      kids[i].out.len = 0 ;
      if (!stralloc_cats(&kids[i].out, "delivery timed out after ") || !stralloc_cats(&kids[i].out, fmt)
       || !stralloc_cats(&kids[i].out, " seconds (#4.4.2)\n"))
        strerr_diefu(111, "allocate") ;
      wstat = 111 << 8 ;
    }
    report(ops, kids + i, wstat) ;
    stralloc_free(&kids[i].req) ;
    stralloc_free(&kids[i].out) ;
    kids[i] = kids[--nkids] ;
  }
}

void spawn_loop (spawn_ops const *ops, unsigned int maxchildren, unsigned int tmo)
{
  stralloc in = STRALLOC_ZERO ;
  iopause_fd *x ;
  int eof = 0 ;
  int sfd ;
  if (!maxchildren) maxchildren = 1 ;
  timeout = tmo ;
  kids = alloc(sizeof(child) * maxchildren) ;
  x = alloc(sizeof(iopause_fd) * (maxchildren + 2)) ;
  if (!kids || !x) strerr_diefu(111, "allocate") ;
  sig_ignore(SIGPIPE) ;
  sfd = selfpipe_init() ;
  if (sfd < 0) strerr_diefusys(111, "selfpipe_init") ;
  if (!selfpipe_trap(SIGCHLD)) strerr_diefusys(111, "trap SIGCHLD") ;
  ndelay_on(0) ;
  tain_now_g() ;
  for (;;)
  {
    unsigned int n = 1, i ;
    int inidx = -1 ;
    /* start what complete requests we hold, as far as the limit allows */
    while (nkids < maxchildren && in.len)
    {
      size_t st, pl ;
      ssize_t r = spawn_get(in.s, in.len, SPAWN_RECORD_MAX, &st, &pl) ;
      if (r < 0) die_proto() ;
      if (!r) break ;
      start(ops, in.s + st, pl) ;
      memmove(in.s, in.s + r, in.len - (size_t)r) ;
      in.len -= (size_t)r ;
    }
    if (eof && !nkids)
    {
      if (in.len) die_proto() ;
      return ;
    }
    x[0].fd = sfd ; x[0].events = IOPAUSE_READ ;
    if (!eof && nkids < maxchildren)
    {
      inidx = n ;
      x[n].fd = 0 ; x[n].events = IOPAUSE_READ ; n++ ;
    }
    for (i = 0 ; i < nkids ; i++)
      if (kids[i].fd >= 0) { x[n].fd = kids[i].fd ; x[n].events = IOPAUSE_READ ; n++ ; }
    {
      tain deadline = tain_infinite ;
      for (i = 0 ; i < nkids ; i++)
        if (!kids[i].timedout && tain_less(&kids[i].deadline, &deadline)) deadline = kids[i].deadline ;
      if (iopause_g(x, n, &deadline) < 0) strerr_diefusys(111, "iopause") ;
      for (i = 0 ; i < nkids ; i++)
        if (!kids[i].timedout && !tain_less(&STAMP, &kids[i].deadline))
        {
          kids[i].timedout = 1 ;
          kill(-kids[i].pid, SIGKILL) ;
          kill(kids[i].pid, SIGKILL) ;
        }
    }
    for (i = 0 ; i < nkids ; i++) drain(kids + i) ;
    if (x[0].revents & IOPAUSE_READ)
    {
      int sig ;
      while ((sig = selfpipe_read()) > 0) if (sig == SIGCHLD) reap(ops) ;
      if (sig < 0) strerr_diefusys(111, "selfpipe_read") ;
    }
    if (inidx >= 0 && x[inidx].revents & (IOPAUSE_READ | IOPAUSE_EXCEPT))
    {
      ssize_t r ;
      if (!stralloc_readyplus(&in, 65536)) strerr_diefu(111, "allocate") ;
      r = fd_read(0, in.s + in.len, 65536) ;
      if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) strerr_diefusys(111, "read from postie-send") ;
      if (!r)
      {
        /* postie-send exited (or stops after its wait): a result can no
           longer be recorded, so a delivery still running would only be
           made again later. Stop them. */
        eof = 1 ;
        for (i = 0 ; i < nkids ; i++)
        {
          kill(-kids[i].pid, SIGTERM) ;
          kill(kids[i].pid, SIGTERM) ;
        }
      }
      if (r > 0) in.len += (size_t)r ;
      if (in.len > SPAWN_RECORD_MAX + 16 && spawn_get(in.s, in.len, SPAWN_RECORD_MAX, &(size_t){0}, &(size_t){0}) == 0)
        die_proto() ;
    }
  }
}
