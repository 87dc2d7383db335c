/* settings.c: postie-send's settings, from control/ (doc/postie-send.md). */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>  /* rename */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/alloc.h>
#include <skalibs/djbunix.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "queue.h"
#include "postie.h"
#include "spawn.h"
#include "send.h"

send_settings settings = { .me = STRALLOC_ZERO, .doublebounceto = STRALLOC_ZERO } ;
local_resolver resolver = LOCAL_RESOLVER_ZERO ;

/* ---------- settings ---------- */

int settings_read (void)
{
  struct { unsigned long *u ; char const *name ; unsigned long def ; } const t[] =
  {
    { &settings.conclocal, "concurrencylocal", 10 },
    { &settings.concremote, "concurrencyremote", 20 },
    { &settings.lifetime, "queuelifetime", 604800 },
    { &settings.retrymin, "retrymin", 300 },
    { &settings.retrymax, "retrymax", 7200 },
    { &settings.tmpstale, "tmpstale", 3600 },
    { &settings.scaninterval, "scaninterval", 60 },
    { &settings.termwait, "termwait", 60 },
    { &settings.spawnwait, "spawnwait", 5 },
    { &settings.remotercptmax, "remotercptmax", 100 },
    { &settings.bounceheaderbytes, "bounceheaderbytes", 65536 },
    { &settings.activemax, "activemax", 5000 },
    { &settings.timeoutlocal, "timeoutlocal", 3600 },
    { &settings.timeoutremote, "timeoutremote", 3600 },
    { &settings.syncthreads, "syncthreads", 4 },
    { &settings.pickupmax, "pickupmax", 64 },
    { &settings.bouncemessagebytes, "bouncemessagebytes", 100000 },
  } ;
  unsigned int i ;
  for (i = 0 ; i < sizeof t / sizeof *t ; i++)
    if (control_readulong(t[i].u, t[i].name, t[i].def) < 0)
    {
      strerr_warnwu("read control/", t[i].name, ": ", control_strerror()) ;
      return 0 ;
    }
  if (!settings.retrymin) settings.retrymin = 1 ;
  if (settings.retrymax < settings.retrymin) settings.retrymax = settings.retrymin ;
  if (!settings.scaninterval) settings.scaninterval = 1 ;
  if (!settings.remotercptmax) settings.remotercptmax = 1 ;
  if (!settings.activemax) settings.activemax = 1 ;
  if (!settings.pickupmax) settings.pickupmax = 1 ;
  if (settings.pickupmax > PICKUP_CAP) settings.pickupmax = PICKUP_CAP ;
  if (settings.remotercptmax > SPAWN_FIELDS_MAX - 10) settings.remotercptmax = SPAWN_FIELDS_MAX - 10 ;
  if (control_readline(&settings.doublebounceto, "doublebounceto", "postmaster", 1000) < 0)
  {
    strerr_warnwusys("read control/doublebounceto") ;
    return 0 ;
  }
  /* a double bounce is never dropped: an empty file means the default */
  if (settings.doublebounceto.len <= 1 && !stralloc_copys(&settings.doublebounceto, "postmaster")) die_nomem() ;
  if (!stralloc_0(&settings.doublebounceto)) die_nomem() ;
  settings.doublebounceto.len-- ;
  /* control/me, locals, aliases: required (local_resolve.h); the
     resolver's copy of control/me is ours too. */
  if (local_resolve_init(&resolver) < 0)
  {
    strerr_warnwusys("read ", resolver.errfile[0] ? resolver.errfile : "the control files") ;
    return 0 ;
  }
  if (!stralloc_copy(&settings.me, &resolver.me)) { strerr_warnwusys("read control/me") ; return 0 ; }
  return 1 ;
}

/* SIGHUP, or the trigger's QUEUE_TRIGGER_RELOAD (newaliases). */
void settings_reload (void)
{
  if (settings_read()) LOG("status: settings read again") ;
  else LOG("warning: keeping part of the old settings") ;
}
