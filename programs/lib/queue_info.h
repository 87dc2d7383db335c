/* queue_info.h: reading postie-send's per-message info files
   (queue/info/B/ID, format in doc/queue.md), for the queue readers
   postie-qstat and postie-qread. Read-only: never locks or writes. */
#ifndef QUEUE_INFO_H
#define QUEUE_INFO_H

#include <stdint.h>
#include <stddef.h>
#include <skalibs/stralloc.h>

#define QUEUE_INFO_MAGIC "postie-info-1\n"

typedef struct queue_info_s queue_info ;
struct queue_info_s
{
  uint64_t msglen ;
  char const *sender ;   /* into the stralloc given to queue_info_load */
  size_t first ;         /* offset of the first recipient line */
  int64_t mtime ;        /* the next retry time */
} ;

/* Reads and checks path into sa (tabs and newlines become NULs).
   Returns 1, 0 if the file is gone (finished meanwhile), -1 on error
   (errno; EINVAL for a malformed file). */
extern int queue_info_load (char const *path, stralloc *sa, queue_info *qi) ;

/* The checks and the split of queue_info_load, on the file's contents
   in sa (sa->len bytes, room for one more). Returns 1 (qi filled but for
   mtime), or 0 when sa is not an info file. */
extern int queue_info_parse (stralloc *sa, queue_info *qi) ;

/* The recipient at *pos: state 'P' pending, 'D' delivered, 'F' failed;
   kind 'L' local, 'R' remote, 'X' unknown local user; the final address.
   Returns 1 and advances *pos, or 0 at the end. */
extern int queue_info_next (stralloc const *sa, size_t *pos, char *state, char *kind, char const **addr) ;

#endif
