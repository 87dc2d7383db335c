/* postie-qstat: a summary of the queue: messages, recipients pending
   (local and remote), messages not yet picked up, the oldest message.
   Reads the queue without locking it; works while postie-send runs. */

#include <dirent.h>
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

#define USAGE "postie-qstat"

/* The time part of an id, in microseconds. */
static uint64_t sec_of (char const *id)
{
  uint64_t s = 0, u = 0 ;
  size_t n = uint64_scan(id, &s) ;
  if (id[n] == '.') uint64_scan(id + n + 1, &u) ;
  return s * 1000000 + u ;
}

int main (int argc, char const *const *argv)
{
  stralloc sa = STRALLOC_ZERO ;
  uint64_t msgs = 0, todo = 0, plocal = 0, premote = 0, oldest = 0 ;
  char oldid[QUEUE_ID_MAX] = "" ;
  unsigned int b ;
  int pass ;
  PROG = "postie-qstat" ;
  (void)argv ;
  if (argc > 1) strerr_dieusage(100, USAGE) ;
  if (chdir(postie_home()) < 0) strerr_diefusys(111, "enter the instance directory") ;
  for (pass = 0 ; pass < 2 ; pass++)
    for (b = 0 ; b < QUEUE_SPLIT ; b++)
    {
      char path[32 + 2 * QUEUE_ID_MAX] ;
      size_t n ;
      DIR *dir ;
      memcpy(path, pass ? "queue/todo/" : "queue/info/", 11) ;
      n = 11 + uint_fmt(path + 11, b) ;
      path[n] = 0 ;
      dir = opendir(path) ;
      if (!dir)
      {
        if (errno == ENOENT) continue ;  /* postie-send has not run yet */
        strerr_diefusys(111, "open ", path) ;
      }
      path[n++] = '/' ;
      for (;;)
      {
        struct dirent *e ;
        uint64_t s ;
        errno = 0 ;
        e = readdir(dir) ;
        if (!e) { if (errno) strerr_diefusys(111, "read ", path) ; break ; }
        if (e->d_name[0] < '0' || e->d_name[0] > '9' || strlen(e->d_name) >= QUEUE_ID_MAX) continue ;
        s = sec_of(e->d_name) ;
        if (pass) todo++ ;
        else
        {
          queue_info qi ;
          size_t pos ;
          char st, kind ;
          char const *addr ;
          int r ;
          memcpy(path + n, e->d_name, strlen(e->d_name) + 1) ;
          r = queue_info_load(path, &sa, &qi) ;
          if (r < 0) { strerr_warnwusys("read ", path) ; continue ; }
          if (!r) continue ;
          msgs++ ;
          pos = qi.first ;
          while (queue_info_next(&sa, &pos, &st, &kind, &addr))
            if (st == 'P') { if (kind == 'R') premote++ ; else plocal++ ; }
        }
        if (!oldest || s < oldest) { oldest = s ; memcpy(oldid, e->d_name, strlen(e->d_name) + 1) ; }
      }
      closedir(dir) ;
    }
  {
    char fmt[UINT64_FMT] ;
    struct timespec ts ;
    clock_gettime(CLOCK_REALTIME, &ts) ;
#define PUT(s) buffer_puts(buffer_1, s)
#define NUM(x) (fmt[uint64_fmt(fmt, (x))] = 0, buffer_puts(buffer_1, fmt))
    PUT("messages in queue: ") ; NUM(msgs + todo) ; PUT("\n") ;
    PUT("messages not yet picked up: ") ; NUM(todo) ; PUT("\n") ;
    PUT("local recipients pending: ") ; NUM(plocal) ; PUT("\n") ;
    PUT("remote recipients pending: ") ; NUM(premote) ; PUT("\n") ;
    PUT("oldest message: ") ;
    if (oldest)
    {
      NUM((uint64_t)ts.tv_sec > oldest / 1000000 ? (uint64_t)ts.tv_sec - oldest / 1000000 : 0) ;
      PUT(" seconds (") ; PUT(oldid) ; PUT(")\n") ;
    }
    else PUT("none\n") ;
    if (!buffer_flush(buffer_1)) strerr_diefusys(111, "write to stdout") ;
  }
  return 0 ;
}
