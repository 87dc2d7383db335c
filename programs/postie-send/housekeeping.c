/* housekeeping.c: the queue's directories, the work files left by a
   crash, and the messages found at start-up. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>  /* rename */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/alloc.h>
#include <skalibs/djbunix.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "queue.h"
#include "send.h"

/* ---------- start-up housekeeping ---------- */

void mkdirs (void)
{
  static char const *const dirs[] = { "info", "mess", "bounce", "defer", "hold" } ;
  unsigned int d, b ;
  char path[64] ;
  if (mkdir("queue/work", 0750) < 0 && errno != EEXIST) strerr_diefusys(111, "mkdir queue/work") ;
  if (mkdir("queue/ctl", 0700) < 0 && errno != EEXIST) strerr_diefusys(111, "mkdir queue/ctl") ;
  for (d = 0 ; d < 5 ; d++)
  {
    memcpy(path, "queue/", 6) ;
    memcpy(path + 6, dirs[d], strlen(dirs[d]) + 1) ;
    if (mkdir(path, 0750) < 0 && errno != EEXIST) strerr_diefusys(111, "mkdir ", path) ;
    for (b = 0 ; b < QUEUE_SPLIT ; b++)
    {
      queue_dir(path, dirs[d], b) ;
      if (mkdir(path, 0750) < 0 && errno != EEXIST) strerr_diefusys(111, "mkdir ", path) ;
    }
  }
}

/* postie-queue's work files: remove those nobody holds locked and that
   are older than control/tmpstale. */
void clean_tmp (void)
{
  DIR *dir = opendir("queue/tmp") ;
  int64_t t = now() ;
  if (!dir) { strerr_warnwusys("open queue/tmp") ; return ; }
  for (;;)
  {
    struct dirent *e ;
    char path[16 + 256] ;
    struct stat st ;
    int fd ;
    errno = 0 ;
    e = readdir(dir) ;
    if (!e) break ;
    if (e->d_name[0] == '.' || strlen(e->d_name) > 255) continue ;
    memcpy(path, "queue/tmp/", 10) ;
    memcpy(path + 10, e->d_name, strlen(e->d_name) + 1) ;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW) ;
    if (fd < 0) continue ;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && t - (int64_t)st.st_mtime > (int64_t)settings.tmpstale
     && flock(fd, LOCK_EX | LOCK_NB) == 0)
    {
      if (unlink(path) == 0) LOG("removed stale queue/tmp/", e->d_name) ;
    }
    fd_close(fd) ;
  }
  closedir(dir) ;
}

void clean_work (void)
{
  DIR *dir = opendir("queue/work") ;
  if (!dir) return ;
  for (;;)
  {
    struct dirent *e = readdir(dir) ;
    char path[16 + 256] ;
    if (!e) break ;
    if (e->d_name[0] == '.' || strlen(e->d_name) > 255) continue ;
    memcpy(path, "queue/work/", 11) ;
    memcpy(path + 11, e->d_name, strlen(e->d_name) + 1) ;
    unlink(path) ;
  }
  closedir(dir) ;
}
/* At start-up: every message in queue/info, scheduled at its info file's
   mtime (the next retry time; in the past means now). Not one still in
   queue/todo (its pickup failed at start-up): the scan that picks it up
   again schedules it, and it must not be active twice. */
void scan_info (void)
{
  unsigned int b ;
  for (b = 0 ; b < QUEUE_SPLIT ; b++)
  {
    char path[64] ;
    DIR *dir ;
    int dfd ;
    queue_dir(path, "info", b) ;
    dir = opendir(path) ;
    if (!dir)
    {
      /* one bucket's messages wait (for the next start-up); the others go */
      LOG("warning: unable to list ", path, ": ", strerror(errno), ": its messages wait for the next start-up") ;
      continue ;
    }
    dfd = dirfd(dir) ;
    for (;;)
    {
      struct dirent *e = readdir(dir) ;
      struct stat st ;
      queue_id q ;
      if (!e) break ;
      if (e->d_name[0] == '.') continue ;
      if (!queue_id_scan(e->d_name, &q) || queue_id_bucket(&q) != b) continue ;
      if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) continue ;
      {
        char todo[QUEUE_PATH_MAX] ;
        queue_path(todo, "todo", &q) ;
        if (access(todo, F_OK) == 0) continue ;
      }
      heap_push((int64_t)st.st_mtime, &q) ;
    }
    closedir(dir) ;
  }
}
