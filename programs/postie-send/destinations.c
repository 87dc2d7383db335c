/* destinations.c: destinations that took no session (doc/postie-send.md,
   "Destinations"). */

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
#include "send.h"

/* ---------- destinations that took no session ---------- */

/* A remote delivery whose every line is U (doc/remote-results.md: no
   host of the destination took a session) marks its domain down until
   its next retry: retrymin, doubling at each failed retry up to
   retrymax. Until then the destination's other deliveries are not
   started: their recipients are deferred at once and their messages come
   back at the destination's retry. When it comes, one delivery goes (the
   probe), the others keep waiting for its result: anything but U puts
   the destination back (its entry goes), U holds it longer. Memory
   only: a restart, or SIGALRM, forgets it. */
typedef struct dest_s dest ;
struct dest_s
{
  char *domain ;
  char *text ;      /* the last U result's text */
  int64_t until ;
  int64_t interval ;
  int probing ;
} ;

static dest *dests = 0 ;
static size_t ndests = 0, destcap = 0 ;

static dest *dest_find (char const *domain)
{
  size_t i ;
  for (i = 0 ; i < ndests ; i++) if (same_domain(dests[i].domain, domain)) return dests + i ;
  return 0 ;
}

static void dest_forget (dest *x)
{
  alloc_free(x->domain) ;
  alloc_free(x->text) ;
  *x = dests[--ndests] ;
}

void dest_clear (void)
{
  while (ndests) dest_forget(dests) ;
}

void dest_down (char const *domain, char const *text, int64_t t)
{
  dest *x = dest_find(domain) ;
  char fmt[UINT64_FMT] ;
  if (x && !x->probing) return ;  /* started before the destination was down: it already waits */
  if (!x)
  {
    if (ndests == destcap)
    {
      size_t nc = destcap ? destcap * 2 : 16 ;
      dest *p = realloc(dests, nc * sizeof(dest)) ;
      if (!p) die_nomem() ;
      dests = p ; destcap = nc ;
    }
    x = dests + ndests++ ;
    x->domain = strdup(domain) ;
    x->text = 0 ;
    x->interval = 0 ;
    if (!x->domain) die_nomem() ;
  }
  x->interval = x->interval ? x->interval * 2 : (int64_t)settings.retrymin ;
  if (x->interval < (int64_t)settings.retrymin) x->interval = (int64_t)settings.retrymin ;
  if (x->interval > (int64_t)settings.retrymax) x->interval = (int64_t)settings.retrymax ;
  x->until = t + x->interval ;
  x->probing = 0 ;
  alloc_free(x->text) ;
  x->text = strdup(text) ;
  if (!x->text) die_nomem() ;
  fmt[uint64_fmt(fmt, (uint64_t)x->interval)] = 0 ;
  LOG("warning: destination ", domain, " took no session: its deliveries wait ", fmt, " seconds for its next retry") ;
}

void dest_up (char const *domain)
{
  dest *x = dest_find(domain) ;
  if (!x) return ;
  LOG("status: destination ", domain, " takes sessions again") ;
  dest_forget(x) ;
}

/* Messages an admin asked to retry now (postie-qctl retry or release):
   their next remote delivery goes even to a destination that waits, as
   that destination's probe. A few at a time; the oldest is forgotten. */
#define FORCEDMAX 64
static queue_id forced[FORCEDMAX] ;
static unsigned int nforced = 0 ;

void dest_force (queue_id const *q)
{
  if (nforced == FORCEDMAX) { memmove(forced, forced + 1, (FORCEDMAX - 1) * sizeof(queue_id)) ; nforced-- ; }
  forced[nforced++] = *q ;
}

static int dest_forced (queue_id const *q)
{
  unsigned int i ;
  for (i = 0 ; i < nforced ; i++)
    if (forced[i].sec == q->sec && forced[i].usec == q->usec && forced[i].ino == q->ino)
    {
      forced[i] = forced[--nforced] ;
      return 1 ;
    }
  return 0 ;
}

/* The next remote delivery of a, if its destination is down: its
   recipients are deferred now, without a delivery, and the message
   will come back at the destination's next retry. Returns 1 if so (a may
   have been freed: its pass may be over), 0 to start the delivery. */
int dest_hold (active *a)
{
  int64_t t = now(), wait ;
  char const *dom ;
  dest *x ;
  uint32_t i, j ;
  for (i = a->cur[1] ; i < a->n ; i++)
  {
    rcpt const *r = a->r + i ;
    if (r->state == 'P' && r->pass == 0 && r->kind == 'R') break ;
  }
  if (i >= a->n) return 0 ;
  dom = info_str(a, a->r[i].domain) ;
  x = dest_find(dom) ;
  if (!x) return 0 ;
  if (t >= (int64_t)a->id.sec + (int64_t)settings.lifetime) return 0 ;  /* expired: tried, and bounced if it fails */
  if (dest_forced(&a->id)) { x->probing = 1 ; return 0 ; }  /* postie-qctl: now */
  if (!x->probing && t >= x->until) { x->probing = 1 ; return 0 ; }  /* the destination's retry */
  wait = x->probing ? t + (x->interval * 2 < (int64_t)settings.retrymax ? x->interval * 2 : (int64_t)settings.retrymax) : x->until ;
  for (j = i ; j < a->n ; j++)
  {
    rcpt *r = a->r + j ;
    if (r->state != 'P' || r->pass || r->kind != 'R' || !same_domain(info_str(a, r->domain), dom)) continue ;
    r->pass = 2 ;
    LOG("delivery ", a->idstr, ": <", info_str(a, r->addr), ">: deferral: destination ", dom,
        " took no session at its last attempt, waiting for its next retry: ", x->text) ;
    defer_add(a, info_str(a, r->addr), "destination took no session at its last attempt, waiting for its next retry: ", x->text, 900) ;
    a->unstarted[1]-- ;
    unstarted_total[1]-- ;
  }
  if (!a->skipwait || wait < a->skipwait) a->skipwait = wait ;
  if (!a->unstarted[1]) tostart_remove(1, a) ;
  if (pass_done(a)) pass_end(a) ;
  return 1 ;
}

