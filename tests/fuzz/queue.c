/* Fuzz target: the queue's file formats as their readers take them
   (programs/lib/queue_format.c, queue_info.c): the queue file trailer
   (postie-send, postie-qread), a queue id's bucket, and postie-send's
   info file (postie-qstat and postie-qread, as root).
   Input: the first byte chooses which, the rest is the file.
   Checks: a trailer that scans formats back to the same 32 bytes; a
   bucket is below QUEUE_SPLIT; an info file that parses gives a sender
   and recipient lines inside the buffer, each read moving forward. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include "queue.h"
#include "queue_info.h"

int LLVMFuzzerTestOneInput (uint8_t const *data, size_t size)
{
  char const *s = (char const *)data + 1 ;
  if (!size) return 0 ;
  size-- ;
  switch (data[0] % 3)
  {
    case 0 :
    {
      uint64_t len ;
      char t[QUEUE_TRAILER_LEN] ;
      if (size < QUEUE_TRAILER_LEN) return 0 ;
      if (queue_trailer_scan(s + size - QUEUE_TRAILER_LEN, &len))
      {
        queue_trailer_fmt(t, len) ;
        if (memcmp(t, s + size - QUEUE_TRAILER_LEN, QUEUE_TRAILER_LEN)) abort() ;
      }
      break ;
    }
    case 1 :
    {
      char *id = malloc(size + 1) ;
      if (!id) abort() ;
      memcpy(id, s, size) ; id[size] = 0 ;
      if (queue_bucket(id) >= QUEUE_SPLIT) abort() ;
      free(id) ;
      break ;
    }
    case 2 :
    {
      stralloc sa = STRALLOC_ZERO ;
      queue_info qi ;
      if (!stralloc_ready(&sa, size + 1)) abort() ;
      memcpy(sa.s, s, size) ;
      sa.len = size ;
      if (queue_info_parse(&sa, &qi))
      {
        size_t pos = qi.first, old ;
        char st, kind ;
        char const *addr ;
        if (qi.sender < sa.s || qi.sender > sa.s + sa.len || qi.first > sa.len) abort() ;
        if (strlen(qi.sender) > sa.len) abort() ;
        for (;;)
        {
          old = pos ;
          if (!queue_info_next(&sa, &pos, &st, &kind, &addr)) break ;
          if (pos <= old || pos > sa.len + 1 || addr < sa.s || addr > sa.s + sa.len) abort() ;
        }
      }
      stralloc_free(&sa) ;
      break ;
    }
  }
  return 0 ;
}
