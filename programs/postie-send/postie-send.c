/* postie-send: the scheduler. Picks up new messages from queue/todo,
   records who gets each one (local or remote) in queue/info, runs the
   deliveries through postie-lspawn and postie-rspawn, marks each recipient
   done the moment its result is known, retries temporary failures on a
   growing schedule, bounces permanent failures and expired messages, and
   removes finished messages. Layout and safety argument: doc/queue.md and
   doc/postie-send.md; the spawners' protocol: doc/spawn-protocol.md. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/iopause.h>
#include <skalibs/selfpipe.h>
#include <skalibs/sig.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>
#include "postie.h"
#include "queue.h"
#include "send.h"
#include "syncpool.h"

#define USAGE "postie-send"

/* ---------- logging ---------- */

void logv (char const *const *s, unsigned int n)
{
  char buf[4096] ;
  size_t len = 13 ;
  unsigned int i ;
  memcpy(buf, "postie-send: ", 13) ;
  for (i = 0 ; i < n ; i++)
  {
    size_t m = strlen(s[i]) ;
    if (m > sizeof buf - 1 - len) m = sizeof buf - 1 - len ;
    memcpy(buf + len, s[i], m) ;
    len += m ;
  }
  buf[len++] = '\n' ;
  if (allwrite(2, buf, len) < len) { }
}

void die_nomem (void)
{
  strerr_dief(111, "out of memory") ;
}

/* ---------- time ---------- */

int64_t now (void)
{
  struct timespec ts ;
  clock_gettime(CLOCK_REALTIME, &ts) ;
  return (int64_t)ts.tv_sec ;
}

/* ---------- the scheduler ---------- */

int stopping = 0 ;

static int want_more (void)
{
  unsigned long base = settings.conclocal + settings.concremote ;
  if (nactive >= settings.activemax) return 0 ;
  if (nactive < base) return 1 ;
  return (spawners[0].running < concurrency(0) && !unstarted_total[0])
      || (spawners[1].running < concurrency(1) && !unstarted_total[1]) ;
}

static void dispatch (void)
{
  int64_t t = now() ;
  int progress = 1 ;
  if (stopping) return ;
  while (progress)
  {
    int k ;
    progress = 0 ;
    while (want_more())
    {
      queue_id q ;
      int64_t next ;
      if (newq_pop(&q)) ;
      else if (heap_top(&next) && next <= t) heap_pop(&q) ;
      else break ;
      activate(&q) ;
      progress = 1 ;
    }
    for (k = 0 ; k < 2 ; k++)
      while (spawners[k].running < concurrency(k) && unstarted_total[k])
      {
        if (!tostart[k]) break ;
        start(k, tostart[k]) ;
        progress = 1 ;
      }
  }
}

/* Signals are trapped first: a SIGALRM or SIGHUP during start-up is
   handled once the loop runs, never fatal. Returns the selfpipe. */
static int signals_trap (void)
{
  sigset_t ss ;
  int sfd = selfpipe_init() ;
  if (sfd < 0) strerr_diefusys(111, "selfpipe_init") ;
  sigemptyset(&ss) ;
  sigaddset(&ss, SIGTERM) ; sigaddset(&ss, SIGHUP) ; sigaddset(&ss, SIGALRM) ; sigaddset(&ss, SIGCHLD) ;
  if (!selfpipe_trapset(&ss)) strerr_diefusys(111, "trap signals") ;
  return sfd ;
}

/* The spawners are started as root; then, in system mode, postie-send
   drops to its own user before it reads any queue file. */
static void privileges_drop (void)
{
  uid_t u ;
  gid_t g ;
  if (geteuid()) return ;
  if (ids_get("POSTIE_SEND_UID", "POSTIE_SEND_GID", &u, &g)) become(u, g, "POSTIE_SEND_GIDLIST") ;
  else LOG("status: running as root (POSTIE_SEND_UID and POSTIE_SEND_GID not set)") ;
}

/* queue/trigger, made if missing: the reading end, and a writing end
   kept open so that the pipe never reports end of file. */
static int trigger_open (void)
{
  int trig, trigw ;
  if (mkfifo("queue/trigger", 0620) == 0) { if (chmod("queue/trigger", 0620) < 0) strerr_diefusys(111, "chmod queue/trigger") ; }
  else if (errno != EEXIST) strerr_diefusys(111, "mkfifo queue/trigger") ;
  trig = open("queue/trigger", O_RDONLY | O_NONBLOCK | O_CLOEXEC) ;
  if (trig < 0) strerr_diefusys(111, "open queue/trigger") ;
  trigw = open("queue/trigger", O_WRONLY | O_NONBLOCK | O_CLOEXEC) ;
  if (trigw < 0) strerr_diefusys(111, "open queue/trigger for writing") ;
  return trig ;
}

static void syncthreads_start (void)
{
  unsigned long want = settings.syncthreads ;
  char fmt[ULONG_FMT], fmt2[UINT_FMT] ;
  int r ;
  if (!want || want > SYNCPOOL_THREADS_MAX)
  {
    unsigned long w = want ? SYNCPOOL_THREADS_MAX : 1 ;
    fmt[ulong_fmt(fmt, want)] = 0 ;
    fmt2[uint_fmt(fmt2, (unsigned int)w)] = 0 ;
    LOG("warning: control/syncthreads is ", fmt, ", not 1 to 64: using ", fmt2) ;
    want = w ;
  }
  r = syncpool_start((unsigned int)want) ;
  if (r <= 0) strerr_diefusys(111, "start the sync threads") ;
  if ((unsigned long)r < want)
  {
    fmt[ulong_fmt(fmt, want)] = 0 ;
    fmt2[uint_fmt(fmt2, (unsigned int)r)] = 0 ;
    LOG("warning: unable to start ", fmt, " sync threads: running with ", fmt2) ;
  }
}

/* Every pickup of the backlog completes before the info files are
   listed: a message is scheduled once, by one or the other. The loop
   ends when a round made no progress (rescan_todo then drops the
   buckets): what is left in todo waits for the first scan. */
static void startup_queue (void)
{
  char fmt[SIZE_FMT] ;
  scan_todo(0) ;
  while (npickups || rescan)
  {
    iopause_fd x = { .fd = syncpool_fd(), .events = IOPAUSE_READ } ;
    sync_kick() ;
    if (iopause_g(&x, 1, 0) < 0) strerr_diefusys(111, "iopause") ;
    sync_completions() ;
    rescan_todo() ;
  }
  scan_info() ;
  ctl_scan(&ctl_apply) ;  /* requests left from before a restart */
  fmt[size_fmt(fmt, heap_len())] = 0 ;
  LOG("status: ready, ", fmt, " messages in the queue") ;
}

static int64_t stopat = 0 ;

static void signals_handle (void)
{
  int sig ;
  while ((sig = selfpipe_read()) > 0)
  {
    switch (sig)
    {
      case SIGTERM :
        if (!stopping)
        {
          char fmt[UINT_FMT] ;
          fmt[uint_fmt(fmt, spawners[0].running + spawners[1].running)] = 0 ;
          LOG("status: exiting after ", fmt, " running deliveries") ;
          stopping = 1 ;
          stopat = now() + (int64_t)settings.termwait ;
        }
        break ;
      case SIGHUP : settings_reload() ; break ;
      case SIGALRM : retry_all() ; break ;
      case SIGCHLD :
        for (;;)
        {
          int w, k ;
          pid_t pid = waitpid(-1, &w, WNOHANG) ;
          if (pid <= 0) break ;
          for (k = 0 ; k < 2 ; k++) if (pid == spawners[k].pid) strerr_dief(111, spawners[k].prog, " died") ;
        }
        break ;
    }
  }
  if (sig < 0) strerr_diefusys(111, "selfpipe_read") ;
}

/* When the loop must wake up at the latest, at t: the next scan, the
   heap's top, the end of termwait. */
static void loop_deadline (tain *deadline, int64_t t, int64_t nextscan)
{
  int64_t wake = nextscan, top ;
  if (!stopping && newq_empty() && heap_top(&top) && top < wake) wake = top ;
  if (stopping && stopat < wake) wake = stopat ;
  if (stopping && t >= stopat) wake = t + 1 ;  /* only completions to wait for */
  if (wake < t) wake = t ;
  /* the heap's top may be due while every slot is busy: then a result
     wakes us, not the clock */
  if (!stopping && !want_more() && wake == t) wake = nextscan ;
  tain_addsec_g(deadline, (int)(wake - t > 86400 ? 86400 : wake - t)) ;
  if (wake == t) *deadline = STAMP ;
}

int main (int argc, char const *const *argv)
{
  int sfd, trig, lockfd ;
  int64_t nextscan ;
  PROG = "postie-send" ;
  (void)argv ;
  if (argc > 1) strerr_dieusage(100, USAGE) ;
  umask(027) ;
  sfd = signals_trap() ;
  if (chdir(postie_home()) < 0) strerr_diefusys(111, "enter the instance directory") ;
  if (!settings_read()) strerr_dief(111, "unable to read the settings") ;
  sig_ignore(SIGPIPE) ;
  spawner_start(0) ;
  spawner_start(1) ;
  privileges_drop() ;
  lockfd = open("queue/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0640) ;
  if (lockfd < 0) strerr_diefusys(111, "open queue/lock") ;
  if (flock(lockfd, LOCK_EX | LOCK_NB) < 0) strerr_diefusys(111, "lock queue/lock (is another postie-send running?)") ;
  mkdirs() ;
  clean_tmp() ;
  clean_work() ;
  trig = trigger_open() ;
  LOG("status: starting") ;
  syncthreads_start() ;
  startup_queue() ;
  nextscan = now() + (int64_t)settings.scaninterval ;
  tain_now_g() ;

  for (;;)
  {
    iopause_fd x[7] ;
    unsigned int n = 0, k ;
    int ito[2] = { -1, -1 } ;
    tain deadline ;
    int64_t t ;
    dispatch() ;
    for (k = 0 ; k < 2 ; k++) if (spawners[k].w.len) spawner_write(k) ;
    t = now() ;
    /* no exit while a thread may still sync one of our fds */
    if (stopping && !sync_jobs() && ((!spawners[0].running && !spawners[1].running) || t >= stopat)) break ;
    sync_kick() ;
    loop_deadline(&deadline, t, nextscan) ;
    x[n].fd = sfd ; x[n++].events = IOPAUSE_READ ;
    x[n].fd = trig ; x[n++].events = IOPAUSE_READ ;
    x[n].fd = spawners[0].from ; x[n++].events = IOPAUSE_READ ;
    x[n].fd = spawners[1].from ; x[n++].events = IOPAUSE_READ ;
    x[n].fd = syncpool_fd() ; x[n++].events = IOPAUSE_READ ;
    for (k = 0 ; k < 2 ; k++)
      if (spawners[k].w.len) { ito[k] = n ; x[n].fd = spawners[k].to ; x[n++].events = IOPAUSE_WRITE ; }
    if (iopause_g(x, n, &deadline) < 0) strerr_diefusys(111, "iopause") ;
    for (k = 0 ; k < 2 ; k++)
      if (ito[k] >= 0 && x[ito[k]].revents & (IOPAUSE_WRITE | IOPAUSE_EXCEPT)) spawner_write(k) ;
    if (x[2].revents & (IOPAUSE_READ | IOPAUSE_EXCEPT)) spawner_read(0) ;
    if (x[3].revents & (IOPAUSE_READ | IOPAUSE_EXCEPT)) spawner_read(1) ;
    if (x[4].revents & (IOPAUSE_READ | IOPAUSE_EXCEPT)) sync_completions() ;
    if (x[0].revents & IOPAUSE_READ) signals_handle() ;
    if (x[1].revents & IOPAUSE_READ) trigger_read(trig, !stopping) ;
    if (!stopping) rescan_todo() ;
    if (now() >= nextscan)
    {
      if (!stopping) { scan_todo(1) ; ctl_scan(&ctl_apply) ; }
      nextscan = now() + (int64_t)settings.scaninterval ;
    }
    tain_now_g() ;
  }
  spawners_finish(sfd) ;
  LOG("status: exiting") ;
  return 0 ;
}
