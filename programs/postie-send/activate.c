/* activate.c: a message's pass, from its activation (info file read,
   message checked) to its end (finished, bounced or rescheduled). */

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
#include "fsync_dir.h"
#include "queue_info.h"
#include "send.h"

active *active_head = 0, *active_tail = 0 ;
unsigned int nactive = 0 ;
uint32_t unstarted_total[2] = { 0, 0 } ;

/* The active messages with deliveries of kind k still to start, oldest
   first: starting one is O(1) however many messages are active. */
active *tostart[2] = { 0, 0 }, *tostart_tail[2] = { 0, 0 } ;

void tostart_add (int k, active *a)
{
  a->wnext[k] = 0 ;
  a->wprev[k] = tostart_tail[k] ;
  if (tostart_tail[k]) tostart_tail[k]->wnext[k] = a ; else tostart[k] = a ;
  tostart_tail[k] = a ;
}

void tostart_remove (int k, active *a)
{
  if (a->wprev[k]) a->wprev[k]->wnext[k] = a->wnext[k] ; else tostart[k] = a->wnext[k] ;
  if (a->wnext[k]) a->wnext[k]->wprev[k] = a->wprev[k] ; else tostart_tail[k] = a->wprev[k] ;
  a->wprev[k] = a->wnext[k] = 0 ;
}

void active_free (active *a)
{
  if (a->prev) a->prev->next = a->next ; else active_head = a->next ;
  if (a->next) a->next->prev = a->prev ; else active_tail = a->prev ;
  nactive-- ;
  if (a->fd >= 0) fd_close(a->fd) ;
  stralloc_free(&a->text) ;
  stralloc_free(&a->defer) ;
  alloc_free(a->r) ;
  alloc_free(a) ;
}

void pass_end (active *a)
{
  char path[QUEUE_PATH_MAX] ;
  uint32_t i, pending = 0 ;
  int64_t t = now() ;
  int64_t next ;
  if (ctl_pass_end(a)) return ;  /* deleted by postie-qctl */
  if (a->hasbounce)
  {
    if (bounce_send(a->idstr, queue_id_bucket(&a->id), info_str(a, a->sender), (int64_t)a->id.sec) == 0)
    {
      queue_path(path, "bounce", &a->id) ;
      if (unlink(path) < 0 && errno != ENOENT)
        /* the message stays while its bounce file does: the DSN may be
           sent again at the next retry, never lost */
        LOG("warning: ", a->idstr, ": unable to remove ", path, ": ", strerror(errno), ": retried later") ;
      else
      {
        fsync_parent(path) ;
        a->hasbounce = 0 ;
      }
    }
  }
  for (i = 0 ; i < a->n ; i++) if (a->r[i].state == 'P') pending++ ;
  if (!pending && !a->hasbounce)
  {
    /* finished: the message first, then the info file, so that a crash
       in between leaves an info file without a message, which the next
       activation recognizes and removes */
    queue_path(path, "mess", &a->id) ;
    if (unlink(path) < 0 && errno != ENOENT)
    {
      LOG("warning: ", a->idstr, ": unable to remove ", path, ": ", strerror(errno), ": retried later") ;
      heap_push(t + (int64_t)settings.retrymin, &a->id) ;
      active_free(a) ;
      return ;
    }
    queue_path(path, "defer", &a->id) ;
    unlink(path) ;  /* informational (defer_write): usually absent */
    queue_path(path, "info", &a->id) ;
    if (unlink(path) < 0 && errno != ENOENT)
    {
      /* its next activation finds no message and removes it */
      LOG("warning: ", a->idstr, ": unable to remove ", path, ": ", strerror(errno), ": retried later") ;
      heap_push(t + (int64_t)settings.retrymin, &a->id) ;
    }
    LOG("end msg ", a->idstr) ;
    active_free(a) ;
    return ;
  }
  defer_write(a) ;
  next = a->hasbounce ? t + (int64_t)settings.retrymin : next_retry(a, t) ;
  /* held for a destination that took no session: tried again with it
     (doc/postie-send.md, "Destinations") */
  if (!a->hasbounce && a->skipwait && (!a->tried || a->skipwait < next))
  {
    int64_t expiry = (int64_t)a->id.sec + (int64_t)settings.lifetime ;
    next = a->skipwait ;
    if (next > expiry && expiry > t) next = expiry ;
  }
  {
    struct timespec ts[2] = { { .tv_sec = t, .tv_nsec = 0 }, { .tv_sec = next, .tv_nsec = 0 } } ;
    if (futimens(a->fd, ts) < 0) LOG("warning: ", a->idstr, ": unable to record the next retry time: ", strerror(errno)) ;
  }
  heap_push(next, &a->id) ;
  active_free(a) ;
}

int pass_done (active const *a)
{
  return !a->running && !a->unstarted[0] && !a->unstarted[1] && !a->syncing ;
}

void slot_release (int k, unsigned int slot)
{
  spawner *c = spawners + k ;
  delivery *d = c->d + slot ;
  d->used = 0 ;
  d->marking = 0 ;
  d->a->running-- ;
  c->running-- ;
}

/* a->text, an info file: checked and split (queue_info.h), its
   recipients into a->r. Returns 1, or 0 when it does not parse. */
static int parse_info (active *a)
{
  queue_info qi ;
  size_t pos ;
  if (!queue_info_parse(&a->text, &qi) || !qi.nrcpt) return 0 ;
  a->msglen = qi.msglen ;
  a->sender = qi.sender - a->text.s ;
  a->r = alloc(sizeof(rcpt) * qi.nrcpt) ;
  if (!a->r) die_nomem() ;
  a->n = 0 ;
  pos = qi.first ;
  for (;;)
  {
    rcpt *r = a->r + a->n ;
    queue_info_rcpt line ;
    if (!queue_info_rcpt_next(&a->text, &pos, &line)) break ;
    r->off = line.off ;
    r->state = line.state ;
    r->kind = line.kind ;
    r->pass = 0 ;
    r->addr = line.field[QI_ADDR] ; r->orig = line.field[QI_ORIG] ;
    r->user = line.field[QI_USER] ; r->local = line.field[QI_LOCAL] ;
    r->ext = line.field[QI_EXT] ; r->domain = line.field[QI_DOMAIN] ;
    r->reason = line.field[QI_REASON] ;
    a->n++ ;
  }
  return 1 ;
}

int is_doublebounce (active const *a)
{
  return !strcmp(info_str(a, a->sender), DOUBLEBOUNCE_SENDER) ;
}

/* A double bounce whose recipient was no such user (no postmaster alias,
   say): at each activation its address is resolved again, so that an
   alias or user added since takes it. The info file is rewritten (work,
   fsync, rename, fsync: a rare path) with the new lines in place of the
   X line. Returns 1 if rewritten (a->text, a->r, a->fd are the new
   file's), 0 if nothing changed, -1 on a failure (logged; the old file
   stands), -2 if the new file does not parse (logged; drop it). */
static int reresolve (active *a)
{
  stralloc out = STRALLOC_ZERO, res = STRALLOC_ZERO ;
  char wpath[16 + QUEUE_ID_MAX], info[QUEUE_PATH_MAX], dir[64] ;
  int changed = 0, fd = -1, dfd = -1 ;
  uint32_t i ;
  if (!queue_info_head(&out, a->msglen, info_str(a, a->sender), strlen(info_str(a, a->sender)))) die_nomem() ;
  for (i = 0 ; i < a->n ; i++)
  {
    rcpt const *r = a->r + i ;
    char const *f[5] = { info_str(a, r->user), info_str(a, r->local), info_str(a, r->ext), info_str(a, r->domain), info_str(a, r->reason) } ;
    if (r->state == 'P' && r->kind == 'X')
    {
      res.len = 0 ;
      if (local_resolve(&resolver, info_str(a, r->addr), strlen(info_str(a, r->addr)), &res) < 0)
        LOG("warning: ", a->idstr, ": unable to resolve ", info_str(a, r->addr), " again: ", resolver.errfile, resolver.errfile[0] ? ": " : "", strerror(errno)) ;
      else if (res.len && res.s[0] != 'X')
      {
        if (info_lines(&out, &res, info_str(a, r->orig)) < 0) die_nomem() ;
        changed = 1 ;
        continue ;
      }
    }
    if (!queue_info_line(&out, r->state, r->kind, info_str(a, r->addr), info_str(a, r->orig), f)) die_nomem() ;
  }
  stralloc_free(&res) ;
  if (!changed) { stralloc_free(&out) ; return 0 ; }
  /* queue_info_parse writes a NUL after the text */
  if (!stralloc_readyplus(&out, 1)) die_nomem() ;
  memcpy(wpath, "queue/work/info.", 16) ;
  memcpy(wpath + 16, a->idstr, strlen(a->idstr) + 1) ;
  queue_path(info, "info", &a->id) ;
  queue_dir(dir, "info", queue_id_bucket(&a->id)) ;
  fd = open(wpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640) ;
  if (fd < 0 || allwrite(fd, out.s, out.len) < out.len || fsync(fd) < 0
   || (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0
   || rename(wpath, info) < 0 || fsync(dfd) < 0)
  {
    int e = errno ;
    LOG("warning: ", a->idstr, ": unable to rewrite the info file: ", strerror(e)) ;
    if (fd >= 0) { fd_close(fd) ; unlink(wpath) ; }
    if (dfd >= 0) fd_close(dfd) ;
    stralloc_free(&out) ;
    return -1 ;
  }
  fd_close(dfd) ;
  fd_close(a->fd) ;
  a->fd = fd ;
  stralloc_free(&a->text) ;
  a->text = out ;
  alloc_free(a->r) ;
  a->r = 0 ;
  if (!parse_info(a))
  {
    /* cannot happen (we just wrote it); if it does, as for any info
       file that does not parse: logged, the message left alone */
    LOG("warning: ", a->idstr, ": malformed info file after rewriting it, message left alone") ;
    return -2 ;
  }
  LOG("double bounce ", a->idstr, ": its recipient resolves now") ;
  return 1 ;
}

/* Opens, reads and parses a's info file. Returns 1, or 0 to drop a
   (logged; rescheduled when it may work later). */
static int activate_read (active *a, char const *info)
{
  struct stat st ;
  a->fd = open(info, O_RDWR | O_CLOEXEC | O_NOFOLLOW) ;
  if (a->fd < 0)
  {
    if (errno != ENOENT) { LOG("warning: ", a->idstr, ": unable to open the info file: ", strerror(errno)) ; heap_push(now() + (int64_t)settings.retrymin, &a->id) ; }
    return 0 ;
  }
  if (fstat(a->fd, &st) < 0 || (uint64_t)st.st_size > QUEUE_INFO_MAX
   || !stralloc_ready(&a->text, (size_t)st.st_size + 1)
   || pread(a->fd, a->text.s, (size_t)st.st_size, 0) != (ssize_t)st.st_size)
  {
    LOG("warning: ", a->idstr, ": unable to read the info file: ", strerror(errno)) ;
    heap_push(now() + (int64_t)settings.retrymin, &a->id) ;
    return 0 ;
  }
  a->text.len = (size_t)st.st_size ;
  if (!parse_info(a))
  {
    LOG("warning: ", a->idstr, ": malformed info file, message left alone") ;
    return 0 ;
  }
  return 1 ;
}

/* The message file of a: there, and truncated to the message. Returns
   1, or 0 to drop a (finished before a crash, back in todo, or waiting:
   logged and rescheduled). */
static int activate_message (active *a, char const *info)
{
  char path[QUEUE_PATH_MAX] ;
  struct stat st ;
  int fd ;
  if (stat(a->mess, &st) < 0)
  {
    if (errno != ENOENT) { LOG("warning: ", a->idstr, ": unable to stat the message: ", strerror(errno)) ; heap_push(now() + (int64_t)settings.retrymin, &a->id) ; return 0 ; }
    queue_path(path, "todo", &a->id) ;
    if (access(path, F_OK) == 0) return 0 ;  /* pickup was interrupted: it comes back from todo */
    /* the message was finished and its info file not yet removed */
    queue_path(path, "bounce", &a->id) ;
    unlink(path) ;
    queue_path(path, "defer", &a->id) ;
    unlink(path) ;
    unlink(info) ;
    LOG("end msg ", a->idstr, " (after a crash)") ;
    return 0 ;
  }
  if ((uint64_t)st.st_size <= a->msglen) return 1 ;
  /* pickup was interrupted before the truncation, or failed to sync
     queue/mess/B: the rename is made durable first */
  if (fsync_parent(a->mess) < 0)
  {
    LOG("warning: ", a->idstr, ": unable to sync the directory of ", a->mess, ": ", strerror(errno)) ;
    heap_push(now() + (int64_t)settings.retrymin, &a->id) ;
    return 0 ;
  }
  fd = open(a->mess, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK) ;
  if (fd < 0 || ftruncate(fd, (off_t)a->msglen) < 0 || fsync(fd) < 0)
  {
    /* this message only: it waits, the queue goes on */
    LOG("warning: ", a->idstr, ": unable to truncate ", a->mess, ": ", strerror(errno), ": retried later") ;
    if (fd >= 0) fd_close(fd) ;
    heap_push(now() + (int64_t)settings.retrymin, &a->id) ;
    return 0 ;
  }
  fd_close(fd) ;
  return 1 ;
}

/* Unknown local users fail now, without a delivery; those of a double
   bounce stay pending (it is never dropped), logged each time. The
   others are counted as deliveries to start. As for a delivery's
   result (deliveries.c), each failure is logged once its record and
   its mark are written. */
static void activate_recipients (active *a)
{
  int xs = 0, ok, dbl = is_doublebounce(a) ;
  uint32_t i ;
  for (i = 0 ; i < a->n ; i++)
  {
    rcpt *r = a->r + i ;
    if (r->state != 'P') continue ;
    if (r->kind == 'X' && dbl)
      LOG("warning: double bounce ", a->idstr, ": <", info_str(a, r->addr), ">: ", info_str(a, r->reason), " (#5.1.1): kept in the queue, tried again at the next retry") ;
    else if (r->kind == 'X')
    {
      bounce_add(a, r, "5.1.1", "x-postie", info_str(a, r->reason), "") ;
      xs = 1 ;
    }
    else a->unstarted[r->kind == 'R']++ ;
  }
  if (!xs) return ;
  ok = bounce_sync(a) ;
  for (i = 0 ; i < a->n ; i++)
  {
    rcpt *r = a->r + i ;
    if (r->state != 'P' || r->kind != 'X') continue ;
    if (ok) info_mark(a, r, 'F') ;
    LOG("delivery ", a->idstr, ": <", info_str(a, r->addr), ">: failure: ", info_str(a, r->reason), " (#5.1.1)") ;
  }
  if (ok) info_sync(a, -1, 0) ;
}

void activate (queue_id const *q)
{
  char info[QUEUE_PATH_MAX], path[QUEUE_PATH_MAX] ;
  active *a ;
  uint32_t i ;
  /* its pickup is in flight: the pickup schedules it when it is done (or
     leaves it in todo); activating it now could run it twice */
  if (pickup_busy(q)) return ;
  /* held by postie-qctl: out of the schedule until it is released */
  {
    char id[QUEUE_ID_MAX] ;
    queue_id_fmt(id, q->sec, q->usec, q->ino) ;
    if (hold_is(id)) return ;
  }
  a = alloc(sizeof(active)) ;
  if (!a) die_nomem() ;
  memset(a, 0, sizeof *a) ;
  a->id = *q ;
  a->fd = -1 ;
  a->text = stralloc_zero ;
  a->defer = stralloc_zero ;
  queue_id_fmt(a->idstr, q->sec, q->usec, q->ino) ;
  queue_path(a->mess, "mess", q) ;
  queue_path(info, "info", q) ;
  if (!activate_read(a, info) || !activate_message(a, info)) goto drop ;
  if (is_doublebounce(a))
  {
    for (i = 0 ; i < a->n ; i++) if (a->r[i].state == 'P' && a->r[i].kind == 'X') break ;
    if (i < a->n && reresolve(a) == -2) goto drop ;
  }
  queue_path(path, "bounce", q) ;
  a->hasbounce = access(path, F_OK) == 0 ;
  a->prev = active_tail ; a->next = 0 ;
  if (active_tail) active_tail->next = a ; else active_head = a ;
  active_tail = a ;
  nactive++ ;
  activate_recipients(a) ;
  unstarted_total[0] += a->unstarted[0] ;
  unstarted_total[1] += a->unstarted[1] ;
  if (a->unstarted[0]) tostart_add(0, a) ;
  if (a->unstarted[1]) tostart_add(1, a) ;
  if (pass_done(a)) pass_end(a) ;
  return ;
 drop:
  if (a->fd >= 0) fd_close(a->fd) ;
  stralloc_free(&a->text) ;
  alloc_free(a->r) ;
  alloc_free(a) ;
}

active *active_find (queue_id const *q)
{
  active *a ;
  for (a = active_head ; a ; a = a->next) if (queue_id_eq(&a->id, q)) return a ;
  return 0 ;
}
