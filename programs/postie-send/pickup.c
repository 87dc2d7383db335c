/* pickup.c: pickup, queue/todo -> queue/info + queue/mess (doc/queue.md). */

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
#include "queue_info.h"
#include "send.h"
#include "syncpool.h"

#define ENVELOPE_MAX (64UL << 20)

/* ---------- pickup: todo -> info + mess ---------- */

/* A pickup is a small state machine, several at once (at most
   control/pickupmax), each waiting on one fsync at a time, in the order of the
   safety argument (doc/queue.md):
   1. info file written in queue/work/info.ID     -> [fsync the file]
   2. renamed to queue/info/B/ID                  -> [fsync queue/info/B]
   3. queue/todo/B/ID renamed to queue/mess/B/ID  -> [fsync queue/mess/B]
   4. truncated to the message, scheduled.
   The directory fsyncs of steps 2 and 3 are shared (struct dirsync): the
   pickups that renamed into one directory while none of its fsyncs was in
   flight wait for one fsync together. */
typedef struct pickup_s pickup ;
struct pickup_s
{
  queue_id q ;
  char id[QUEUE_ID_MAX] ;
  char work[16 + QUEUE_ID_MAX] ;
  int fd ;    /* the queue file */
  int sfd ;   /* the info file, while its fsync runs (step 1) */
  int step ;
  pickup *next ;  /* in a dirsync's list (steps 2 and 3) */
  int addnew ;
  int counted ;  /* in bucket_inflight of its bucket */
  uint64_t msglen ;
  unsigned int nrcpt ;
  stralloc sender ;
  uid_t uid ;  /* the queue file's owner: the uid that injected it */
} ;

/* A directory of steps 2 and 3 (queue/info/B, queue/mess/B), opened
   once and kept open, and its group fsync: waiting, the pickups that
   renamed into it since its last fsync started; syncing, those that the
   fsync in flight covers (it started after their renames). At most one
   fsync of a directory is in flight: the pickups renaming into it
   meanwhile wait for the next one, started when it completes (every
   rename made before an fsync starts is durable when it returns). */
typedef struct dirsync_s dirsync ;
struct dirsync_s
{
  pickup *waiting, *syncing ;
  int fd ;
  int opened ;
  int busy ;
} ;
static dirsync dirs[2][QUEUE_SPLIT] ;  /* info, mess */
static char const *const dirnames[2] = { "info", "mess" } ;
static uint64_t dirs_waiting[2] ;  /* buckets with pickups waiting */

static pickup *pickups[PICKUP_CAP] ;
unsigned int npickups = 0 ;
uint64_t rescan = 0 ;  /* buckets to read again when pickups are free */
static int rescan_addnew = 0 ;
/* Since each bucket was last read: the buckets where a pickup was
   started, and those where one reached its last step; and how many of
   each bucket's pickups are in flight now. */
static uint64_t buckets_started = 0, buckets_done = 0 ;
static unsigned int bucket_inflight[QUEUE_SPLIT] ;

/* The resolution lines of local_resolve (kind, then six fields each)
   as info lines, pending, for the envelope recipient orig. Returns how
   many, or -1 out of memory. */
int info_lines (stralloc *out, stralloc const *res, char const *orig)
{
  size_t j = 0 ;
  int n = 0 ;
  while (j < res->len)
  {
    char kind = res->s[j++] ;
    char const *f[6] ;
    unsigned int k ;
    for (k = 0 ; k < 6 ; k++) { f[k] = res->s + j ; j += strlen(res->s + j) + 1 ; }
    if (!queue_info_line(out, 'P', kind, f[0], orig, f + 1)) return -1 ;
    n++ ;
  }
  return n ;
}

int pickup_busy (queue_id const *q)
{
  unsigned int i ;
  for (i = 0 ; i < npickups ; i++)
    if (pickups[i]->q.ino == q->ino && pickups[i]->q.sec == q->sec && pickups[i]->q.usec == q->usec) return 1 ;
  return 0 ;
}

static void pickup_free (pickup *x)
{
  unsigned int i ;
  for (i = 0 ; i < npickups ; i++) if (pickups[i] == x) { pickups[i] = pickups[--npickups] ; break ; }
  if (x->counted) bucket_inflight[queue_id_bucket(&x->q)]-- ;
  if (x->fd >= 0) fd_close(x->fd) ;
  if (x->sfd >= 0) fd_close(x->sfd) ;
  stralloc_free(&x->sender) ;
  alloc_free(x) ;
}

/* The queue file's envelope (F sender \0 (T rcpt \0)+ \0, as
   postie-queue wrote it) into env, and the message's length. Returns 1,
   or 0 when it is not a complete queue file (logged). */
static int pickup_read (int fd, char const *id, struct stat *st, uint64_t *msglen, stralloc *env)
{
  char trailer[QUEUE_TRAILER_LEN] ;
  uint64_t envlen ;
  if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode) || st->st_size < QUEUE_TRAILER_LEN
   || pread(fd, trailer, QUEUE_TRAILER_LEN, st->st_size - QUEUE_TRAILER_LEN) != QUEUE_TRAILER_LEN
   || !queue_trailer_scan(trailer, msglen) || *msglen > (uint64_t)st->st_size - QUEUE_TRAILER_LEN)
  {
    LOG("warning: ", id, ": not a complete queue file, left in queue/todo") ;
    return 0 ;
  }
  envlen = (uint64_t)st->st_size - QUEUE_TRAILER_LEN - *msglen ;
  if (envlen > ENVELOPE_MAX) { LOG("warning: ", id, ": envelope too large, left in queue/todo") ; return 0 ; }
  if (!stralloc_ready(env, envlen + 1)) die_nomem() ;
  if (pread(fd, env->s, envlen, (off_t)*msglen) != (ssize_t)envlen) { LOG("warning: ", id, ": unable to read the envelope: ", strerror(errno)) ; return 0 ; }
  env->len = envlen ;
  if (envlen < 4 || env->s[0] != 'F' || env->s[envlen - 1] || env->s[envlen - 2]) { LOG("warning: ", id, ": malformed envelope, left in queue/todo") ; return 0 ; }
  return 1 ;
}

/* The info file of an envelope: its head, then every recipient as
   local_resolve resolves it. Returns the number of recipient lines, or
   0 when the message stays in queue/todo (logged). */
static unsigned int pickup_info (char const *id, stralloc const *env, uint64_t msglen, stralloc *out)
{
  stralloc res = STRALLOC_ZERO ;
  unsigned int nrcpt = 0 ;
  size_t i = 1, n = strlen(env->s + 1) ;
  if (memchr(env->s + 1, '\n', n) || memchr(env->s + 1, '\t', n)) { LOG("warning: ", id, ": malformed envelope, left in queue/todo") ; return 0 ; }
  if (!queue_info_head(out, msglen, env->s + 1, n)) die_nomem() ;
  i += n + 1 ;
  while (i < env->len - 1)
  {
    char const *addr = env->s + i + 1 ;
    int m ;
    n = strlen(addr) ;
    if (env->s[i] != 'T' || !n || memchr(addr, '\n', n) || memchr(addr, '\t', n)) { LOG("warning: ", id, ": malformed envelope, left in queue/todo") ; goto fail ; }
    res.len = 0 ;
    if (local_resolve(&resolver, addr, n, &res) < 0)
    {
      LOG("warning: ", id, ": unable to resolve ", addr, ": ", resolver.errfile, resolver.errfile[0] ? ": " : "", strerror(errno), ": left in queue/todo") ;
      goto fail ;
    }
    m = info_lines(out, &res, addr) ;
    if (m < 0) die_nomem() ;
    nrcpt += (unsigned int)m ;
    i += n + 2 ;
  }
  if (!nrcpt) LOG("warning: ", id, ": no recipients, left in queue/todo") ;
  stralloc_free(&res) ;
  return nrcpt ;
 fail:
  stralloc_free(&res) ;
  return 0 ;
}

/* Step 1: the info file, complete, in queue/work; its fsync goes to the
   threads. Returns 1, or 0 (logged; the pickup is freed, not its fd). */
static int pickup_write_info (pickup *x, stralloc const *out)
{
  x->sfd = open(x->work, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640) ;
  if (x->sfd < 0)
  {
    LOG("warning: ", x->id, ": unable to create ", x->work, ": ", strerror(errno)) ;
    x->fd = -1 ;
    pickup_free(x) ;
    return 0 ;
  }
  if (allwrite(x->sfd, out->s, out->len) < out->len)
  {
    LOG("warning: ", x->id, ": unable to write ", x->work, ": ", strerror(errno)) ;
    unlink(x->work) ;
    x->fd = -1 ;
    pickup_free(x) ;
    return 0 ;
  }
  x->step = 1 ;
  pickups[npickups++] = x ;
  x->counted = 1 ;
  bucket_inflight[queue_id_bucket(&x->q)]++ ;
  sync_submit(JOB_PICKUP, x, x->sfd, 0, -1, 0) ;
  return 1 ;
}

/* Reads the queue file, writes the info file into queue/work and hands
   its fsync to the threads. Returns 1 started, 0 left in todo (logged). */
static int pickup_start (queue_id const *q, int addnew)
{
  char todo[QUEUE_PATH_MAX], mess[QUEUE_PATH_MAX] ;
  char id[QUEUE_ID_MAX] ;
  struct stat st ;
  uint64_t msglen ;
  stralloc env = STRALLOC_ZERO, out = STRALLOC_ZERO ;
  unsigned int nrcpt ;
  int fd, r = 0 ;
  pickup *x ;
  queue_id_fmt(id, q->sec, q->usec, q->ino) ;
  queue_path(todo, "todo", q) ;
  queue_path(mess, "mess", q) ;
  if (stat(mess, &st) == 0)
  {
    /* already picked up: a name the directory kept after a crash */
    unlink(todo) ;
    return 0 ;
  }
  fd = open(todo, O_RDWR | O_CLOEXEC | O_NOFOLLOW) ;
  if (fd < 0) { if (errno != ENOENT) LOG("warning: ", id, ": unable to open the queue file: ", strerror(errno)) ; return 0 ; }
  if (!pickup_read(fd, id, &st, &msglen, &env)) goto end ;
  nrcpt = pickup_info(id, &env, msglen, &out) ;
  if (!nrcpt) goto end ;
  x = alloc(sizeof(pickup)) ;
  if (!x) die_nomem() ;
  memset(x, 0, sizeof *x) ;
  x->q = *q ;
  memcpy(x->id, id, QUEUE_ID_MAX) ;
  memcpy(x->work, "queue/work/info.", 16) ;
  memcpy(x->work + 16, id, strlen(id) + 1) ;
  x->fd = fd ;
  x->addnew = addnew ;
  x->msglen = msglen ;
  x->nrcpt = nrcpt ;
  x->uid = st.st_uid ;
  x->sender = stralloc_zero ;
  if (!stralloc_copys(&x->sender, env.s + 1) || !stralloc_0(&x->sender)) die_nomem() ;
  r = pickup_write_info(x, &out) ;
 end:
  if (!r) fd_close(fd) ;
  stralloc_free(&env) ; stralloc_free(&out) ;
  return r ;
}

/* The directory of step k (0: queue/info/B, 1: queue/mess/B) for x,
   opened if it is not yet. Returns 1, or 0 (logged: the message stays
   in queue/todo). */
static int dir_open (pickup *x, unsigned int k)
{
  unsigned int b = queue_id_bucket(&x->q) ;
  dirsync *d = &dirs[k][b] ;
  if (!d->opened)
  {
    char path[QUEUE_PATH_MAX] ;
    int fd ;
    queue_dir(path, dirnames[k], b) ;
    fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
    if (fd < 0) { LOG("warning: ", x->id, ": unable to open ", path, ": ", strerror(errno), ": left in queue/todo") ; return 0 ; }
    d->fd = fd ;
    d->opened = 1 ;
  }
  return 1 ;
}

/* x renamed into the directory of step k: it waits for that
   directory's next fsync (pickup_dirsync_flush starts it). */
static void dir_wait (pickup *x, unsigned int k)
{
  unsigned int b = queue_id_bucket(&x->q) ;
  dirsync *d = &dirs[k][b] ;
  x->next = d->waiting ;
  d->waiting = x ;
  dirs_waiting[k] |= (uint64_t)1 << b ;
}

/* Step 2: the info file is on disk; renamed into queue/info/B, whose
   fsync goes to the threads. 1, or 0 (logged) to drop the pickup. */
static int pickup_place_info (pickup *x, int err)
{
  char path[QUEUE_PATH_MAX] ;
  if (err)
  {
    LOG("warning: ", x->id, ": unable to write ", x->work, ": ", strerror(err)) ;
    unlink(x->work) ;
    return 0 ;
  }
  /* the directory first: once renamed, the file must be synced */
  if (!dir_open(x, 0)) { unlink(x->work) ; return 0 ; }
  queue_path(path, "info", &x->q) ;
  if (rename(x->work, path) < 0)
  {
    LOG("warning: ", x->id, ": unable to move the info file into place: ", strerror(errno)) ;
    unlink(x->work) ;
    return 0 ;
  }
  x->step = 2 ;
  dir_wait(x, 0) ;
  return 1 ;
}

/* Step 3: the info file is in place; the queue file becomes the
   message file, and queue/mess/B's fsync goes to the threads. The
   directory is opened first, so that failing to open it leaves the
   message in queue/todo, for the next scan. */
static int pickup_move_message (pickup *x, int err)
{
  char path[QUEUE_PATH_MAX], todo[QUEUE_PATH_MAX] ;
  if (err) { LOG("warning: ", x->id, ": unable to move the info file into place: ", strerror(err)) ; return 0 ; }
  if (!dir_open(x, 1)) return 0 ;
  queue_path(todo, "todo", &x->q) ;
  queue_path(path, "mess", &x->q) ;
  if (rename(todo, path) < 0) { LOG("warning: ", x->id, ": unable to move the message into queue/mess: ", strerror(errno)) ; return 0 ; }
  x->step = 3 ;
  dir_wait(x, 1) ;
  return 1 ;
}

/* Step 4: the message is in queue/mess; truncated to the message (the
   envelope is in the info file now), logged, scheduled. */
static void pickup_finish (pickup *x, int err)
{
  char path[QUEUE_PATH_MAX] ;
  if (err)
  {
    /* The message is in queue/mess, untruncated, its rename maybe not
       durable: it is retried later (at start-up, scan_info finds it);
       activate() then syncs the directory and truncates the file
       before any delivery. */
    LOG("warning: ", x->id, ": unable to sync queue/mess after moving the message there: ", strerror(err), ": retried later") ;
    if (x->addnew) heap_push(now() + (int64_t)settings.retrymin, &x->q) ;
    return ;
  }
  queue_path(path, "mess", &x->q) ;
  if (ftruncate(x->fd, (off_t)x->msglen) < 0)
  {
    /* in queue/mess, untruncated: its activation truncates it before
       any delivery (as after a crash), or defers it again */
    LOG("warning: ", x->id, ": unable to truncate ", path, ": ", strerror(errno), ": retried later") ;
    if (x->addnew) heap_push(now() + (int64_t)settings.retrymin, &x->q) ;
    return ;
  }
  {
    char fmt[UINT64_FMT], fmt2[UINT_FMT], fmt3[UINT_FMT] ;
    fmt[uint64_fmt(fmt, x->msglen)] = 0 ;
    fmt2[uint_fmt(fmt2, x->nrcpt)] = 0 ;
    fmt3[uint_fmt(fmt3, (unsigned int)x->uid)] = 0 ;
    LOG("new msg ", x->id, ": from <", x->sender.s, "> size ", fmt, " recipients ", fmt2, " uid ", fmt3) ;
  }
  if (x->addnew) newq_push(&x->q) ;
  buckets_done |= (uint64_t)1 << queue_id_bucket(&x->q) ;
}

/* The fsync a pickup waited on has completed (err: its errno, or 0).
   A failure leaves the message where it is, for the next scan (todo) or
   the next start-up (mess): nothing not durable is built upon. */
void pickup_step (void *p, int err)
{
  pickup *x = p ;
  if (x->sfd >= 0) fd_close(x->sfd) ;
  x->sfd = -1 ;
  if (x->step == 1 && pickup_place_info(x, err)) return ;
  if (x->step == 2 && pickup_move_message(x, err)) return ;
  if (x->step == 3) pickup_finish(x, err) ;
  pickup_free(x) ;
}

/* A directory's fsync has completed: every pickup it covered takes its
   next step (which may make it wait on the next directory). */
void pickup_dirsync_done (void *p, int err)
{
  dirsync *d = p ;
  pickup *x = d->syncing ;
  d->syncing = 0 ;
  d->busy = 0 ;
  while (x)
  {
    pickup *next = x->next ;
    x->next = 0 ;
    pickup_step(x, err) ;
    x = next ;
  }
}

/* Starts the fsync of every directory that has pickups waiting and none
   in flight: called once the completions that arrived together have
   been handled, so that the pickups they moved share it. */
void pickup_dirsync_flush (void)
{
  unsigned int k, b ;
  for (k = 0 ; k < 2 ; k++)
  {
    uint64_t m = dirs_waiting[k] ;
    if (!m) continue ;
    for (b = 0 ; b < QUEUE_SPLIT ; b++)
    {
      dirsync *d = &dirs[k][b] ;
      if (!(m & ((uint64_t)1 << b)) || d->busy) continue ;
      d->syncing = d->waiting ;
      d->waiting = 0 ;
      d->busy = 1 ;
      dirs_waiting[k] &= ~((uint64_t)1 << b) ;
      sync_submit(JOB_DIRSYNC, d, d->fd, 0, -1, 0) ;
    }
  }
}

/* Every file in queue/todo/B: picked up, then (if addnew) scheduled now.
   With pickupmax pickups in flight, the rest of the bucket waits: it is
   read again (rescan) when half of them have finished, if at least one
   pickup got through (rescan_todo). */
void scan_todo_bucket (unsigned int b, int addnew)
{
  char path[64] ;
  DIR *dir ;
  queue_dir(path, "todo", b) ;
  dir = opendir(path) ;
  if (!dir) { strerr_warnwusys("open ", path) ; return ; }
  buckets_started &= ~((uint64_t)1 << b) ;
  buckets_done &= ~((uint64_t)1 << b) ;
  for (;;)
  {
    struct dirent *e = readdir(dir) ;
    queue_id q ;
    if (!e) break ;
    if (e->d_name[0] == '.') continue ;
    if (!queue_id_scan(e->d_name, &q) || queue_id_bucket(&q) != b) { LOG("warning: ignoring queue/todo/", path + 11, "/", e->d_name, ": not a queue id") ; continue ; }
    if (pickup_busy(&q)) continue ;
    if (npickups >= settings.pickupmax)
    {
      rescan |= (uint64_t)1 << b ;
      if (addnew) rescan_addnew = 1 ;
      break ;
    }
    if (pickup_start(&q, addnew)) buckets_started |= (uint64_t)1 << b ;
  }
  closedir(dir) ;
}

/* The buckets left unread because pickupmax pickups were in flight.
   Read again: those that made progress since they were last read (a
   pickup reached its last step), or had none started (the pickups were
   full of other buckets). A bucket whose pickups are all still in
   flight waits for them (its bit stays). One whose pickups all ended,
   none of them done, is stuck: files failing at an asynchronous step
   (EIO on fsync, EACCES on rename) would otherwise be restarted forever,
   and the start-up loop never end; it is left to the next scan
   (scaninterval, or a trigger). */
void rescan_todo (void)
{
  uint64_t m = rescan, stuck = 0, wait = 0 ;
  int addnew = rescan_addnew ;
  unsigned int b ;
  if (!m || npickups > settings.pickupmax / 2) return ;
  for (b = 0 ; b < QUEUE_SPLIT ; b++)
  {
    uint64_t bit = (uint64_t)1 << b ;
    if (!(m & bit) || !(buckets_started & bit) || (buckets_done & bit)) continue ;
    if (bucket_inflight[b]) wait |= bit ; else stuck |= bit ;
  }
  if (m == wait) return ;
  rescan = wait ;
  if (!wait) rescan_addnew = 0 ;
  for (b = 0 ; b < QUEUE_SPLIT ; b++)
    if (wait & ((uint64_t)1 << b)) continue ;
    else if (stuck & ((uint64_t)1 << b))
    {
      char fmt[UINT_FMT] ;
      fmt[uint_fmt(fmt, b)] = 0 ;
      LOG("warning: no message picked up from queue/todo/", fmt, " in the last round: the rest waits for the next scan") ;
    }
    else if (m & ((uint64_t)1 << b)) scan_todo_bucket(b, addnew) ;
}

/* Every file in queue/todo. */
void scan_todo (int addnew)
{
  unsigned int b ;
  for (b = 0 ; b < QUEUE_SPLIT ; b++) scan_todo_bucket(b, addnew) ;
}
