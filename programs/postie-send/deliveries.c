/* deliveries.c: starting deliveries and reading their results. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>  /* rename */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/bytestr.h>
#include <skalibs/alloc.h>
#include <skalibs/djbunix.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "queue.h"
#include "spawn.h"
#include "send.h"

/* ---------- deliveries ---------- */

int same_domain (char const *a, char const *b)
{
  return case_equals(a, b) ;
}

static void slot_add (delivery *d, uint32_t i)
{
  if (d->nrc == d->cap)
  {
    uint32_t nc = d->cap ? d->cap * 2 : 4 ;
    uint32_t *p = realloc(d->rc, nc * sizeof(uint32_t)) ;
    if (!p) die_nomem() ;
    d->rc = p ; d->cap = nc ;
  }
  d->rc[d->nrc++] = i ;
}

void start (int k, active *a)
{
  spawner *c = spawners + k ;
  char const **f ;
  char slotname[UINT_FMT] ;
  unsigned int slot, nf = 0 ;
  uint32_t i ;
  delivery *d ;
  if (k && dest_hold(a)) return ;
  for (slot = 0 ; slot < CONC_MAX ; slot++) if (!c->d[slot].used) break ;
  d = c->d + slot ;
  d->used = 1 ; d->a = a ; d->nrc = 0 ;
  for (i = a->cur[k] ; i < a->n ; i++)
  {
    rcpt *r = a->r + i ;
    if (r->state == 'P' && r->pass == 0 && r->kind == c->kindch) break ;
  }
  a->cur[k] = i + 1 ;
  slot_add(d, i) ;
  if (k)
  {
    uint32_t j ;
    for (j = i + 1 ; j < a->n && d->nrc < settings.remotercptmax ; j++)
    {
      rcpt *r = a->r + j ;
      if (r->state == 'P' && r->pass == 0 && r->kind == 'R' && same_domain(info_str(a, r->domain), info_str(a, a->r[i].domain)))
        slot_add(d, j) ;
    }
  }
  f = alloc(sizeof(char const *) * (d->nrc + 8)) ;
  if (!f) die_nomem() ;
  slotname[uint_fmt(slotname, slot)] = 0 ;
  f[nf++] = slotname ;
  f[nf++] = a->mess ;
  if (!k)
  {
    rcpt *r = a->r + i ;
    f[nf++] = info_str(a, r->user) ; f[nf++] = info_str(a, r->local) ; f[nf++] = info_str(a, r->ext) ;
    f[nf++] = info_str(a, r->domain) ; f[nf++] = info_str(a, a->sender) ;
  }
  else
  {
    f[nf++] = info_str(a, a->r[i].domain) ;
    f[nf++] = info_str(a, a->sender) ;
    for (i = 0 ; i < d->nrc ; i++) f[nf++] = info_str(a, a->r[d->rc[i]].addr) ;
  }
  if (!spawn_put(&c->w, f, nf)) die_nomem() ;
  alloc_free(f) ;
  for (i = 0 ; i < d->nrc ; i++)
  {
    rcpt *r = a->r + d->rc[i] ;
    r->pass = 1 ;
    LOG("starting delivery ", a->idstr, " ", k ? "R" : "L", slotname, ": ", k ? "remote <" : "local <", info_str(a, r->addr), ">") ;
  }
  a->unstarted[k] -= d->nrc ;
  unstarted_total[k] -= d->nrc ;
  if (!a->unstarted[k]) tostart_remove(k, a) ;
  a->running++ ;
  c->running++ ;
}

/* postie-rspawn's field after the recipients' is postie-remote's message
   line (doc/spawn-protocol.md): when the server took the message, its
   reply to the end of DATA names the message in its own queue, which is
   what traces it across servers. */
static void remote_message_log (active const *a, char const *slotname, char const *const *lines, unsigned int nlines, uint32_t nrc)
{
  uint32_t i ;
  if (nlines <= nrc || lines[nrc][0] != 'K') return ;
  for (i = 0 ; i < nrc ; i++) if (lines[i][0] == 'K') break ;
  if (i == nrc) return ;  /* no recipient accepted: no DATA */
  LOG("delivery ", a->idstr, " R", slotname, ": message: ", lines[nrc] + 1) ;
}

/* A recipient's outcome from its result line: K success, D permanent
   failure, Z temporary failure (U too). A double bounce neither bounces
   nor expires: its permanent failure is a temporary one, and it waits
   for the postmaster's address to work. */
static char outcome (char const *line, int dbl)
{
  return line[0] == 'K' || (line[0] == 'D' && !dbl) ? line[0] : 'Z' ;
}

static char const *result_line (char const *const *lines, unsigned int nlines, uint32_t i)
{
  return i < nlines ? lines[i] : "Zno result for this recipient" ;
}

/* What must be on disk before any mark: the permanent failures' bounce
   records (bounce_sync), and in memory the deferral reasons. Returns 1
   when failures were recorded, 0 when there were none, -1 when they
   could not be (a full disk: those recipients stay pending, unmarked). */
static int result_records (int k, delivery const *d, char const *const *lines, unsigned int nlines, int dbl, int expired)
{
  active *a = d->a ;
  uint32_t i ;
  int failed = 0 ;
  for (i = 0 ; i < d->nrc ; i++)
  {
    rcpt *r = a->r + d->rc[i] ;
    char const *line = result_line(lines, nlines, i) ;
    char kind = outcome(line, dbl) ;
    char st[16] ;
    if (kind == 'D')
    {
      status_of(line + 1, '5', st) ;
      bounce_add(a, r, st, k ? "smtp" : "x-postie", line + 1, "") ;
      failed = 1 ;
    }
    else if (kind == 'Z' && expired)
    {
      bounce_add(a, r, "4.4.7", k ? "smtp" : "x-postie", line + 1, "message expired in the queue; last error: ") ;
      failed = 1 ;
    }
    else if (kind == 'Z')
    {
      a->tried = 1 ;
      defer_add(a, info_str(a, r->addr), "", line + 1, 1000) ;
    }
  }
  return failed && !bounce_sync(a) ? -1 : failed ;
}

/* One spawner result applied in its required order: the failures'
   records on disk (result_records), then each recipient's mark written
   and only then its outcome logged, then the destination's state. A
   success or failure line thus never precedes its mark: a delivery the
   log calls done is not made again after a kill -9 (the mark is
   written; its fdatasync, which a power loss needs, follows through a
   sync thread, and the slot stays busy until it completes:
   doc/queue.md, "A recipient's result"). */
void result (int k, unsigned int slot, char const *const *lines, unsigned int nlines)
{
  spawner *c = spawners + k ;
  delivery *d = c->d + slot ;
  active *a = d->a ;
  int64_t t = now() ;
  int dbl = is_doublebounce(a) ;
  int expired = !dbl && t >= (int64_t)a->id.sec + (int64_t)settings.lifetime ;
  int failed = result_records(k, d, lines, nlines, dbl, expired), marked = 0 ;
  char const *kl = k ? "R" : "L" ;
  char slotname[UINT_FMT] ;
  uint32_t i ;
  slotname[uint_fmt(slotname, slot)] = 0 ;
  for (i = 0 ; i < d->nrc ; i++)
  {
    rcpt *r = a->r + d->rc[i] ;
    char const *line = result_line(lines, nlines, i) ;
    char const *addr = info_str(a, r->addr) ;
    char kind = outcome(line, dbl) ;
    int done = 0 ;
    r->pass = 2 ;
    if (kind == 'K' && info_mark(a, r, 'D')) marked = done = 1 ;
    if ((kind == 'D' || (kind == 'Z' && expired)) && failed > 0 && info_mark(a, r, 'F')) marked = 1 ;
    /* "success" only once the D is written (doc/queue.md, "A
       recipient's result"): a success whose mark failed stays pending
       and is delivered again at the next retry, and its line says so. */
    if (kind == 'K')
      LOG("delivery ", a->idstr, " ", kl, slotname, ": <", addr,
        done ? ">: success: " : ">: success, unmarked, delivered again at the next retry: ", line + 1) ;
    else if (line[0] == 'D')
    {
      LOG("delivery ", a->idstr, " ", kl, slotname, ": <", addr, ">: failure: ", line + 1) ;
      if (dbl) LOG("warning: double bounce ", a->idstr, ": <", addr, ">: kept in the queue, tried again at the next retry") ;
    }
    else
    {
      LOG("delivery ", a->idstr, " ", kl, slotname, ": <", addr, ">: deferral: ", line + 1) ;
      if (expired) LOG("delivery ", a->idstr, ": <", addr, ">: failure: message has been in the queue longer than control/queuelifetime") ;
    }
  }
  if (k && nlines > d->nrc) remote_message_log(a, slotname, lines, nlines, d->nrc) ;
  /* a destination that took no session (every line U) waits; one that
     answered anything else is back */
  if (k && d->nrc && nlines)
  {
    char const *dom = info_str(a, a->r[d->rc[0]].domain) ;
    for (i = 0 ; i < d->nrc && i < nlines && lines[i][0] == 'U' ; i++) ;
    if (i == d->nrc) dest_down(dom, lines[0] + 1, t) ;
    else dest_up(dom) ;
  }
  /* The slot stays busy (used, counted in running) until its marks are
     on disk: a crash can then redeliver at most the concurrency's worth
     of deliveries (doc/queue.md), not every result still waiting on its
     fdatasync. mark_done releases it. */
  if (marked) { d->marking = 1 ; info_sync(a, k, slot) ; return ; }
  slot_release(k, slot) ;
  if (pass_done(a)) pass_end(a) ;
}
