/* queue_walk.h: visit every message file of one queue directory. */
#ifndef QUEUE_WALK_H
#define QUEUE_WALK_H

/* Calls f(path, id, arg) for each file named like a queue id under
   queue/SUB/0 .. queue/SUB/QUEUE_SPLIT-1 (relative to the instance);
   path is "queue/SUB/B/ID". A bucket directory that does not exist is
   skipped. f returns 0 to go on, anything else to stop the walk with that
   value. Returns 0 when every file was visited, f's value when it
   stopped, or -1 (errno set) when a directory could not be read: *where
   then names it (a static buffer). */
typedef int queue_walk_func (char const *path, char const *id, void *arg) ;
extern int queue_walk (char const *sub, queue_walk_func *f, void *arg, char const **where) ;

#endif
