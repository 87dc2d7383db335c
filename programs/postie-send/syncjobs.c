/* syncjobs.c: the fsyncs done by the syncpool threads (syncpool.h),
   each in flight with a token; a completion calls the step that waited
   on it. */

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
#include <skalibs/genqdyn.h>
#include <skalibs/gensetdyn.h>
#include "send.h"
#include "syncpool.h"

/* Each job in flight has a token, its index in the set of jobs; its
   completion comes back through syncpool_fd() and calls the step that
   waited on it. A job the pool's queue could not take waits in the
   backlog, a FIFO of tokens. */

typedef struct syncjob_s syncjob ;
struct syncjob_s
{
  void *p ;
  int fd ;
  int data ;
  int k ;  /* JOB_MARK of a result: the delivery slot it holds (-1: none) */
  unsigned int slot ;
  unsigned char kind ;
} ;

static gensetdyn jobs = GENSETDYN_INIT(syncjob, 256, 1, 1) ;
static unsigned int njobs = 0 ;
static genqdyn backlog = GENQDYN_INIT(uint32_t, 1, 2) ;

unsigned int sync_jobs (void)
{
  return njobs ;
}

void sync_submit (unsigned char kind, void *p, int fd, int data, int k, unsigned int slot)
{
  uint32_t t, had = jobs.storage.len ;
  syncjob *j ;
  if (!gensetdyn_new(&jobs, &t)) die_nomem() ;
  /* slots never handed out yet are free: a completion naming one is a bug */
  for (; had < jobs.storage.len ; had++) GENSETDYN_P(syncjob, &jobs, had)->kind = JOB_FREE ;
  j = GENSETDYN_P(syncjob, &jobs, t) ;
  j->kind = kind ; j->p = p ; j->fd = fd ; j->data = data ;
  j->k = k ; j->slot = slot ;
  njobs++ ;
  /* sent with the others of this round of the loop: sync_kick() */
  if (!genqdyn_push(&backlog, &t)) die_nomem() ;
}

/* The jobs submitted since the last call go to the threads together, 64
   at a time: one lock, and the threads woken once it is released. What
   the pool's queue cannot take (it is full) waits at the backlog's tail
   for the next call (the order of fsyncs of different jobs does not
   matter: each job's step waits for its own completion). */
void sync_kick (void)
{
  while (genqdyn_n(&backlog))
  {
    syncpool_job v[64] ;
    uint32_t t[64] ;
    unsigned int n = 0, done ;
    while (n < 64 && genqdyn_n(&backlog))
    {
      syncjob const *j ;
      t[n] = *GENQDYN_PEEK(uint32_t, &backlog) ;
      j = GENSETDYN_P(syncjob, &jobs, t[n]) ;
      v[n].fd = j->fd ; v[n].data = j->data ; v[n].token = t[n] ;
      if (!genqdyn_pop(&backlog)) die_nomem() ;
      n++ ;
    }
    done = syncpool_submitv(v, n) ;
    if (done < n)
    {
      for (; done < n ; done++) if (!genqdyn_push(&backlog, &t[done])) die_nomem() ;
      return ;
    }
  }
}

/* The completions that arrived: each runs the step that waited on it. */
void sync_completions (void)
{
  for (;;)
  {
    syncpool_done d[64] ;
    int n = syncpool_read(d, 64), i ;
    if (n < 0) strerr_diefusys(111, "read the sync threads' completions") ;
    if (!n) break ;
    for (i = 0 ; i < n ; i++)
    {
      uint32_t t = d[i].token ;
      syncjob j ;
      if (t >= jobs.storage.len || GENSETDYN_P(syncjob, &jobs, t)->kind == JOB_FREE) strerr_dief(111, "unknown sync completion") ;
      j = *GENSETDYN_P(syncjob, &jobs, t) ;
      GENSETDYN_P(syncjob, &jobs, t)->kind = JOB_FREE ;
      if (!gensetdyn_delete(&jobs, t)) die_nomem() ;
      njobs-- ;
      if (j.kind == JOB_PICKUP) pickup_step(j.p, d[i].err) ;
      else if (j.kind == JOB_DIRSYNC) pickup_dirsync_done(j.p, d[i].err) ;
      else mark_done(j.p, j.k, j.slot, d[i].err) ;
    }
    /* the pickups these completions moved on share their directories'
       fsyncs (pickup.c) */
    pickup_dirsync_flush() ;
    sync_kick() ;
  }
  sync_kick() ;
}
