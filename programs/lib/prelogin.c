/* prelogin.c: see prelogin.h. */
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <skalibs/djbunix.h>
#include <skalibs/iopause.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include "cprun.h"
#include "postie.h"
#include "prelogin.h"
#include "timedio.h"
#include "ucspitls.h"

/* A skalibs buffer keeps one byte of its storage free: 2 bytes read one
   at a time. */
static char inbyte[2] ;
static char outspace[1024 + 1] ;
timedio prelogin_io = TIMEDIO_INIT(0, inbyte, sizeof inbyte, 1, outspace, sizeof outspace) ;

static int one (unsigned long *u, char const *proto, char const *what)
{
  char name[64] ;
  size_t p = strlen(proto), w = strlen(what) ;
  if (p + w + 1 > sizeof name) return 0 ;
  memcpy(name, proto, p) ;
  memcpy(name + p, what, w + 1) ;
  if (control_readulong(u, name, *u) < 0)
  {
    strerr_warnwu("read control/", name, ": ", control_strerror()) ;
    return 0 ;
  }
  return 1 ;
}

int prelogin_controls (prelogin *l, char const *proto)
{
  if (!one(&l->timeout, proto, "timeout") || !one(&l->faildelay, proto, "faildelay")
   || !one(&l->maxbad, proto, "maxbad") || !one(&l->maxfail, proto, "maxfail")
   || !one(&l->logintime, proto, "logintime") || !one(&l->maxcmds, proto, "maxcmds")) return 0 ;
  if (!l->timeout) l->timeout = 1 ;
  if (l->timeout > 86400) l->timeout = 86400 ;
  if (!l->logintime) l->logintime = 1 ;
  if (l->logintime > 86400) l->logintime = 86400 ;
  if (!l->maxcmds) l->maxcmds = 1 ;
  if (l->faildelay > 60) l->faildelay = 60 ;
  if (!l->maxbad) l->maxbad = 1 ;
  if (!l->maxfail) l->maxfail = 1 ;
  return 1 ;
}

void prelogin_pause (unsigned long secs)
{
  tain deadline ;
  tain_now_g() ;
  tain_addsec_g(&deadline, secs) ;
  deepsleepuntil_g(&deadline) ;
}

int prelogin_login (prelogin const *l, unsigned long *nfail, char const *const *argv, char const *hostname,
                    ucspitls const *tls, char const *name, size_t namelen, char const *pw, size_t pwlen)
{
  char stamp[CPRUN_STAMP_MAX] ;
  cprun_how how = { .argv = argv, .stamp = stamp, .rfd = CPRUN_OWN, .wfd = CPRUN_OWN, .timeout = 0 } ;
  int r ;
  if (tls->active && tls->rfd >= 0) { how.rfd = tls->rfd ; how.wfd = tls->wfd ; }
  cprun_stamp(stamp, hostname) ;
  r = cprun(&how, name, namelen, pw, pwlen) ;
  tain_now_g() ;
  if (!r) _exit(0) ;
  if (r < 0) { cprun_logfail(name, namelen, "tempfail") ; return -1 ; }
  cprun_logfail(name, namelen, "failed") ;
  prelogin_pause(l->faildelay) ;
  return ++*nfail >= l->maxfail ? 2 : 1 ;
}

int prelogin_start (prelogin *l, char const *proto, ucspitls *tls, tain *loginend)
{
  signal(SIGPIPE, SIG_IGN) ;
  tain_now_set_stopwatch_g() ;
  tain_now_g() ;
  if (ndelay_on(0) < 0 || ndelay_on(1) < 0) strerr_diefusys(111, "set non-blocking mode") ;
  ucspitls_init(tls) ;
  if (chdir(postie_home()) < 0) { strerr_warnwusys("chdir to ", postie_home()) ; return 0 ; }
  if (!prelogin_controls(l, proto)) return 0 ;
  tain_now_g() ;
  tain_addsec_g(loginend, l->logintime) ;
  return 1 ;
}

void prelogin_out (prelogin const *l, char const *s)
{
  if (!timedio_put(&prelogin_io, s, strlen(s), l->timeout) || !timedio_flush_within(&prelogin_io, l->timeout)) _exit(0) ;
}

int prelogin_deadline (prelogin const *l, tain const *loginend, tain *d)
{
  tain_addsec_g(d, l->timeout) ;
  if (!tain_less(loginend, d)) return 0 ;
  *d = *loginend ;
  return 1 ;
}

void prelogin_starttls (prelogin const *l, ucspitls *tls)
{
  tain deadline ;
  int r ;
  timedio_discard(&prelogin_io) ;
  tain_now_g() ;
  tain_addsec_g(&deadline, l->timeout) ;
  r = ucspitls_start(tls, &deadline) ;
  if (r < 0) strerr_warnwusys("start TLS") ;
  if (r <= 0) _exit(0) ;
  timedio_switch(&prelogin_io, tls->rfd, tls->wfd) ;
}
