/* control.c: postie-qctl's requests, on postie-send's side: reading them
   from queue/ctl, answering them, and the hold marks in queue/hold.
   The format and the order of the steps: doc/queue-ctl.md. What each
   request does to the schedule is in postie-send.c ("queue control"). */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>  /* rename */
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/types.h>
#include "queue.h"
#include "fsync_dir.h"
#include "send.h"

/* "queue/hold/B/ID" */
static void hold_path (char *path, char const *id)
{
  size_t n = 11 ;
  memcpy(path, "queue/hold/", 11) ;
  n += uint_fmt(path + n, queue_bucket(id)) ;
  path[n++] = '/' ;
  memcpy(path + n, id, strlen(id) + 1) ;
}

int hold_is (char const *id)
{
  char path[QUEUE_PATH_MAX] ;
  hold_path(path, id) ;
  return access(path, F_OK) == 0 ;
}

/* The mark is an empty file; its directory entry is what counts, so the
   directory is synced: a hold survives a crash and a restart. */
int hold_set (char const *id)
{
  char path[QUEUE_PATH_MAX] ;
  int fd ;
  hold_path(path, id) ;
  fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600) ;
  if (fd < 0) return -1 ;
  fd_close(fd) ;
  return fsync_parent(path) ;
}

int hold_clear (char const *id)
{
  char path[QUEUE_PATH_MAX] ;
  hold_path(path, id) ;
  if (unlink(path) < 0) return errno == ENOENT ? 0 : -1 ;
  return fsync_parent(path) ;
}

/* A request's name: what postie-qctl chose (its pid), digits only. */
static int ctl_name_ok (char const *s, size_t n)
{
  size_t i ;
  if (!n || n > CTL_NAME_MAX) return 0 ;
  for (i = 0 ; i < n ; i++) if (s[i] < '0' || s[i] > '9') return 0 ;
  return 1 ;
}

static void ctl_file (char *path, char const *name, char const *suffix)
{
  size_t n = strlen(name) ;
  memcpy(path, "queue/ctl/", 10) ;
  memcpy(path + 10, name, n) ;
  memcpy(path + 10 + n, suffix, strlen(suffix) + 1) ;
}

/* Reads "COMMAND ID\n" from path into c. */
static int ctl_read (char const *path, ctlreq *c)
{
  char buf[CTL_REQ_MAX + 1] ;
  ssize_t r ;
  char *sp, *nl ;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK) ;
  if (fd < 0) return -1 ;
  r = read(fd, buf, sizeof buf) ;
  fd_close(fd) ;
  if (r <= 0 || r > CTL_REQ_MAX) return 0 ;
  buf[r] = 0 ;
  sp = memchr(buf, ' ', r) ;
  nl = memchr(buf, '\n', r) ;
  if (!sp || !nl || nl != buf + r - 1 || sp > nl) return 0 ;
  *sp = 0 ; *nl = 0 ;
  if ((size_t)(sp - buf) >= sizeof c->cmd || strlen(sp + 1) >= sizeof c->id) return 0 ;
  memcpy(c->cmd, buf, sp - buf + 1) ;
  memcpy(c->id, sp + 1, strlen(sp + 1) + 1) ;
  return 1 ;
}

void ctl_reply (char const *name, int ok, char const *text)
{
  static char const tmp[] = "queue/work/ctl" ;
  char path[32 + CTL_NAME_MAX] ;
  char line[512] ;
  size_t n = 0, m = strlen(text) ;
  int fd ;
  if (m > sizeof line - 8) m = sizeof line - 8 ;
  memcpy(line, ok ? "ok " : "error ", ok ? 3 : 6) ; n = ok ? 3 : 6 ;
  memcpy(line + n, text, m) ; n += m ;
  line[n++] = '\n' ;
  ctl_file(path, name, ".re") ;
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644) ;
  if (fd >= 0)
  {
    int good = allwrite(fd, line, n) == n ;
    if (close(fd) < 0) good = 0 ;
    if (!good) fd = -1 ;
  }
  if (fd < 0 || rename(tmp, path) < 0)
  {
    LOG("warning: unable to answer postie-qctl's request ", name, ": ", strerror(errno)) ;
    unlink(tmp) ;
  }
  ctl_file(path, name, ".run") ;
  unlink(path) ;
}

int ctl_claim (char const *name)
{
  char from[32 + CTL_NAME_MAX], to[32 + CTL_NAME_MAX] ;
  ctl_file(from, name, ".req") ;
  ctl_file(to, name, ".run") ;
  return rename(from, to) == 0 ;
}

void ctl_scan (void (*apply) (ctlreq const *))
{
  DIR *dir = opendir("queue/ctl") ;
  if (!dir) { if (errno != ENOENT) LOG("warning: unable to read queue/ctl: ", strerror(errno)) ; return ; }
  for (;;)
  {
    struct dirent *e = readdir(dir) ;
    char path[32 + CTL_NAME_MAX] ;
    ctlreq c ;
    size_t n ;
    char const *dot ;
    int r ;
    if (!e) break ;
    dot = strrchr(e->d_name, '.') ;
    if (!dot || (strcmp(dot, ".req") && strcmp(dot, ".run"))) continue ;
    n = dot - e->d_name ;
    if (!ctl_name_ok(e->d_name, n)) continue ;
    memcpy(c.name, e->d_name, n) ;
    c.name[n] = 0 ;
    c.claimed = !strcmp(dot, ".run") ;  /* claimed before a crash: done again */
    memcpy(path, "queue/ctl/", 10) ;
    memcpy(path + 10, e->d_name, strlen(e->d_name) + 1) ;
    r = ctl_read(path, &c) ;
    if (r < 0) continue ;  /* withdrawn meanwhile */
    if (!r)
    {
      if (c.claimed || ctl_claim(c.name)) ctl_reply(c.name, 0, "malformed request") ;
      continue ;
    }
    (*apply)(&c) ;
  }
  closedir(dir) ;
}
