/* schedule.c: when each message is due. New messages go first, in a
   FIFO, ahead of any number of due retries, which wait in a binary
   heap ordered by their next retry time (doc/postie-send.md). */

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
#include "send.h"

/* The retries: a binary heap ordered by next retry time. skalibs has no
   priority queue (qmail's prioq.c is one too), hence this one. */

typedef struct scheduled_s scheduled ;
struct scheduled_s
{
  int64_t next ;
  queue_id id ;
} ;

static scheduled *heap = 0 ;
static size_t heaplen = 0, heapcap = 0 ;

size_t heap_len (void)
{
  return heaplen ;
}

int heap_top (int64_t *next)
{
  if (!heaplen) return 0 ;
  *next = heap[0].next ;
  return 1 ;
}

/* Moves the entry at i up to where its time belongs. */
static void heap_up (size_t i)
{
  scheduled x = heap[i] ;
  while (i)
  {
    size_t p = (i - 1) / 2 ;
    if (heap[p].next <= x.next) break ;
    heap[i] = heap[p] ;
    i = p ;
  }
  heap[i] = x ;
}

void heap_push (int64_t next, queue_id const *q)
{
  if (heaplen == heapcap)
  {
    size_t nc = heapcap ? heapcap * 2 : 1024 ;
    scheduled *h = realloc(heap, nc * sizeof(scheduled)) ;
    if (!h) die_nomem() ;
    heap = h ; heapcap = nc ;
  }
  heap[heaplen].next = next ;
  heap[heaplen].id = *q ;
  heap_up(heaplen++) ;
}

void heap_pop (queue_id *q)
{
  scheduled last ;
  size_t i = 0 ;
  *q = heap[0].id ;
  last = heap[--heaplen] ;
  for (;;)
  {
    size_t c = 2 * i + 1 ;
    if (c >= heaplen) break ;
    if (c + 1 < heaplen && heap[c + 1].next < heap[c].next) c++ ;
    if (last.next <= heap[c].next) break ;
    heap[i] = heap[c] ;
    i = c ;
  }
  if (heaplen) heap[i] = last ;
}

/* New messages go first, ahead of any number of due retries: a FIFO,
   compacted when its live part is half of it or less. */
static genqdyn newq = GENQDYN_INIT(queue_id, 1, 2) ;

void newq_push (queue_id const *q)
{
  if (!genqdyn_push(&newq, q)) die_nomem() ;
}

int newq_pop (queue_id *q)
{
  if (!genqdyn_n(&newq)) return 0 ;
  *q = *GENQDYN_PEEK(queue_id, &newq) ;
  genqdyn_pop(&newq) ;
  return 1 ;
}

int newq_empty (void)
{
  return !genqdyn_n(&newq) ;
}

int64_t next_retry (active const *a, int64_t t)
{
  int64_t birth = (int64_t)a->id.sec ;
  int64_t age = t - birth ;
  int64_t delay = age < (int64_t)settings.retrymin ? (int64_t)settings.retrymin : age > (int64_t)settings.retrymax ? (int64_t)settings.retrymax : age ;
  int64_t next = t + delay ;
  int64_t expiry = birth + (int64_t)settings.lifetime ;
  if (next > expiry && expiry > t) next = expiry ;
  return next ;
}

/* Due now: in the heap (moved to the top), in the new messages' FIFO
   (due anyway), or back into the heap (held, then dropped by activate).
   Only for a message that is not active. */
void due_now (queue_id const *q)
{
  queue_id const *fifo = GENQDYN_PEEK(queue_id, &newq) ;
  size_t i, n = genqdyn_n(&newq) ;
  for (i = 0 ; i < n ; i++) if (queue_id_eq(fifo + i, q)) return ;
  for (i = 0 ; i < heaplen ; i++) if (queue_id_eq(&heap[i].id, q)) break ;
  if (i == heaplen) { heap_push(0, q) ; return ; }
  heap[i].next = 0 ;
  heap_up(i) ;
}

void retry_all (void)
{
  size_t i ;
  for (i = 0 ; i < heaplen ; i++) heap[i].next = 0 ;
  dest_clear() ;
  LOG("status: retrying everything now") ;
}
