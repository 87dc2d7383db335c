/* postie-qstat: a summary of the queue: messages, recipients pending
   (local and remote), messages not yet picked up, the oldest message.
   Reads the queue without locking it; works while postie-send runs. */

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <skalibs/buffer.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "postie.h"
#include "queue.h"
#include "queue_info.h"
#include "queue_walk.h"

#define USAGE "postie-qstat"

/* The time part of an id, in microseconds. */
static uint64_t sec_of (char const *id)
{
  uint64_t s = 0, u = 0 ;
  size_t n = uint64_scan(id, &s) ;
  if (id[n] == '.') uint64_scan(id + n + 1, &u) ;
  return s * 1000000 + u ;
}

typedef struct tally_s tally ;
struct tally_s
{
  stralloc sa ;
  uint64_t msgs, todo, held, plocal, premote, oldest ;
  char oldid[QUEUE_ID_MAX] ;
} ;

static void age (tally *t, char const *id)
{
  uint64_t s = sec_of(id) ;
  if (!t->oldest || s < t->oldest) { t->oldest = s ; memcpy(t->oldid, id, strlen(id) + 1) ; }
}

static int todo_cb (char const *path, char const *id, void *arg)
{
  tally *t = arg ;
  (void)path ;
  t->todo++ ;
  age(t, id) ;
  return 0 ;
}

static int hold_cb (char const *path, char const *id, void *arg)
{
  tally *t = arg ;
  (void)path ; (void)id ;
  t->held++ ;
  return 0 ;
}

static int info_cb (char const *path, char const *id, void *arg)
{
  tally *t = arg ;
  queue_info qi ;
  size_t pos ;
  char st, kind ;
  char const *addr ;
  int r = queue_info_load(path, &t->sa, &qi) ;
  if (r < 0) { strerr_warnwusys("read ", path) ; return 0 ; }
  if (!r) return 0 ;
  t->msgs++ ;
  pos = qi.first ;
  while (queue_info_next(&t->sa, &pos, &st, &kind, &addr))
    if (st == 'P') { if (kind == 'R') t->premote++ ; else t->plocal++ ; }
  age(t, id) ;
  return 0 ;
}

int main (int argc, char const *const *argv)
{
  tally t = { .sa = STRALLOC_ZERO, .oldid = "" } ;
  char const *where ;
  PROG = "postie-qstat" ;
  (void)argv ;
  if (argc > 1) strerr_dieusage(100, USAGE) ;
  if (chdir(postie_home()) < 0) strerr_diefusys(111, "enter the instance directory") ;
  if (queue_walk("info", &info_cb, &t, &where) < 0
   || queue_walk("todo", &todo_cb, &t, &where) < 0
   || queue_walk("hold", &hold_cb, &t, &where) < 0)
    strerr_diefusys(111, "read ", where) ;
  {
    char fmt[UINT64_FMT] ;
    struct timespec ts ;
    clock_gettime(CLOCK_REALTIME, &ts) ;
#define PUT(s) buffer_puts(buffer_1, s)
#define NUM(x) (fmt[uint64_fmt(fmt, (x))] = 0, buffer_puts(buffer_1, fmt))
    PUT("messages in queue: ") ; NUM(t.msgs + t.todo) ; PUT("\n") ;
    PUT("messages not yet picked up: ") ; NUM(t.todo) ; PUT("\n") ;
    PUT("messages held: ") ; NUM(t.held) ; PUT("\n") ;
    PUT("local recipients pending: ") ; NUM(t.plocal) ; PUT("\n") ;
    PUT("remote recipients pending: ") ; NUM(t.premote) ; PUT("\n") ;
    PUT("oldest message: ") ;
    if (t.oldest)
    {
      NUM((uint64_t)ts.tv_sec > t.oldest / 1000000 ? (uint64_t)ts.tv_sec - t.oldest / 1000000 : 0) ;
      PUT(" seconds (") ; PUT(t.oldid) ; PUT(")\n") ;
    }
    else PUT("none\n") ;
    if (!buffer_flush(buffer_1)) strerr_diefusys(111, "write to stdout") ;
  }
  return 0 ;
}
