/* trigger.c: queue/trigger's bytes (doc/queue.md, "The trigger"). */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>  /* rename */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <limits.h>  /* PIPE_BUF */
#include <sys/stat.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/alloc.h>
#include <skalibs/djbunix.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "queue.h"
#include "send.h"


/* The trigger's bytes since the last wake-up. postie-queue writes 0x80 +
   the bucket of the message it queued: only those buckets are read, not all
   QUEUE_SPLIT of them (a directory scan per bucket costs five system
   calls). Any other byte (a shell script's text, a stand-in's NUL)
   means "read them all", and so does a pipe that may have been full (at
   least PIPE_BUF bytes in one wake-up): a writer that found it full
   dropped its byte. */
void trigger_read (int trig, int scan)
{
  uint64_t want = 0 ;  /* one bit per bucket: QUEUE_SPLIT <= 64 */
  size_t total = 0 ;
  int all = 0, ctl = 0, retry = 0, reload = 0 ;
#if QUEUE_SPLIT > 64
#error the trigger bucket mask holds 64 buckets
#endif
  for (;;)
  {
    unsigned char buf[PIPE_BUF] ;
    ssize_t r = read(trig, buf, sizeof buf) ;
    ssize_t i ;
    if (r <= 0) break ;
    total += (size_t)r ;
    for (i = 0 ; i < r ; i++)
      if (buf[i] >= 0x80 && buf[i] < 0x80 + QUEUE_SPLIT) want |= (uint64_t)1 << (buf[i] - 0x80) ;
      else if (buf[i] == QUEUE_TRIGGER_CTL) ctl = 1 ;
      else if (buf[i] == QUEUE_TRIGGER_RETRY) retry = 1 ;
      else if (buf[i] == QUEUE_TRIGGER_RELOAD) reload = 1 ;
      else all = 1 ;
  }
  if (!scan || !total) return ;
  if (reload) settings_reload() ;
  if (retry) retry_all() ;
  if (ctl) ctl_scan(&ctl_apply) ;
  if (all || total >= PIPE_BUF) { scan_todo(1) ; return ; }
  {
    unsigned int b ;
    for (b = 0 ; b < QUEUE_SPLIT ; b++) if (want & ((uint64_t)1 << b)) scan_todo_bucket(b, 1) ;
  }
}
