/* fsync_dir.h: make a directory's entries durable (doc/queue.md, "Safety
   argument": every link, rename and unlink that must survive a crash is
   followed by an fsync of its directory). */
#ifndef FSYNC_DIR_H
#define FSYNC_DIR_H

/* fsyncs the directory dir. Returns 0, or -1 with errno set. A
   filesystem that cannot sync a directory (fsync says EINVAL) counts as
   done: there is nothing more to do for it. */
extern int fsync_dir (char const *dir) ;

/* fsyncs the directory that holds path (the part before its last '/';
   path must have one). Returns 0, or -1 with errno set. */
extern int fsync_parent (char const *path) ;

#endif
