/* marks.c: each recipient's state in the info file, marked in place
   (doc/queue.md). */

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

/* ---------- per-recipient state on disk ---------- */

char const *info_str (active const *a, uint32_t off)
{
  return a->text.s + off ;
}

/* One recipient's state, in place. A failure (an I/O error) is logged
   and leaves the recipient pending: it is tried again at the next retry
   (a delivery that succeeded may then be made twice, never lost). */
int info_mark (active *a, rcpt *r, char state)
{
  if (pwrite(a->fd, &state, 1, r->off) != 1)
  {
    LOG("warning: ", a->idstr, ": unable to update the info file: ", strerror(errno), ": <", info_str(a, r->addr), "> stays pending") ;
    return 0 ;
  }
  r->state = state ;
  return 1 ;
}

/* The marks just written reach the disk through a thread: whatever
   follows them (the end of the pass, and the release of the delivery
   slot k/slot that made them, if k >= 0) waits for mark_done. */
void info_sync (active *a, int k, unsigned int slot)
{
  a->syncing++ ;
  sync_submit(JOB_MARK, a, a->fd, 1, k, slot) ;
}

void mark_done (void *p, int k, unsigned int slot, int err)
{
  active *a = p ;
  a->syncing-- ;
  /* the marks are written, maybe not on disk: a crash may make those
     deliveries again (never lose them); this message only is concerned */
  if (err) LOG("warning: ", a->idstr, ": unable to sync the info file: ", strerror(err), ": a crash may repeat its last deliveries") ;
  if (k >= 0) slot_release(k, slot) ;
  if (pass_done(a)) pass_end(a) ;
}
