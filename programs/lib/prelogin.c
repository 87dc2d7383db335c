/* prelogin.c: see prelogin.h. */
#include <string.h>
#include <skalibs/iopause.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include "postie.h"
#include "prelogin.h"

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
