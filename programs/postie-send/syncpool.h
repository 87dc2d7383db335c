/* syncpool.h: postie-send's fsync threads. The main loop hands them an fd
   and a token; a thread calls fsync() or fdatasync() on it and writes the
   token and the errno back through a pipe the main loop watches, so that
   the main loop never waits on the disk. The threads do nothing else: no
   allocation, no logging, no skalibs. */
#ifndef SYNCPOOL_H
#define SYNCPOOL_H

#include <stdint.h>

#define SYNCPOOL_THREADS_MAX 64
#define SYNCPOOL_QUEUE 1024  /* jobs waiting for a thread, at most */

typedef struct syncpool_done_s syncpool_done ;
struct syncpool_done_s
{
  uint32_t token ;
  int32_t err ;  /* 0: synced; else the errno of fsync/fdatasync */
} ;

/* Starts up to n threads (with every signal blocked). Returns how many
   started (0: none, errno set); the completion pipe is created first
   (-1 on failure). */
extern int syncpool_start (unsigned int n) ;

/* The completion pipe's read end (non-blocking, close-on-exec). */
extern int syncpool_fd (void) ;

typedef struct syncpool_job_s syncpool_job ;
struct syncpool_job_s
{
  int fd ;
  int data ;  /* fdatasync instead of fsync */
  uint32_t token ;
} ;

/* Queues the n jobs of v, in order, as many as the queue takes, under
   one lock, then wakes as many threads: each fd stays open, untouched,
   until its completion is read. Returns how many were queued. Never
   blocks for long (one mutex). */
extern unsigned int syncpool_submitv (syncpool_job const *v, unsigned int n) ;

/* Reads at most max completions into d without blocking. Returns how
   many (0: none yet), -1 on a read error. */
extern int syncpool_read (syncpool_done *d, unsigned int max) ;

#endif
