/* postie-send: the scheduler. Picks up new messages from queue/todo,
   records who gets each one (local or remote) in queue/info, runs the
   deliveries through postie-lspawn and postie-rspawn, marks each recipient
   done the moment its result is known, retries temporary failures on a
   growing schedule, bounces permanent failures and expired messages, and
   removes finished messages. Layout and safety argument: doc/queue.md and
   doc/postie-send.md; the spawners' protocol: doc/spawn-protocol.md. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>  /* PIPE_BUF */
#include <signal.h>
#include <stdio.h>  /* rename */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <grp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/alloc.h>
#include <skalibs/djbunix.h>
#include <skalibs/iopause.h>
#include <skalibs/selfpipe.h>
#include <skalibs/sig.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>
#include "postie.h"
#include "queue.h"
#include "local_resolve.h"
#include "spawn.h"
#include "send.h"
#include "syncpool.h"

#define USAGE "postie-send"
#define CONC_MAX 1000
#define INFO_MAX (256UL << 20)
#define ENVELOPE_MAX (64UL << 20)
#define INFO_MAGIC "postie-info-1\n"
#define PICKUP_CAP 1024  /* the largest control/pickupmax */

settings set = { .me = STRALLOC_ZERO, .doublebounceto = STRALLOC_ZERO } ;
static local_resolver resolver = LOCAL_RESOLVER_ZERO ;

/* ---------- logging ---------- */

void logv (char const *const *s, unsigned int n)
{
  char buf[4096] ;
  size_t len = 13 ;
  unsigned int i ;
  memcpy(buf, "postie-send: ", 13) ;
  for (i = 0 ; i < n ; i++)
  {
    size_t m = strlen(s[i]) ;
    if (m > sizeof buf - 1 - len) m = sizeof buf - 1 - len ;
    memcpy(buf + len, s[i], m) ;
    len += m ;
  }
  buf[len++] = '\n' ;
  if (allwrite(2, buf, len) < len) { }
}

static void die_nomem (void)
{
  strerr_dief(111, "out of memory") ;
}

/* ---------- time ---------- */

static int64_t now (void)
{
  struct timespec ts ;
  clock_gettime(CLOCK_REALTIME, &ts) ;
  return (int64_t)ts.tv_sec ;
}

/* ---------- queue ids ---------- */

typedef struct qid_s qid ;
struct qid_s
{
  uint64_t sec ;
  uint64_t ino ;
  uint32_t usec ;
} ;

/* Only names postie-queue makes are queue files: parse and reformat. */
static int qid_scan (char const *s, qid *q)
{
  char buf[QUEUE_ID_MAX] ;
  size_t n = uint64_scan(s, &q->sec), m ;
  uint32_t u = 0 ;
  unsigned int i ;
  if (!n || s[n] != '.') return 0 ;
  for (i = 1 ; i <= 6 ; i++)
  {
    if (s[n + i] < '0' || s[n + i] > '9') return 0 ;
    u = u * 10 + (uint32_t)(s[n + i] - '0') ;
  }
  q->usec = u ;
  if (s[n + 7] != '.') return 0 ;
  m = uint64_scan(s + n + 8, &q->ino) ;
  if (!m || s[n + 8 + m]) return 0 ;
  queue_id_fmt(buf, q->sec, q->usec, q->ino) ;
  return !strcmp(buf, s) ;
}

static unsigned int qid_bucket (qid const *q)
{
  return (unsigned int)(q->ino % QUEUE_SPLIT) ;
}

/* "queue/DIR/B/ID" into path (at least 32 + QUEUE_ID_MAX bytes). */
static void qpath (char *path, char const *dir, qid const *q)
{
  size_t n = 6 ;
  memcpy(path, "queue/", 6) ;
  memcpy(path + n, dir, strlen(dir)) ; n += strlen(dir) ;
  path[n++] = '/' ;
  n += uint_fmt(path + n, qid_bucket(q)) ;
  path[n++] = '/' ;
  queue_id_fmt(path + n, q->sec, q->usec, q->ino) ;
}

static void qdir (char *path, char const *dir, unsigned int b)
{
  size_t n = 6 ;
  memcpy(path, "queue/", 6) ;
  memcpy(path + n, dir, strlen(dir)) ; n += strlen(dir) ;
  path[n++] = '/' ;
  n += uint_fmt(path + n, b) ;
  path[n] = 0 ;
}

static int fsync_dir (char const *dir)
{
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  int r ;
  if (fd < 0) return -1 ;
  r = fsync(fd) ;
  fd_close(fd) ;
  return r ;
}

static int fsync_parent (char const *path)
{
  char dir[64 + QUEUE_ID_MAX] ;
  char const *slash = strrchr(path, '/') ;
  size_t n = slash - path ;
  memcpy(dir, path, n) ;
  dir[n] = 0 ;
  return fsync_dir(dir) ;
}

/* ---------- the schedule: a binary heap ordered by next retry ---------- */

typedef struct sched_s sched ;
struct sched_s
{
  int64_t next ;
  qid id ;
} ;

static sched *heap = 0 ;
static size_t heaplen = 0, heapcap = 0 ;

static void heap_push (int64_t next, qid const *q)
{
  size_t i ;
  if (heaplen == heapcap)
  {
    size_t nc = heapcap ? heapcap * 2 : 1024 ;
    sched *h = realloc(heap, nc * sizeof(sched)) ;
    if (!h) die_nomem() ;
    heap = h ; heapcap = nc ;
  }
  i = heaplen++ ;
  while (i)
  {
    size_t p = (i - 1) / 2 ;
    if (heap[p].next <= next) break ;
    heap[i] = heap[p] ;
    i = p ;
  }
  heap[i].next = next ;
  heap[i].id = *q ;
}

static void heap_pop (qid *q)
{
  sched last ;
  size_t i = 0 ;
  *q = heap[0].id ;
  last = heap[--heaplen] ;
  for (;;)
  {
    size_t c = 2 * i + 1 ;
    if (c >= heaplen) break ;
    if (c + 1 < heaplen && heap[c + 1].next < heap[c].next) c++ ;
    if (last.next <= heap[c].next) break ;
    heap[i] = heap[c] ;
    i = c ;
  }
  if (heaplen) heap[i] = last ;
}

/* New messages go first, ahead of any number of due retries. */
static qid *newq = 0 ;
static size_t newhead = 0, newlen = 0, newcap = 0 ;

/* Room for one more element at the end of a FIFO kept in an array
   (*buf, elements head to len-1 alive, cap allocated): an empty FIFO
   starts over, a consumed head is reused before the array grows. */
static void fifo_room (void **buf, size_t *head, size_t *len, size_t *cap, size_t size)
{
  if (*head && *head == *len) *head = *len = 0 ;
  if (*len < *cap) return ;
  if (*head)
  {
    memmove(*buf, (char *)*buf + *head * size, (*len - *head) * size) ;
    *len -= *head ; *head = 0 ;
  }
  else
  {
    size_t nc = *cap ? *cap * 2 : 256 ;
    void *p = realloc(*buf, nc * size) ;
    if (!p) die_nomem() ;
    *buf = p ; *cap = nc ;
  }
}

static void newq_push (qid const *q)
{
  void *b = newq ;
  fifo_room(&b, &newhead, &newlen, &newcap, sizeof(qid)) ;
  newq = b ;
  newq[newlen++] = *q ;
}

/* ---------- messages being worked on ---------- */

typedef struct rcpt_s rcpt ;
struct rcpt_s
{
  uint32_t off ;     /* offset of the state byte in the info file */
  uint32_t addr, orig, user, local, ext, domain, reason ;  /* into text */
  char kind ;        /* L R X */
  char state ;       /* P D F */
  char pass ;        /* 0 to start, 1 running, 2 finished this pass */
} ;

typedef struct active_s active ;
struct active_s
{
  active *prev, *next ;
  qid id ;
  char idstr[QUEUE_ID_MAX] ;
  char mess[32 + QUEUE_ID_MAX] ;
  int fd ;
  stralloc text ;
  uint32_t sender ;
  uint64_t msglen ;
  rcpt *r ;
  uint32_t n ;
  uint32_t running ;
  uint32_t unstarted[2] ;   /* local, remote */
  active *wprev[2], *wnext[2] ;  /* in work[k] while unstarted[k] */
  uint32_t cur[2] ;
  int hasbounce ;
  int tried ;         /* a remote delivery of this pass deferred someone */
  int64_t skipwait ;  /* recipients held for a dead destination: its next retry (0: none) */
  uint32_t syncing ;  /* fdatasync jobs of marks not yet completed */
  stralloc defer ;   /* this pass's deferrals: ADDR\tTEXT\n (queue/defer/) */
} ;

static active *ahead = 0, *atail = 0 ;
static unsigned int nactive = 0 ;
static uint32_t unstarted_total[2] = { 0, 0 } ;

/* The active messages with deliveries of kind k still to start, oldest
   first: starting one is O(1) however many messages are active. */
static active *work[2] = { 0, 0 }, *worktail[2] = { 0, 0 } ;

static void work_add (int k, active *a)
{
  a->wnext[k] = 0 ;
  a->wprev[k] = worktail[k] ;
  if (worktail[k]) worktail[k]->wnext[k] = a ; else work[k] = a ;
  worktail[k] = a ;
}

static void work_remove (int k, active *a)
{
  if (a->wprev[k]) a->wprev[k]->wnext[k] = a->wnext[k] ; else work[k] = a->wnext[k] ;
  if (a->wnext[k]) a->wnext[k]->wprev[k] = a->wprev[k] ; else worktail[k] = a->wprev[k] ;
  a->wprev[k] = a->wnext[k] = 0 ;
}

typedef struct delivery_s delivery ;
struct delivery_s
{
  active *a ;
  uint32_t *rc ;
  uint32_t nrc, cap ;
  int used ;
  int marking ;  /* reported; its marks' fdatasync not yet completed */
} ;

typedef struct chan_s chan ;
struct chan_s
{
  char const *prog ;
  char kindch ;
  pid_t pid ;
  int to, from ;
  stralloc w ;
  size_t wpos ;
  stralloc r ;
  unsigned int running ;
  delivery d[CONC_MAX] ;
} ;

/* In .bss, named in main(): with an initializer the whole array (64 KiB
   of slots) would sit in .data, in the executable file. */
static chan chans[2] ;

static unsigned long conc (int k)
{
  unsigned long c = k ? set.concremote : set.conclocal ;
  return c > CONC_MAX ? CONC_MAX : c ? c : 1 ;
}

/* ---------- settings ---------- */

static int readsettings (void)
{
  struct { unsigned long *u ; char const *name ; unsigned long def ; } const t[] =
  {
    { &set.conclocal, "concurrencylocal", 10 },
    { &set.concremote, "concurrencyremote", 20 },
    { &set.lifetime, "queuelifetime", 604800 },
    { &set.retrymin, "retrymin", 300 },
    { &set.retrymax, "retrymax", 7200 },
    { &set.tmpstale, "tmpstale", 3600 },
    { &set.scaninterval, "scaninterval", 60 },
    { &set.termwait, "termwait", 60 },
    { &set.spawnwait, "spawnwait", 5 },
    { &set.remotercptmax, "remotercptmax", 100 },
    { &set.bounceheaderbytes, "bounceheaderbytes", 65536 },
    { &set.activemax, "activemax", 5000 },
    { &set.timeoutlocal, "timeoutlocal", 3600 },
    { &set.timeoutremote, "timeoutremote", 3600 },
    { &set.syncthreads, "syncthreads", 4 },
    { &set.pickupmax, "pickupmax", 64 },
    { &set.bouncemessagebytes, "bouncemessagebytes", 100000 },
  } ;
  unsigned int i ;
  for (i = 0 ; i < sizeof t / sizeof *t ; i++)
    if (control_readulong(t[i].u, t[i].name, t[i].def) < 0)
    {
      strerr_warnwu("read control/", t[i].name, ": ", control_strerror()) ;
      return 0 ;
    }
  if (!set.retrymin) set.retrymin = 1 ;
  if (set.retrymax < set.retrymin) set.retrymax = set.retrymin ;
  if (!set.scaninterval) set.scaninterval = 1 ;
  if (!set.remotercptmax) set.remotercptmax = 1 ;
  if (!set.activemax) set.activemax = 1 ;
  if (!set.pickupmax) set.pickupmax = 1 ;
  if (set.pickupmax > PICKUP_CAP) set.pickupmax = PICKUP_CAP ;
  if (set.remotercptmax > SPAWN_FIELDS_MAX - 10) set.remotercptmax = SPAWN_FIELDS_MAX - 10 ;
  if (control_readline(&set.doublebounceto, "doublebounceto", "postmaster", 1000) < 0)
  {
    strerr_warnwusys("read control/doublebounceto") ;
    return 0 ;
  }
  /* a double bounce is never dropped: an empty file means the default */
  if (set.doublebounceto.len <= 1 && !stralloc_copys(&set.doublebounceto, "postmaster")) die_nomem() ;
  if (!stralloc_0(&set.doublebounceto)) die_nomem() ;
  set.doublebounceto.len-- ;
  /* control/me, locals, aliases: required (local_resolve.h); the
     resolver's copy of control/me is ours too. */
  if (local_resolve_init(&resolver) < 0)
  {
    strerr_warnwusys("read ", resolver.errfile[0] ? resolver.errfile : "the control files") ;
    return 0 ;
  }
  if (!stralloc_copy(&set.me, &resolver.me)) { strerr_warnwusys("read control/me") ; return 0 ; }
  return 1 ;
}

/* ---------- start-up housekeeping ---------- */

static void mkdirs (void)
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
      qdir(path, dirs[d], b) ;
      if (mkdir(path, 0750) < 0 && errno != EEXIST) strerr_diefusys(111, "mkdir ", path) ;
    }
  }
}

/* postie-queue's work files: remove those nobody holds locked and that
   are older than control/tmpstale. */
static void clean_tmp (void)
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
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && t - (int64_t)st.st_mtime > (int64_t)set.tmpstale
     && flock(fd, LOCK_EX | LOCK_NB) == 0)
    {
      if (unlink(path) == 0) LOG("removed stale queue/tmp/", e->d_name) ;
    }
    fd_close(fd) ;
  }
  closedir(dir) ;
}

static void clean_work (void)
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

/* ---------- the sync jobs: fsyncs done by the syncpool threads ---------- */

/* Each job in flight has a token, an index into jobtab; its completion
   comes back through syncpool_fd() and calls the step that waited on it.
   A job the pool's queue could not take waits in backlog (FIFO). */
enum { JOB_FREE, JOB_PICKUP, JOB_MARK } ;

typedef struct sjob_s sjob ;
struct sjob_s
{
  void *p ;
  int fd ;
  int data ;
  int k ;  /* JOB_MARK of a result: the delivery slot it holds (-1: none) */
  unsigned int slot ;
  uint32_t nextfree ;
  unsigned char kind ;
} ;

static sjob *jobtab = 0 ;
static uint32_t jobcap = 0, jobfree = UINT32_MAX ;
static unsigned int njobs = 0 ;
static uint32_t *backlog = 0 ;
static size_t blhead = 0, bllen = 0, blcap = 0 ;

static void sync_submit (unsigned char kind, void *p, int fd, int data, int k, unsigned int slot)
{
  uint32_t t ;
  if (jobfree == UINT32_MAX)
  {
    uint32_t nc = jobcap ? jobcap * 2 : 256, i ;
    sjob *q = realloc(jobtab, nc * sizeof(sjob)) ;
    if (!q) die_nomem() ;
    jobtab = q ;
    for (i = nc ; i > jobcap ; i--) { jobtab[i - 1].kind = JOB_FREE ; jobtab[i - 1].nextfree = jobfree ; jobfree = i - 1 ; }
    jobcap = nc ;
  }
  t = jobfree ;
  jobfree = jobtab[t].nextfree ;
  jobtab[t].kind = kind ; jobtab[t].p = p ; jobtab[t].fd = fd ; jobtab[t].data = data ;
  jobtab[t].k = k ; jobtab[t].slot = slot ;
  njobs++ ;
  if (blhead == bllen && syncpool_submit(fd, data, t)) return ;
  {
    void *b = backlog ;
    fifo_room(&b, &blhead, &bllen, &blcap, sizeof(uint32_t)) ;
    backlog = b ;
  }
  backlog[bllen++] = t ;
}

static void backlog_flush (void)
{
  while (blhead < bllen)
  {
    uint32_t t = backlog[blhead] ;
    if (!syncpool_submit(jobtab[t].fd, jobtab[t].data, t)) return ;
    blhead++ ;
  }
  blhead = bllen = 0 ;
}

static void pickup_step (void *p, int err) ;
static void mark_done (void *p, int k, unsigned int slot, int err) ;

/* The completions that arrived: each runs the step that waited on it. */
static void sync_completions (void)
{
  for (;;)
  {
    syncpool_done d[64] ;
    int n = syncpool_read(d, 64), i ;
    if (n < 0) strerr_diefusys(111, "read the sync threads' completions") ;
    if (!n) break ;
    for (i = 0 ; i < n ; i++)
    {
      uint32_t t = d[i].token ;
      sjob j ;
      if (t >= jobcap || jobtab[t].kind == JOB_FREE) strerr_dief(111, "unknown sync completion") ;
      j = jobtab[t] ;
      jobtab[t].kind = JOB_FREE ;
      jobtab[t].nextfree = jobfree ;
      jobfree = t ;
      njobs-- ;
      if (j.kind == JOB_PICKUP) pickup_step(j.p, d[i].err) ;
      else mark_done(j.p, j.k, j.slot, d[i].err) ;
    }
    backlog_flush() ;
  }
  backlog_flush() ;
}

/* ---------- pickup: todo -> info + mess ---------- */

/* A pickup is a small state machine, several at once (at most
   control/pickupmax), each waiting on one fsync at a time, in the order of the
   safety argument (doc/queue.md):
   1. info file written in queue/work/info.ID     -> [fsync the file]
   2. renamed to queue/info/B/ID                  -> [fsync queue/info/B]
   3. queue/todo/B/ID renamed to queue/mess/B/ID  -> [fsync queue/mess/B]
   4. truncated to the message, scheduled. */
typedef struct pk_s pk ;
struct pk_s
{
  qid q ;
  char id[QUEUE_ID_MAX] ;
  char work[16 + QUEUE_ID_MAX] ;
  int fd ;    /* the queue file */
  int sfd ;   /* the fd being synced: the info file, then a directory */
  int step ;
  int addnew ;
  int counted ;  /* in pk_inflight of its bucket */
  uint64_t msglen ;
  unsigned int nrcpt ;
  stralloc sender ;
  uid_t uid ;  /* the queue file's owner: the uid that injected it */
} ;

static pk *pks[PICKUP_CAP] ;
static unsigned int npk = 0 ;
static uint64_t rescan = 0 ;  /* buckets to read again when pickups are free */
static int rescan_addnew = 0 ;
/* Since each bucket was last read: the buckets where a pickup was
   started, and those where one reached its last step; and how many of
   each bucket's pickups are in flight now. */
static uint64_t pk_started = 0, pk_done = 0 ;
static unsigned int pk_inflight[QUEUE_SPLIT] ;

static int catfield (stralloc *sa, char const *s, char sep)
{
  return stralloc_cats(sa, s) && stralloc_catb(sa, &sep, 1) ;
}

/* One recipient line of the info file (doc/queue.md): state, kind, then
   ADDR ORIG USER LOCAL EXT DOMAIN REASON. */
static int info_line (stralloc *out, char state, char kind, char const *addr, char const *orig, char const *const *f)
{
  return stralloc_catb(out, &state, 1) && stralloc_catb(out, &kind, 1) && stralloc_catb(out, "\t", 1)
   && catfield(out, addr, '\t') && catfield(out, orig, '\t') && catfield(out, f[0], '\t')
   && catfield(out, f[1], '\t') && catfield(out, f[2], '\t') && catfield(out, f[3], '\t')
   && catfield(out, f[4], '\n') ;
}

/* The resolution lines of local_resolve (kind, then six fields each)
   as info lines, pending, for the envelope recipient orig. Returns how
   many, or -1 out of memory. */
static int info_lines (stralloc *out, stralloc const *res, char const *orig)
{
  size_t j = 0 ;
  int n = 0 ;
  while (j < res->len)
  {
    char kind = res->s[j++] ;
    char const *f[6] ;
    unsigned int k ;
    for (k = 0 ; k < 6 ; k++) { f[k] = res->s + j ; j += strlen(res->s + j) + 1 ; }
    if (!info_line(out, 'P', kind, f[0], orig, f + 1)) return -1 ;
    n++ ;
  }
  return n ;
}

static int pickup_busy (qid const *q)
{
  unsigned int i ;
  for (i = 0 ; i < npk ; i++)
    if (pks[i]->q.ino == q->ino && pks[i]->q.sec == q->sec && pks[i]->q.usec == q->usec) return 1 ;
  return 0 ;
}

static void pickup_free (pk *x)
{
  unsigned int i ;
  for (i = 0 ; i < npk ; i++) if (pks[i] == x) { pks[i] = pks[--npk] ; break ; }
  if (x->counted) pk_inflight[qid_bucket(&x->q)]-- ;
  if (x->fd >= 0) fd_close(x->fd) ;
  if (x->sfd >= 0) fd_close(x->sfd) ;
  stralloc_free(&x->sender) ;
  alloc_free(x) ;
}

/* Reads the queue file, writes the info file into queue/work and hands
   its fsync to the threads. Returns 1 started, 0 left in todo (logged). */
static int pickup (qid const *q, int addnew)
{
  char todo[32 + QUEUE_ID_MAX], mess[32 + QUEUE_ID_MAX] ;
  char id[QUEUE_ID_MAX] ;
  char trailer[QUEUE_TRAILER_LEN] ;
  struct stat st ;
  uint64_t msglen, envlen ;
  stralloc env = STRALLOC_ZERO, out = STRALLOC_ZERO, res = STRALLOC_ZERO ;
  unsigned int nrcpt = 0 ;
  int fd ;
  size_t i ;
  pk *x ;
  queue_id_fmt(id, q->sec, q->usec, q->ino) ;
  qpath(todo, "todo", q) ;
  qpath(mess, "mess", q) ;
  if (stat(mess, &st) == 0)
  {
    /* already picked up: a name the directory kept after a crash */
    unlink(todo) ;
    return 0 ;
  }
  fd = open(todo, O_RDWR | O_CLOEXEC | O_NOFOLLOW) ;
  if (fd < 0) { if (errno != ENOENT) LOG("warning: ", id, ": unable to open the queue file: ", strerror(errno)) ; return 0 ; }
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < QUEUE_TRAILER_LEN
   || pread(fd, trailer, QUEUE_TRAILER_LEN, st.st_size - QUEUE_TRAILER_LEN) != QUEUE_TRAILER_LEN
   || !queue_trailer_scan(trailer, &msglen) || msglen > (uint64_t)st.st_size - QUEUE_TRAILER_LEN)
  {
    LOG("warning: ", id, ": not a complete queue file, left in queue/todo") ;
    goto fail ;
  }
  envlen = (uint64_t)st.st_size - QUEUE_TRAILER_LEN - msglen ;
  if (envlen > ENVELOPE_MAX) { LOG("warning: ", id, ": envelope too large, left in queue/todo") ; goto fail ; }
  if (!stralloc_ready(&env, envlen + 1)) die_nomem() ;
  if (pread(fd, env.s, envlen, (off_t)msglen) != (ssize_t)envlen) { LOG("warning: ", id, ": unable to read the envelope: ", strerror(errno)) ; goto fail ; }
  env.len = envlen ;
  /* F sender \0 (T rcpt \0)+ \0, as postie-queue wrote it */
  if (envlen < 4 || env.s[0] != 'F' || env.s[envlen - 1] || env.s[envlen - 2]) { LOG("warning: ", id, ": malformed envelope, left in queue/todo") ; goto fail ; }
  if (!stralloc_cats(&out, INFO_MAGIC)) die_nomem() ;
  {
    char fmt[UINT64_FMT] ;
    if (!stralloc_catb(&out, fmt, uint64_fmt(fmt, msglen)) || !stralloc_catb(&out, "\n", 1)) die_nomem() ;
  }
  i = 1 ;
  {
    size_t n = strlen(env.s + 1) ;
    if (memchr(env.s + 1, '\n', n) || memchr(env.s + 1, '\t', n)) { LOG("warning: ", id, ": malformed envelope, left in queue/todo") ; goto fail ; }
    if (!stralloc_catb(&out, env.s + 1, n) || !stralloc_catb(&out, "\n", 1)) die_nomem() ;
    i += n + 1 ;
  }
  while (i < envlen - 1)
  {
    char const *addr = env.s + i + 1 ;
    size_t n = strlen(addr) ;
    if (env.s[i] != 'T' || !n || memchr(addr, '\n', n) || memchr(addr, '\t', n)) { LOG("warning: ", id, ": malformed envelope, left in queue/todo") ; goto fail ; }
    res.len = 0 ;
    if (local_resolve(&resolver, addr, n, &res) < 0)
    {
      LOG("warning: ", id, ": unable to resolve ", addr, ": ", resolver.errfile, resolver.errfile[0] ? ": " : "", strerror(errno), ": left in queue/todo") ;
      goto fail ;
    }
    {
      int m = info_lines(&out, &res, addr) ;
      if (m < 0) die_nomem() ;
      nrcpt += (unsigned int)m ;
    }
    i += n + 2 ;
  }
  if (!nrcpt) { LOG("warning: ", id, ": no recipients, left in queue/todo") ; goto fail ; }

  x = alloc(sizeof(pk)) ;
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
  {
    char const *sender = out.s + sizeof(INFO_MAGIC) - 1 ;
    char const *nl ;
    sender = strchr(sender, '\n') + 1 ;
    nl = strchr(sender, '\n') ;
    if (!stralloc_catb(&x->sender, sender, nl - sender) || !stralloc_0(&x->sender)) die_nomem() ;
  }
  /* 1. the info file, complete and on disk, before anything else */
  x->sfd = open(x->work, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640) ;
  if (x->sfd < 0)
  {
    LOG("warning: ", id, ": unable to create ", x->work, ": ", strerror(errno)) ;
    x->fd = -1 ;
    pickup_free(x) ;
    goto fail ;
  }
  if (allwrite(x->sfd, out.s, out.len) < out.len)
  {
    LOG("warning: ", id, ": unable to write ", x->work, ": ", strerror(errno)) ;
    unlink(x->work) ;
    x->fd = -1 ;
    pickup_free(x) ;
    goto fail ;
  }
  stralloc_free(&env) ; stralloc_free(&out) ; stralloc_free(&res) ;
  x->step = 1 ;
  pks[npk++] = x ;
  x->counted = 1 ;
  pk_inflight[qid_bucket(q)]++ ;
  sync_submit(JOB_PICKUP, x, x->sfd, 0, -1, 0) ;
  return 1 ;
 fail:
  fd_close(fd) ;
  stralloc_free(&env) ; stralloc_free(&out) ; stralloc_free(&res) ;
  return 0 ;
}

/* The fsync a pickup waited on has completed (err: its errno, or 0).
   A failure leaves the message where it is, for the next scan (todo) or
   the next start-up (mess): nothing not durable is built upon. */
static void pickup_step (void *p, int err)
{
  pk *x = p ;
  char path[32 + QUEUE_ID_MAX], todo[32 + QUEUE_ID_MAX] ;
  fd_close(x->sfd) ;
  x->sfd = -1 ;
  if (x->step == 1)
  {
    if (err)
    {
      LOG("warning: ", x->id, ": unable to write ", x->work, ": ", strerror(err)) ;
      unlink(x->work) ;
      goto fail ;
    }
    /* the directory first: once renamed, the file must be synced */
    qdir(path, "info", qid_bucket(&x->q)) ;
    x->sfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
    if (x->sfd < 0)
    {
      LOG("warning: ", x->id, ": unable to open ", path, ": ", strerror(errno), ": left in queue/todo") ;
      unlink(x->work) ;
      goto fail ;
    }
    qpath(path, "info", &x->q) ;
    if (rename(x->work, path) < 0)
    {
      LOG("warning: ", x->id, ": unable to move the info file into place: ", strerror(errno)) ;
      unlink(x->work) ;
      goto fail ;
    }
    x->step = 2 ;
    sync_submit(JOB_PICKUP, x, x->sfd, 0, -1, 0) ;
    return ;
  }
  if (x->step == 2)
  {
    if (err) { LOG("warning: ", x->id, ": unable to move the info file into place: ", strerror(err)) ; goto fail ; }
    /* 2. the queue file becomes the message file; the directory is
       opened first, so that failing to open it leaves the message in
       queue/todo, for the next scan */
    qdir(path, "mess", qid_bucket(&x->q)) ;
    x->sfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
    if (x->sfd < 0) { LOG("warning: ", x->id, ": unable to open ", path, ": ", strerror(errno), ": left in queue/todo") ; goto fail ; }
    qpath(todo, "todo", &x->q) ;
    qpath(path, "mess", &x->q) ;
    if (rename(todo, path) < 0) { LOG("warning: ", x->id, ": unable to move the message into queue/mess: ", strerror(errno)) ; goto fail ; }
    x->step = 3 ;
    sync_submit(JOB_PICKUP, x, x->sfd, 0, -1, 0) ;
    return ;
  }
  if (err)
  {
    /* The message is in queue/mess, untruncated, its rename maybe not
       durable: it is retried later (at start-up, scan_info finds it);
       activate() then syncs the directory and truncates the file
       before any delivery. */
    LOG("warning: ", x->id, ": unable to sync queue/mess after moving the message there: ", strerror(err), ": retried later") ;
    if (x->addnew) heap_push(now() + (int64_t)set.retrymin, &x->q) ;
    goto fail ;
  }
  /* 3. only the message: the envelope is in the info file now */
  qpath(path, "mess", &x->q) ;
  if (ftruncate(x->fd, (off_t)x->msglen) < 0)
  {
    /* in queue/mess, untruncated: its activation truncates it before
       any delivery (as after a crash), or defers it again */
    LOG("warning: ", x->id, ": unable to truncate ", path, ": ", strerror(errno), ": retried later") ;
    if (x->addnew) heap_push(now() + (int64_t)set.retrymin, &x->q) ;
    goto fail ;
  }
  {
    char fmt[UINT64_FMT], fmt2[UINT_FMT], fmt3[UINT_FMT] ;
    fmt[uint64_fmt(fmt, x->msglen)] = 0 ;
    fmt2[uint_fmt(fmt2, x->nrcpt)] = 0 ;
    fmt3[uint_fmt(fmt3, (unsigned int)x->uid)] = 0 ;
    LOG("new msg ", x->id, ": from <", x->sender.s, "> size ", fmt, " recipients ", fmt2, " uid ", fmt3) ;
  }
  if (x->addnew) newq_push(&x->q) ;
  pk_done |= (uint64_t)1 << qid_bucket(&x->q) ;
 fail:
  pickup_free(x) ;
}

/* Every file in queue/todo/B: picked up, then (if addnew) scheduled now.
   With pickupmax pickups in flight, the rest of the bucket waits: it is
   read again (rescan) when half of them have finished, if at least one
   pickup got through (rescan_todo). */
static void scan_todo_bucket (unsigned int b, int addnew)
{
  char path[64] ;
  DIR *dir ;
  qdir(path, "todo", b) ;
  dir = opendir(path) ;
  if (!dir) { strerr_warnwusys("open ", path) ; return ; }
  pk_started &= ~((uint64_t)1 << b) ;
  pk_done &= ~((uint64_t)1 << b) ;
  for (;;)
  {
    struct dirent *e = readdir(dir) ;
    qid q ;
    if (!e) break ;
    if (e->d_name[0] == '.') continue ;
    if (!qid_scan(e->d_name, &q) || qid_bucket(&q) != b) { LOG("warning: ignoring queue/todo/", path + 11, "/", e->d_name, ": not a queue id") ; continue ; }
    if (pickup_busy(&q)) continue ;
    if (npk >= set.pickupmax)
    {
      rescan |= (uint64_t)1 << b ;
      if (addnew) rescan_addnew = 1 ;
      break ;
    }
    if (pickup(&q, addnew)) pk_started |= (uint64_t)1 << b ;
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
static void rescan_todo (void)
{
  uint64_t m = rescan, stuck = 0, wait = 0 ;
  int addnew = rescan_addnew ;
  unsigned int b ;
  if (!m || npk > set.pickupmax / 2) return ;
  for (b = 0 ; b < QUEUE_SPLIT ; b++)
  {
    uint64_t bit = (uint64_t)1 << b ;
    if (!(m & bit) || !(pk_started & bit) || (pk_done & bit)) continue ;
    if (pk_inflight[b]) wait |= bit ; else stuck |= bit ;
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
static void scan_todo (int addnew)
{
  unsigned int b ;
  for (b = 0 ; b < QUEUE_SPLIT ; b++) scan_todo_bucket(b, addnew) ;
}

static void reload_settings (void) ;
static void retry_all (void) ;
static void ctl_apply (ctlreq const *) ;

/* The trigger's bytes since the last wake-up. postie-queue writes 0x80 +
   the bucket of the message it queued: only those buckets are read, not all
   QUEUE_SPLIT of them (a directory scan per bucket costs five system
   calls). Any other byte (a shell script's text, a stand-in's NUL)
   means "read them all", and so does a pipe that may have been full (at
   least PIPE_BUF bytes in one wake-up): a writer that found it full
   dropped its byte. */
static void trigger_read (int trig, int scan)
{
  uint64_t want = 0 ;  /* one bit per bucket: QUEUE_SPLIT <= 64 */
  size_t total = 0 ;
  int all = 0, ctl = 0, retry = 0, reload = 0 ;
#if QUEUE_SPLIT > 64
#error the trigger bucket mask holds 64 buckets
#endif
  for (;;)
  {
    unsigned char buf[PIPE_BUF] ;
    ssize_t r = read(trig, buf, sizeof buf) ;
    ssize_t i ;
    if (r <= 0) break ;
    total += (size_t)r ;
    for (i = 0 ; i < r ; i++)
      if (buf[i] >= 0x80 && buf[i] < 0x80 + QUEUE_SPLIT) want |= (uint64_t)1 << (buf[i] - 0x80) ;
      else if (buf[i] == QUEUE_TRIGGER_CTL) ctl = 1 ;
      else if (buf[i] == QUEUE_TRIGGER_RETRY) retry = 1 ;
      else if (buf[i] == QUEUE_TRIGGER_RELOAD) reload = 1 ;
      else all = 1 ;
  }
  if (!scan || !total) return ;
  if (reload) reload_settings() ;
  if (retry) retry_all() ;
  if (ctl) ctl_scan(&ctl_apply) ;
  if (all || total >= PIPE_BUF) { scan_todo(1) ; return ; }
  {
    unsigned int b ;
    for (b = 0 ; b < QUEUE_SPLIT ; b++) if (want & ((uint64_t)1 << b)) scan_todo_bucket(b, 1) ;
  }
}

/* At start-up: every message in queue/info, scheduled at its info file's
   mtime (the next retry time; in the past means now). Not one still in
   queue/todo (its pickup failed at start-up): the scan that picks it up
   again schedules it, and it must not be active twice. */
static void scan_info (void)
{
  unsigned int b ;
  for (b = 0 ; b < QUEUE_SPLIT ; b++)
  {
    char path[64] ;
    DIR *dir ;
    int dfd ;
    qdir(path, "info", b) ;
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
      qid q ;
      if (!e) break ;
      if (e->d_name[0] == '.') continue ;
      if (!qid_scan(e->d_name, &q) || qid_bucket(&q) != b) continue ;
      if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) continue ;
      {
        char todo[32 + QUEUE_ID_MAX] ;
        qpath(todo, "todo", &q) ;
        if (access(todo, F_OK) == 0) continue ;
      }
      heap_push((int64_t)st.st_mtime, &q) ;
    }
    closedir(dir) ;
  }
}

/* ---------- per-recipient state on disk ---------- */

static char const *T (active const *a, uint32_t off)
{
  return a->text.s + off ;
}

/* One recipient's state, in place. A failure (an I/O error) is logged
   and leaves the recipient pending: it is tried again at the next retry
   (a delivery that succeeded may then be made twice, never lost). */
static int info_mark (active *a, rcpt *r, char state)
{
  if (pwrite(a->fd, &state, 1, r->off) != 1)
  {
    LOG("warning: ", a->idstr, ": unable to update the info file: ", strerror(errno), ": <", T(a, r->addr), "> stays pending") ;
    return 0 ;
  }
  r->state = state ;
  return 1 ;
}

/* The marks just written reach the disk through a thread: whatever
   follows them (the end of the pass, and the release of the delivery
   slot k/slot that made them, if k >= 0) waits for mark_done. */
static void info_sync (active *a, int k, unsigned int slot)
{
  a->syncing++ ;
  sync_submit(JOB_MARK, a, a->fd, 1, k, slot) ;
}

/* The DSN's status: the first x.y.z in the text whose class matches. */
static void status_of (char const *text, char cls, char *st)
{
  size_t i, n = strlen(text) ;
  for (i = 0 ; i + 5 <= n ; i++)
  {
    size_t j = i + 1, k ;
    if (text[i] != cls || text[j] != '.' || (i && ((text[i-1] >= '0' && text[i-1] <= '9') || text[i-1] == '.'))) continue ;
    j++ ;
    k = j ;
    while (j < n && j - k < 3 && text[j] >= '0' && text[j] <= '9') j++ ;
    if (j == k || j >= n || text[j] != '.') continue ;
    j++ ;
    k = j ;
    while (j < n && j - k < 3 && text[j] >= '0' && text[j] <= '9') j++ ;
    if (j == k || (j < n && ((text[j] >= '0' && text[j] <= '9') || text[j] == '.'))) continue ;  /* not an IP address */
    memcpy(st, text + i, j - i) ;
    st[j - i] = 0 ;
    return ;
  }
  st[0] = cls ; memcpy(st + 1, ".0.0", 5) ;
}

/* Appends a record to the message's bounce file: address, original
   recipient, status, diagnostic. Not synced: bounce_sync does that. */
static stralloc bbuf = STRALLOC_ZERO ;

static void bounce_add (active *a, rcpt const *r, char const *status, char const *dtype, char const *text, char const *prefix)
{
  if (!stralloc_cats(&bbuf, T(a, r->addr)) || !stralloc_catb(&bbuf, "\t", 1)
   || !stralloc_cats(&bbuf, T(a, r->orig)) || !stralloc_catb(&bbuf, "\t", 1)
   || !stralloc_cats(&bbuf, status) || !stralloc_catb(&bbuf, "\t", 1)
   || !stralloc_cats(&bbuf, dtype) || !stralloc_catb(&bbuf, "; ", 2)
   || !stralloc_cats(&bbuf, prefix) || !stralloc_cats(&bbuf, text) || !stralloc_catb(&bbuf, "\n", 1))
    die_nomem() ;
}

/* The records reach the disk before any recipient is marked failed.
   Returns 1 when they are on disk; 0 when they could not be written
   (a full disk, an I/O error: logged): the file is put back as it was
   and the caller leaves those recipients pending, to be tried again,
   and recorded again, at the message's next retry. */
static int bounce_sync (active *a)
{
  char path[32 + QUEUE_ID_MAX] ;
  struct stat st ;
  int fd, created = 0, e ;
  if (!bbuf.len) return 1 ;
  qpath(path, "bounce", &a->id) ;
  fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW) ;
  if (fd < 0 && errno == ENOENT)
  {
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640) ;
    created = 1 ;
  }
  if (fd < 0) { e = errno ; goto fail ; }
  if (fstat(fd, &st) < 0) { e = errno ; fd_close(fd) ; goto fail ; }
  if (allwrite(fd, bbuf.s, bbuf.len) < bbuf.len || fsync(fd) < 0)
  {
    e = errno ? errno : EIO ;
    /* no torn record may stay in front of the next one */
    if (created) unlink(path) ;
    else if (ftruncate(fd, st.st_size) < 0)
      LOG("warning: ", a->idstr, ": unable to cut ", path, " back to its last whole record: ", strerror(errno)) ;
    fd_close(fd) ;
    goto fail ;
  }
  fd_close(fd) ;
  if (created && fsync_parent(path) < 0)
  {
    /* a name that may not survive a crash must not be built upon */
    e = errno ;
    unlink(path) ;
    goto fail ;
  }
  bbuf.len = 0 ;
  a->hasbounce = 1 ;
  return 1 ;
 fail:
  bbuf.len = 0 ;
  LOG("warning: ", a->idstr, ": unable to record the failures in ", path, ": ", strerror(e), ": those recipients are tried again at the next retry") ;
  return 0 ;
}

/* ---------- activation and passes ---------- */

static int64_t next_retry (active const *a, int64_t t)
{
  int64_t birth = (int64_t)a->id.sec ;
  int64_t age = t - birth ;
  int64_t delay = age < (int64_t)set.retrymin ? (int64_t)set.retrymin : age > (int64_t)set.retrymax ? (int64_t)set.retrymax : age ;
  int64_t next = t + delay ;
  int64_t expiry = birth + (int64_t)set.lifetime ;
  if (next > expiry && expiry > t) next = expiry ;
  return next ;
}

static void active_free (active *a)
{
  if (a->prev) a->prev->next = a->next ; else ahead = a->next ;
  if (a->next) a->next->prev = a->prev ; else atail = a->prev ;
  nactive-- ;
  if (a->fd >= 0) fd_close(a->fd) ;
  stralloc_free(&a->text) ;
  stralloc_free(&a->defer) ;
  alloc_free(a->r) ;
  alloc_free(a) ;
}

/* queue/defer/B/ID: why the pending recipients are pending, for
   postie-qread. Informational only: written to work/defer and renamed,
   never fsync'ed (a crash may lose it or leave an older one; nothing
   depends on it). Kept as is when a pass deferred nobody. */
static void defer_write (active *a)
{
  char path[32 + QUEUE_ID_MAX] ;
  static char const tmp[] = "queue/work/defer" ;
  int fd ;
  if (!a->defer.len) return ;
  qpath(path, "defer", &a->id) ;
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600) ;
  if (fd >= 0)
  {
    int ok = allwrite(fd, a->defer.s, a->defer.len) == a->defer.len ;
    if (close(fd) < 0) ok = 0 ;
    if (ok && rename(tmp, path) == 0) return ;
    { int e = errno ; unlink(tmp) ; errno = e ; }
  }
  LOG("warning: ", a->idstr, ": unable to record the deferral reasons in ", path, ": ", strerror(errno)) ;
}

static int ctl_pass_end (active *a) ;

static void pass_end (active *a)
{
  char path[32 + QUEUE_ID_MAX] ;
  uint32_t i, pending = 0 ;
  int64_t t = now() ;
  int64_t next ;
  if (ctl_pass_end(a)) return ;  /* deleted by postie-qctl */
  if (a->hasbounce)
  {
    if (bounce_send(a->idstr, qid_bucket(&a->id), T(a, a->sender), (int64_t)a->id.sec) == 0)
    {
      qpath(path, "bounce", &a->id) ;
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
    qpath(path, "mess", &a->id) ;
    if (unlink(path) < 0 && errno != ENOENT)
    {
      LOG("warning: ", a->idstr, ": unable to remove ", path, ": ", strerror(errno), ": retried later") ;
      heap_push(t + (int64_t)set.retrymin, &a->id) ;
      active_free(a) ;
      return ;
    }
    qpath(path, "defer", &a->id) ;
    unlink(path) ;  /* informational (defer_write): usually absent */
    qpath(path, "info", &a->id) ;
    if (unlink(path) < 0 && errno != ENOENT)
    {
      /* its next activation finds no message and removes it */
      LOG("warning: ", a->idstr, ": unable to remove ", path, ": ", strerror(errno), ": retried later") ;
      heap_push(t + (int64_t)set.retrymin, &a->id) ;
    }
    LOG("end msg ", a->idstr) ;
    active_free(a) ;
    return ;
  }
  defer_write(a) ;
  next = a->hasbounce ? t + (int64_t)set.retrymin : next_retry(a, t) ;
  /* held for a destination that took no session: tried again with it
     (doc/postie-send.md, "Destinations") */
  if (!a->hasbounce && a->skipwait && (!a->tried || a->skipwait < next))
  {
    int64_t expiry = (int64_t)a->id.sec + (int64_t)set.lifetime ;
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

static int pass_done (active const *a)
{
  return !a->running && !a->unstarted[0] && !a->unstarted[1] && !a->syncing ;
}

static void slot_release (int k, unsigned int slot)
{
  chan *c = chans + k ;
  delivery *d = c->d + slot ;
  d->used = 0 ;
  d->marking = 0 ;
  d->a->running-- ;
  c->running-- ;
}

static void mark_done (void *p, int k, unsigned int slot, int err)
{
  active *a = p ;
  a->syncing-- ;
  /* the marks are written, maybe not on disk: a crash may make those
     deliveries again (never lose them); this message only is concerned */
  if (err) LOG("warning: ", a->idstr, ": unable to sync the info file: ", strerror(err), ": a crash may repeat its last deliveries") ;
  if (k >= 0) slot_release(k, slot) ;
  if (pass_done(a)) pass_end(a) ;
}

static int parse_info (active *a)
{
  char *s = a->text.s ;
  size_t len = a->text.len, i, nl ;
  uint32_t nr = 0, k ;
  if (len < sizeof(INFO_MAGIC) - 1 || memcmp(s, INFO_MAGIC, sizeof(INFO_MAGIC) - 1) || s[len - 1] != '\n') return 0 ;
  i = sizeof(INFO_MAGIC) - 1 ;
  {
    size_t m = uint64_scan(s + i, &a->msglen) ;
    if (!m || s[i + m] != '\n') return 0 ;
    i += m + 1 ;
  }
  a->sender = i ;
  nl = (char *)memchr(s + i, '\n', len - i) - s ;
  s[nl] = 0 ;
  i = nl + 1 ;
  for (k = i ; k < len ; k++) if (s[k] == '\n') nr++ ;
  if (!nr) return 0 ;
  a->r = alloc(sizeof(rcpt) * nr) ;
  if (!a->r) die_nomem() ;
  a->n = 0 ;
  while (i < len)
  {
    rcpt *r = a->r + a->n ;
    uint32_t *f[7] = { &r->addr, &r->orig, &r->user, &r->local, &r->ext, &r->domain, &r->reason } ;
    unsigned int j ;
    nl = (char *)memchr(s + i, '\n', len - i) - s ;
    if (nl - i < 3 || s[i + 2] != '\t') return 0 ;
    r->off = i ;
    r->state = s[i] ;
    r->kind = s[i + 1] ;
    r->pass = 0 ;
    if ((r->state != 'P' && r->state != 'D' && r->state != 'F') || (r->kind != 'L' && r->kind != 'R' && r->kind != 'X')) return 0 ;
    i += 3 ;
    for (j = 0 ; j < 7 ; j++)
    {
      size_t e = i ;
      while (e < nl && s[e] != '\t') e++ ;
      if ((e == nl) != (j == 6)) return 0 ;
      *f[j] = i ;
      s[e] = 0 ;
      i = e + 1 ;
    }
    a->n++ ;
  }
  return 1 ;
}

static int is_doublebounce (active const *a)
{
  return !strcmp(T(a, a->sender), DOUBLEBOUNCE_SENDER) ;
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
  char wpath[16 + QUEUE_ID_MAX], info[32 + QUEUE_ID_MAX], dir[64] ;
  char fmt[UINT64_FMT] ;
  int changed = 0, fd = -1, dfd = -1 ;
  uint32_t i ;
  if (!stralloc_cats(&out, INFO_MAGIC) || !stralloc_catb(&out, fmt, uint64_fmt(fmt, a->msglen))
   || !stralloc_catb(&out, "\n", 1) || !stralloc_cats(&out, T(a, a->sender)) || !stralloc_catb(&out, "\n", 1))
    die_nomem() ;
  for (i = 0 ; i < a->n ; i++)
  {
    rcpt const *r = a->r + i ;
    char const *f[5] = { T(a, r->user), T(a, r->local), T(a, r->ext), T(a, r->domain), T(a, r->reason) } ;
    if (r->state == 'P' && r->kind == 'X')
    {
      res.len = 0 ;
      if (local_resolve(&resolver, T(a, r->addr), strlen(T(a, r->addr)), &res) < 0)
        LOG("warning: ", a->idstr, ": unable to resolve ", T(a, r->addr), " again: ", resolver.errfile, resolver.errfile[0] ? ": " : "", strerror(errno)) ;
      else if (res.len && res.s[0] != 'X')
      {
        if (info_lines(&out, &res, T(a, r->orig)) < 0) die_nomem() ;
        changed = 1 ;
        continue ;
      }
    }
    if (!info_line(&out, r->state, r->kind, T(a, r->addr), T(a, r->orig), f)) die_nomem() ;
  }
  stralloc_free(&res) ;
  if (!changed) { stralloc_free(&out) ; return 0 ; }
  memcpy(wpath, "queue/work/info.", 16) ;
  memcpy(wpath + 16, a->idstr, strlen(a->idstr) + 1) ;
  qpath(info, "info", &a->id) ;
  qdir(dir, "info", qid_bucket(&a->id)) ;
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

static void activate (qid const *q)
{
  char info[32 + QUEUE_ID_MAX], path[32 + QUEUE_ID_MAX] ;
  struct stat st ;
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
  qpath(a->mess, "mess", q) ;
  qpath(info, "info", q) ;
  a->fd = open(info, O_RDWR | O_CLOEXEC | O_NOFOLLOW) ;
  if (a->fd < 0)
  {
    if (errno != ENOENT) { LOG("warning: ", a->idstr, ": unable to open the info file: ", strerror(errno)) ; heap_push(now() + (int64_t)set.retrymin, q) ; }
    goto drop ;
  }
  if (fstat(a->fd, &st) < 0 || (uint64_t)st.st_size > INFO_MAX
   || !stralloc_ready(&a->text, (size_t)st.st_size + 1)
   || pread(a->fd, a->text.s, (size_t)st.st_size, 0) != (ssize_t)st.st_size)
  {
    LOG("warning: ", a->idstr, ": unable to read the info file: ", strerror(errno)) ;
    heap_push(now() + (int64_t)set.retrymin, q) ;
    goto drop ;
  }
  a->text.len = (size_t)st.st_size ;
  if (!parse_info(a))
  {
    LOG("warning: ", a->idstr, ": malformed info file, message left alone") ;
    goto drop ;
  }
  if (stat(a->mess, &st) < 0)
  {
    if (errno != ENOENT) { LOG("warning: ", a->idstr, ": unable to stat the message: ", strerror(errno)) ; heap_push(now() + (int64_t)set.retrymin, q) ; goto drop ; }
    qpath(path, "todo", q) ;
    if (access(path, F_OK) == 0) goto drop ;  /* pickup was interrupted: it comes back from todo */
    /* the message was finished and its info file not yet removed */
    qpath(path, "bounce", q) ;
    unlink(path) ;
    qpath(path, "defer", q) ;
    unlink(path) ;
    unlink(info) ;
    LOG("end msg ", a->idstr, " (after a crash)") ;
    goto drop ;
  }
  if ((uint64_t)st.st_size > a->msglen)
  {
    /* pickup was interrupted before the truncation, or failed to sync
       queue/mess/B: the rename is made durable first */
    int fd ;
    if (fsync_parent(a->mess) < 0)
    {
      LOG("warning: ", a->idstr, ": unable to sync the directory of ", a->mess, ": ", strerror(errno)) ;
      heap_push(now() + (int64_t)set.retrymin, q) ;
      goto drop ;
    }
    fd = open(a->mess, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK) ;
    if (fd < 0 || ftruncate(fd, (off_t)a->msglen) < 0 || fsync(fd) < 0)
    {
      /* this message only: it waits, the queue goes on */
      LOG("warning: ", a->idstr, ": unable to truncate ", a->mess, ": ", strerror(errno), ": retried later") ;
      if (fd >= 0) fd_close(fd) ;
      heap_push(now() + (int64_t)set.retrymin, q) ;
      goto drop ;
    }
    fd_close(fd) ;
  }
  if (is_doublebounce(a))
  {
    for (i = 0 ; i < a->n ; i++) if (a->r[i].state == 'P' && a->r[i].kind == 'X') break ;
    if (i < a->n && reresolve(a) == -2) goto drop ;
  }
  qpath(path, "bounce", q) ;
  a->hasbounce = access(path, F_OK) == 0 ;
  a->prev = atail ; a->next = 0 ;
  if (atail) atail->next = a ; else ahead = a ;
  atail = a ;
  nactive++ ;
  /* unknown local users fail now, without a delivery; those of a
     double bounce stay pending (it is never dropped), logged each time */
  {
    int xs = 0, dbl = is_doublebounce(a) ;
    for (i = 0 ; i < a->n ; i++)
    {
      rcpt *r = a->r + i ;
      if (r->state != 'P') continue ;
      if (r->kind == 'X' && dbl)
        LOG("warning: double bounce ", a->idstr, ": <", T(a, r->addr), ">: ", T(a, r->reason), " (#5.1.1): kept in the queue, tried again at the next retry") ;
      else if (r->kind == 'X')
      {
        LOG("delivery ", a->idstr, ": <", T(a, r->addr), ">: failure: ", T(a, r->reason), " (#5.1.1)") ;
        bounce_add(a, r, "5.1.1", "x-postie", T(a, r->reason), "") ;
        xs = 1 ;
      }
      else a->unstarted[r->kind == 'R']++ ;
    }
    if (xs && bounce_sync(a))
    {
      for (i = 0 ; i < a->n ; i++) if (a->r[i].state == 'P' && a->r[i].kind == 'X') info_mark(a, a->r + i, 'F') ;
      info_sync(a, -1, 0) ;
    }
  }
  unstarted_total[0] += a->unstarted[0] ;
  unstarted_total[1] += a->unstarted[1] ;
  if (a->unstarted[0]) work_add(0, a) ;
  if (a->unstarted[1]) work_add(1, a) ;
  if (pass_done(a)) pass_end(a) ;
  return ;
 drop:
  if (a->fd >= 0) fd_close(a->fd) ;
  stralloc_free(&a->text) ;
  alloc_free(a->r) ;
  alloc_free(a) ;
}

/* ---------- deliveries ---------- */

static int same_domain (char const *a, char const *b)
{
  for (;; a++, b++)
  {
    char x = *a >= 'A' && *a <= 'Z' ? *a + 32 : *a ;
    char y = *b >= 'A' && *b <= 'Z' ? *b + 32 : *b ;
    if (x != y) return 0 ;
    if (!x) return 1 ;
  }
}

static void slot_add (delivery *d, uint32_t i)
{
  if (d->nrc == d->cap)
  {
    uint32_t nc = d->cap ? d->cap * 2 : 4 ;
    uint32_t *p = realloc(d->rc, nc * sizeof(uint32_t)) ;
    if (!p) die_nomem() ;
    d->rc = p ; d->cap = nc ;
  }
  d->rc[d->nrc++] = i ;
}

/* ---------- destinations that took no session ---------- */

/* A remote delivery whose every line is U (doc/remote-results.md: no
   host of the destination took a session) marks its domain down until
   its next retry: retrymin, doubling at each failed retry up to
   retrymax. Until then the destination's other deliveries are not
   started: their recipients are deferred at once and their messages come
   back at the destination's retry. When it comes, one delivery goes (the
   probe), the others keep waiting for its result: anything but U puts
   the destination back (its entry goes), U holds it longer. Memory
   only: a restart, or SIGALRM, forgets it. */
typedef struct dest_s dest ;
struct dest_s
{
  char *domain ;
  char *text ;      /* the last U result's text */
  int64_t until ;
  int64_t interval ;
  int probing ;
} ;

static dest *dests = 0 ;
static size_t ndests = 0, destcap = 0 ;

static dest *dest_find (char const *domain)
{
  size_t i ;
  for (i = 0 ; i < ndests ; i++) if (same_domain(dests[i].domain, domain)) return dests + i ;
  return 0 ;
}

static void dest_forget (dest *x)
{
  alloc_free(x->domain) ;
  alloc_free(x->text) ;
  *x = dests[--ndests] ;
}

static void dest_clear (void)
{
  while (ndests) dest_forget(dests) ;
}

static void dest_down (char const *domain, char const *text, int64_t t)
{
  dest *x = dest_find(domain) ;
  char fmt[UINT64_FMT] ;
  if (x && !x->probing) return ;  /* started before the destination was down: it already waits */
  if (!x)
  {
    if (ndests == destcap)
    {
      size_t nc = destcap ? destcap * 2 : 16 ;
      dest *p = realloc(dests, nc * sizeof(dest)) ;
      if (!p) die_nomem() ;
      dests = p ; destcap = nc ;
    }
    x = dests + ndests++ ;
    x->domain = strdup(domain) ;
    x->text = 0 ;
    x->interval = 0 ;
    if (!x->domain) die_nomem() ;
  }
  x->interval = x->interval ? x->interval * 2 : (int64_t)set.retrymin ;
  if (x->interval < (int64_t)set.retrymin) x->interval = (int64_t)set.retrymin ;
  if (x->interval > (int64_t)set.retrymax) x->interval = (int64_t)set.retrymax ;
  x->until = t + x->interval ;
  x->probing = 0 ;
  alloc_free(x->text) ;
  x->text = strdup(text) ;
  if (!x->text) die_nomem() ;
  fmt[uint64_fmt(fmt, (uint64_t)x->interval)] = 0 ;
  LOG("warning: destination ", domain, " took no session: its deliveries wait ", fmt, " seconds for its next retry") ;
}

static void dest_up (char const *domain)
{
  dest *x = dest_find(domain) ;
  if (!x) return ;
  LOG("status: destination ", domain, " takes sessions again") ;
  dest_forget(x) ;
}

/* Messages an admin asked to retry now (postie-qctl retry or release):
   their next remote delivery goes even to a destination that waits, as
   that destination's probe. A few at a time; the oldest is forgotten. */
#define FORCEDMAX 64
static qid forced[FORCEDMAX] ;
static unsigned int nforced = 0 ;

static void dest_force (qid const *q)
{
  if (nforced == FORCEDMAX) { memmove(forced, forced + 1, (FORCEDMAX - 1) * sizeof(qid)) ; nforced-- ; }
  forced[nforced++] = *q ;
}

static int dest_forced (qid const *q)
{
  unsigned int i ;
  for (i = 0 ; i < nforced ; i++)
    if (forced[i].sec == q->sec && forced[i].usec == q->usec && forced[i].ino == q->ino)
    {
      forced[i] = forced[--nforced] ;
      return 1 ;
    }
  return 0 ;
}

/* The next remote delivery of a, if its destination is down: its
   recipients are deferred now, without a delivery, and the message
   will come back at the destination's next retry. Returns 1 if so (a may
   have been freed: its pass may be over), 0 to start the delivery. */
static int dest_hold (active *a)
{
  int64_t t = now(), wait ;
  char const *dom ;
  dest *x ;
  uint32_t i, j ;
  for (i = a->cur[1] ; i < a->n ; i++)
  {
    rcpt const *r = a->r + i ;
    if (r->state == 'P' && r->pass == 0 && r->kind == 'R') break ;
  }
  if (i >= a->n) return 0 ;
  dom = T(a, a->r[i].domain) ;
  x = dest_find(dom) ;
  if (!x) return 0 ;
  if (t >= (int64_t)a->id.sec + (int64_t)set.lifetime) return 0 ;  /* expired: tried, and bounced if it fails */
  if (dest_forced(&a->id)) { x->probing = 1 ; return 0 ; }  /* postie-qctl: now */
  if (!x->probing && t >= x->until) { x->probing = 1 ; return 0 ; }  /* the destination's retry */
  wait = x->probing ? t + (x->interval * 2 < (int64_t)set.retrymax ? x->interval * 2 : (int64_t)set.retrymax) : x->until ;
  for (j = i ; j < a->n ; j++)
  {
    rcpt *r = a->r + j ;
    size_t at, m, q ;
    if (r->state != 'P' || r->pass || r->kind != 'R' || !same_domain(T(a, r->domain), dom)) continue ;
    r->pass = 2 ;
    LOG("delivery ", a->idstr, ": <", T(a, r->addr), ">: deferral: destination ", dom,
        " took no session at its last attempt, waiting for its next retry: ", x->text) ;
    if (!stralloc_cats(&a->defer, T(a, r->addr)) || !stralloc_cats(&a->defer, "\tdestination took no session at its last attempt, waiting for its next retry: ")) die_nomem() ;
    at = a->defer.len ;
    m = strlen(x->text) ;
    if (m > 900) m = 900 ;
    if (!stralloc_catb(&a->defer, x->text, m) || !stralloc_catb(&a->defer, "\n", 1)) die_nomem() ;
    for (q = at ; q < at + m ; q++) if ((unsigned char)a->defer.s[q] < 32) a->defer.s[q] = '?' ;
    a->unstarted[1]-- ;
    unstarted_total[1]-- ;
  }
  if (!a->skipwait || wait < a->skipwait) a->skipwait = wait ;
  if (!a->unstarted[1]) work_remove(1, a) ;
  if (pass_done(a)) pass_end(a) ;
  return 1 ;
}

static void start (int k, active *a)
{
  chan *c = chans + k ;
  char const **f ;
  char dn[UINT_FMT] ;
  unsigned int slot, nf = 0 ;
  uint32_t i ;
  delivery *d ;
  if (k && dest_hold(a)) return ;
  for (slot = 0 ; slot < CONC_MAX ; slot++) if (!c->d[slot].used) break ;
  d = c->d + slot ;
  d->used = 1 ; d->a = a ; d->nrc = 0 ;
  for (i = a->cur[k] ; i < a->n ; i++)
  {
    rcpt *r = a->r + i ;
    if (r->state == 'P' && r->pass == 0 && r->kind == c->kindch) break ;
  }
  a->cur[k] = i + 1 ;
  slot_add(d, i) ;
  if (k)
  {
    uint32_t j ;
    for (j = i + 1 ; j < a->n && d->nrc < set.remotercptmax ; j++)
    {
      rcpt *r = a->r + j ;
      if (r->state == 'P' && r->pass == 0 && r->kind == 'R' && same_domain(T(a, r->domain), T(a, a->r[i].domain)))
        slot_add(d, j) ;
    }
  }
  f = alloc(sizeof(char const *) * (d->nrc + 8)) ;
  if (!f) die_nomem() ;
  dn[uint_fmt(dn, slot)] = 0 ;
  f[nf++] = dn ;
  f[nf++] = a->mess ;
  if (!k)
  {
    rcpt *r = a->r + i ;
    f[nf++] = T(a, r->user) ; f[nf++] = T(a, r->local) ; f[nf++] = T(a, r->ext) ;
    f[nf++] = T(a, r->domain) ; f[nf++] = T(a, a->sender) ;
  }
  else
  {
    f[nf++] = T(a, a->r[i].domain) ;
    f[nf++] = T(a, a->sender) ;
    for (i = 0 ; i < d->nrc ; i++) f[nf++] = T(a, a->r[d->rc[i]].addr) ;
  }
  if (!spawn_put(&c->w, f, nf)) die_nomem() ;
  alloc_free(f) ;
  for (i = 0 ; i < d->nrc ; i++)
  {
    rcpt *r = a->r + d->rc[i] ;
    r->pass = 1 ;
    LOG("starting delivery ", a->idstr, " ", k ? "R" : "L", dn, ": ", k ? "remote <" : "local <", T(a, r->addr), ">") ;
  }
  a->unstarted[k] -= d->nrc ;
  unstarted_total[k] -= d->nrc ;
  if (!a->unstarted[k]) work_remove(k, a) ;
  a->running++ ;
  c->running++ ;
}

/* postie-rspawn's field after the recipients' is postie-remote's message
   line (doc/spawn-protocol.md): when the server took the message, its
   reply to the end of DATA names the message in its own queue, which is
   what traces it across servers. */
static void remote_message_log (active const *a, char const *dn, char const *const *lines, unsigned int nlines, uint32_t nrc)
{
  uint32_t i ;
  if (nlines <= nrc || lines[nrc][0] != 'K') return ;
  for (i = 0 ; i < nrc ; i++) if (lines[i][0] == 'K') break ;
  if (i == nrc) return ;  /* no recipient accepted: no DATA */
  LOG("delivery ", a->idstr, " R", dn, ": message: ", lines[nrc] + 1) ;
}

static void result (int k, unsigned int slot, char const *const *lines, unsigned int nlines)
{
  chan *c = chans + k ;
  delivery *d = c->d + slot ;
  active *a = d->a ;
  int64_t t = now() ;
  int dbl = is_doublebounce(a) ;
  /* a double bounce neither expires nor bounces: it waits for the
     postmaster's address to work */
  int expired = !dbl && t >= (int64_t)a->id.sec + (int64_t)set.lifetime ;
  uint32_t i ;
  char dn[UINT_FMT] ;
  int failed = 0, marked = 0 ;
  dn[uint_fmt(dn, slot)] = 0 ;
  for (i = 0 ; i < d->nrc ; i++)
  {
    rcpt *r = a->r + d->rc[i] ;
    char const *line = i < nlines ? lines[i] : "Zno result for this recipient" ;
    char kind = line[0] ;
    char const *text = line + 1 ;
    char st[16] ;
    if (kind != 'K' && kind != 'D') kind = 'Z' ;  /* U too: a temporary failure */
    if (kind == 'D' && dbl)
    {
      LOG("delivery ", a->idstr, " ", k ? "R" : "L", dn, ": <", T(a, r->addr), ">: failure: ", text) ;
      LOG("warning: double bounce ", a->idstr, ": <", T(a, r->addr), ">: kept in the queue, tried again at the next retry") ;
      kind = 'Z' ;
    }
    if (kind == 'K') LOG("delivery ", a->idstr, " ", k ? "R" : "L", dn, ": <", T(a, r->addr), ">: success: ", text) ;
    else if (kind == 'D')
    {
      LOG("delivery ", a->idstr, " ", k ? "R" : "L", dn, ": <", T(a, r->addr), ">: failure: ", text) ;
      status_of(text, '5', st) ;
      bounce_add(a, r, st, k ? "smtp" : "x-postie", text, "") ;
      failed = 1 ;
    }
    else
    {
      if (!dbl || line[0] != 'D') LOG("delivery ", a->idstr, " ", k ? "R" : "L", dn, ": <", T(a, r->addr), ">: deferral: ", text) ;
      if (expired)
      {
        LOG("delivery ", a->idstr, ": <", T(a, r->addr), ">: failure: message has been in the queue longer than control/queuelifetime") ;
        bounce_add(a, r, "4.4.7", k ? "smtp" : "x-postie", text, "message expired in the queue; last error: ") ;
        failed = 1 ;
      }
      else
      {
        a->tried = 1 ;
        /* for postie-qread: one line, no tab (the spawners already made
           control characters '?') */
        size_t m = strlen(text), j, at ;
        if (m > 1000) m = 1000 ;
        if (!stralloc_cats(&a->defer, T(a, r->addr)) || !stralloc_catb(&a->defer, "\t", 1)) die_nomem() ;
        at = a->defer.len ;
        if (!stralloc_catb(&a->defer, text, m) || !stralloc_catb(&a->defer, "\n", 1)) die_nomem() ;
        for (j = at ; j < at + m ; j++) if ((unsigned char)a->defer.s[j] < 32) a->defer.s[j] = '?' ;
      }
    }
  }
  if (k && nlines > d->nrc) remote_message_log(a, dn, lines, nlines, d->nrc) ;
  /* a destination that took no session (every line U) waits; one that
     answered anything else is back */
  if (k && d->nrc && nlines)
  {
    char const *dom = T(a, a->r[d->rc[0]].domain) ;
    for (i = 0 ; i < d->nrc && i < nlines && lines[i][0] == 'U' ; i++) ;
    if (i == d->nrc) dest_down(dom, lines[0] + 1, t) ;
    else dest_up(dom) ;
  }
  /* failures not recorded (a full disk) stay pending: not marked */
  if (failed && !bounce_sync(a)) failed = -1 ;
  for (i = 0 ; i < d->nrc ; i++)
  {
    rcpt *r = a->r + d->rc[i] ;
    char kind = i < nlines ? lines[i][0] : 'Z' ;
    if (kind == 'D' && dbl) kind = 'Z' ;
    r->pass = 2 ;
    if (kind == 'K') { if (info_mark(a, r, 'D')) marked = 1 ; }
    else if ((kind == 'D' || expired) && failed > 0) { if (info_mark(a, r, 'F')) marked = 1 ; }
  }
  /* The slot stays busy (used, counted in running) until its marks are
     on disk: a crash can then redeliver at most the concurrency's worth
     of deliveries (doc/queue.md), not every result still waiting on its
     fdatasync. mark_done releases it. */
  if (marked) { d->marking = 1 ; info_sync(a, k, slot) ; return ; }
  slot_release(k, slot) ;
  if (pass_done(a)) pass_end(a) ;
}

/* ---------- the spawners ---------- */

/* System mode: postie-send is started as root, runs postie-lspawn as
   root, postie-rspawn as POSTIE_REMOTE_UID/GID, and itself becomes
   POSTIE_SEND_UID/GID (with the supplementary groups of
   POSTIE_SEND_GIDLIST) before it reads any queue file. */
#define GIDLIST_MAX 64

static int ids_get (char const *uvar, char const *gvar, uid_t *u, gid_t *g)
{
  char const *us = getenv(uvar) ;
  char const *gs = getenv(gvar) ;
  unsigned int x, y ;
  if (!us || !gs) return 0 ;
  if (!uint0_scan(us, &x) || !uint0_scan(gs, &y)) strerr_dief(100, "invalid ", uvar, " or ", gvar) ;
  *u = (uid_t)x ; *g = (gid_t)y ;
  return 1 ;
}

/* A GIDLIST as s6-envuidgid writes it: numbers separated by commas, maybe
   empty. g comes first; the list's duplicates of it are skipped. */
static size_t gidlist_get (char const *var, gid_t g, gid_t *list)
{
  char const *s = getenv(var) ;
  size_t n = 0 ;
  list[n++] = g ;
  if (!s) return n ;
  while (*s)
  {
    unsigned int x ;
    size_t len = uint_scan(s, &x) ;
    if (!len || (s[len] && s[len] != ',')) strerr_dief(100, "invalid ", var) ;
    if ((gid_t)x != g)
    {
      if (n >= GIDLIST_MAX) strerr_dief(100, "too many groups in ", var) ;
      list[n++] = (gid_t)x ;
    }
    s += len ;
    if (*s) s++ ;
  }
  return n ;
}

static void become (uid_t u, gid_t g, char const *listvar)
{
  gid_t list[GIDLIST_MAX] ;
  size_t n = listvar ? gidlist_get(listvar, g, list) : (list[0] = g, 1) ;
  if (!u) strerr_dief(100, "refusing to run as uid 0 after dropping privileges") ;
  if (setgroups(n, list) < 0 || setgid(g) < 0 || setuid(u) < 0) strerr_diefusys(111, "drop privileges") ;
  if (!getuid() || !geteuid()) strerr_dief(111, "still root after setuid") ;
}

static void chan_start (int k)
{
  chan *c = chans + k ;
  int p1[2], p2[2] ;
  char max[UINT_FMT], tmo[ULONG_FMT] ;
  max[uint_fmt(max, CONC_MAX)] = 0 ;
  tmo[ulong_fmt(tmo, k ? set.timeoutremote : set.timeoutlocal)] = 0 ;
  if (pipecoe(p1) < 0 || pipecoe(p2) < 0) strerr_diefusys(111, "create pipes") ;
  c->pid = fork() ;
  if (c->pid < 0) strerr_diefusys(111, "fork") ;
  if (!c->pid)
  {
    char const *argv[4] = { c->prog, max, tmo, 0 } ;
    uid_t u ;
    gid_t g ;
    selfpipe_finish() ;
    if (k && !geteuid() && (ids_get("POSTIE_REMOTE_UID", "POSTIE_REMOTE_GID", &u, &g) || ids_get("POSTIE_SEND_UID", "POSTIE_SEND_GID", &u, &g)))
      become(u, g, 0) ;
    if (fd_move(0, p1[0]) < 0 || fd_move(1, p2[1]) < 0) _exit(111) ;
    execvp(argv[0], (char *const *)argv) ;
    strerr_dieexec(111, c->prog) ;
  }
  fd_close(p1[0]) ; fd_close(p2[1]) ;
  c->to = p1[1] ; c->from = p2[0] ;
  ndelay_on(c->to) ; ndelay_on(c->from) ;
}

static void chan_write (int k)
{
  chan *c = chans + k ;
  while (c->wpos < c->w.len)
  {
    ssize_t r = write(c->to, c->w.s + c->wpos, c->w.len - c->wpos) ;
    if (r < 0)
    {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return ;
      strerr_diefusys(111, "write to ", c->prog) ;
    }
    c->wpos += (size_t)r ;
  }
  c->w.len = c->wpos = 0 ;
}

static char const *rfields[SPAWN_FIELDS_MAX] ;

static void chan_read (int k)
{
  chan *c = chans + k ;
  for (;;)
  {
    ssize_t r ;
    if (!stralloc_readyplus(&c->r, 65536)) die_nomem() ;
    r = read(c->from, c->r.s + c->r.len, 65536) ;
    if (r < 0)
    {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break ;
      strerr_diefusys(111, "read from ", c->prog) ;
    }
    if (!r) strerr_dief(111, c->prog, " exited") ;
    c->r.len += (size_t)r ;
  }
  for (;;)
  {
    size_t st, pl ;
    unsigned int slot ;
    int n ;
    ssize_t r = spawn_get(c->r.s, c->r.len, SPAWN_RECORD_MAX, &st, &pl) ;
    if (r < 0) strerr_dief(111, "malformed report from ", c->prog) ;
    if (!r) break ;
    n = spawn_split(c->r.s + st, pl, rfields, SPAWN_FIELDS_MAX) ;
    if (n < 1 || !uint0_scan(rfields[0], &slot) || slot >= CONC_MAX || !c->d[slot].used || c->d[slot].marking)
      strerr_dief(111, "malformed report from ", c->prog) ;
    result(k, slot, rfields + 1, (unsigned int)n - 1) ;
    memmove(c->r.s, c->r.s + r, c->r.len - (size_t)r) ;
    c->r.len -= (size_t)r ;
  }
}

/* At exit: end the spawners' requests (they stop what still runs and
   exit), then reap them, so that none is left a zombie. At most
   spawnwait seconds, then SIGKILL; in system mode postie-lspawn is root
   and cannot be killed by us (EPERM): it is then left to the supervisor. */
static void chans_finish (int sfd)
{
  tain deadline ;
  unsigned int k, left = 0 ;
  for (k = 0 ; k < 2 ; k++)
  {
    fd_close(chans[k].to) ;
    fd_close(chans[k].from) ;
    if (chans[k].pid > 0) left++ ;
  }
  tain_now_g() ;
  tain_addsec_g(&deadline, (int)(set.spawnwait > 3600 ? 3600 : set.spawnwait)) ;
  for (;;)
  {
    iopause_fd x = { .fd = sfd, .events = IOPAUSE_READ } ;
    int r ;
    for (;;)
    {
      int w ;
      pid_t pid = waitpid(-1, &w, WNOHANG) ;
      if (pid <= 0) break ;
      for (k = 0 ; k < 2 ; k++) if (pid == chans[k].pid) { chans[k].pid = 0 ; left-- ; }
    }
    if (!left) return ;
    r = iopause_g(&x, 1, &deadline) ;
    if (r < 0) strerr_diefusys(111, "iopause") ;
    if (!r) break ;
    while ((r = selfpipe_read()) > 0) ;
    if (r < 0) strerr_diefusys(111, "selfpipe_read") ;
  }
  for (k = 0 ; k < 2 ; k++)
    if (chans[k].pid > 0)
    {
      int w ;
      if (kill(chans[k].pid, SIGKILL) < 0)
      {
        LOG("warning: ", chans[k].prog, " still running, unable to kill it: ", strerror(errno)) ;
        continue ;
      }
      LOG("warning: ", chans[k].prog, " still running after spawnwait: killed") ;
      if (waitpid(chans[k].pid, &w, 0) == chans[k].pid) chans[k].pid = 0 ;
    }
}

/* ---------- queue control: postie-qctl's requests (control.c) ---------- */

/* SIGHUP, or the trigger's QUEUE_TRIGGER_RELOAD (newaliases). */
static void reload_settings (void)
{
  if (readsettings()) LOG("status: settings read again") ;
  else LOG("warning: keeping part of the old settings") ;
}

/* SIGALRM (s6-svc -a), or the trigger's QUEUE_TRIGGER_RETRY (sendmail -q). */
static void retry_all (void)
{
  size_t i ;
  for (i = 0 ; i < heaplen ; i++) heap[i].next = 0 ;
  dest_clear() ;
  LOG("status: retrying everything now") ;
}

static int qid_eq (qid const *a, qid const *b)
{
  return a->sec == b->sec && a->usec == b->usec && a->ino == b->ino ;
}

static active *active_find (qid const *q)
{
  active *a ;
  for (a = ahead ; a ; a = a->next) if (qid_eq(&a->id, q)) return a ;
  return 0 ;
}

/* Due now: in the heap (moved to the top), in the new messages' FIFO
   (due anyway), or back into the heap (held, then dropped by activate).
   Only for a message that is not active. */
static void due_now (qid const *q)
{
  size_t i ;
  for (i = newhead ; i < newlen ; i++) if (qid_eq(newq + i, q)) return ;
  for (i = 0 ; i < heaplen ; i++) if (qid_eq(&heap[i].id, q)) break ;
  if (i == heaplen) { heap_push(0, q) ; return ; }
  heap[i].next = 0 ;
  while (i)
  {
    size_t p = (i - 1) / 2 ;
    sched x ;
    if (heap[p].next <= 0) break ;
    x = heap[p] ; heap[p] = heap[i] ; heap[i] = x ;
    i = p ;
  }
}

/* No delivery of a is started any more in this pass; those running go
   on to their end. */
static void stop_starting (active *a)
{
  uint32_t i ;
  int k ;
  for (i = 0 ; i < a->n ; i++)
    if (a->r[i].state == 'P' && a->r[i].pass == 0 && a->r[i].kind != 'X') a->r[i].pass = 2 ;
  for (k = 0 ; k < 2 ; k++)
    if (a->unstarted[k])
    {
      unstarted_total[k] -= a->unstarted[k] ;
      a->unstarted[k] = 0 ;
      work_remove(k, a) ;
    }
}

/* Deletes that wait for a message's deliveries in flight: the request's
   name, and the message. */
typedef struct ctlwait_s ctlwait ;
struct ctlwait_s
{
  char name[CTL_NAME_MAX + 1] ;
  qid id ;
} ;
static ctlwait *ctlw = 0 ;
static size_t nctlw = 0, ctlwcap = 0 ;

static int ctl_waiting (char const *name)
{
  size_t i ;
  for (i = 0 ; i < nctlw ; i++) if (!strcmp(ctlw[i].name, name)) return 1 ;
  return 0 ;
}

/* The message's files, the message first and the info file last (as at
   the end of a message: a crash in between leaves an info file without
   its message, which the next activation removes), no DSN. */
static int delete_files (qid const *q, char const *id)
{
  static char const *const dirs[] = { "mess", "bounce", "defer", "hold", "info" } ;
  char path[32 + QUEUE_ID_MAX] ;
  unsigned int d ;
  for (d = 0 ; d < 5 ; d++)
  {
    qpath(path, dirs[d], q) ;
    if (unlink(path) < 0 && errno != ENOENT)
    {
      LOG("warning: ", id, ": unable to delete ", path, ": ", strerror(errno)) ;
      return 0 ;
    }
  }
  if (fsync_parent(path) < 0) LOG("warning: ", id, ": unable to sync the directory of ", path, ": ", strerror(errno)) ;
  LOG("end msg ", id, " (deleted by postie-qctl)") ;
  return 1 ;
}

/* Called first thing at the end of a's pass: the deletes that waited for
   it. 1 when a was deleted (and freed). */
static int ctl_pass_end (active *a)
{
  size_t i = 0 ;
  int deleted = 0 ;
  while (i < nctlw)
  {
    if (!qid_eq(&ctlw[i].id, &a->id)) { i++ ; continue ; }
    if (ctl_claim(ctlw[i].name))
    {
      if (deleted || delete_files(&a->id, a->idstr))
      {
        deleted = 1 ;
        ctl_reply(ctlw[i].name, 1, "deleted, after the deliveries that were in flight") ;
      }
      else ctl_reply(ctlw[i].name, 0, "unable to delete it (see postie-send's log)") ;
    }
    else LOG("delete ", a->idstr, ": withdrawn by postie-qctl") ;
    ctlw[i] = ctlw[--nctlw] ;
  }
  if (deleted) active_free(a) ;
  return deleted ;
}

static void ctl_apply (ctlreq const *c)
{
  char path[32 + QUEUE_ID_MAX] ;
  qid q ;
  active *a ;
  int held ;
  if (ctl_waiting(c->name)) return ;  /* a delete waiting for its deliveries */
  if (!c->claimed && !ctl_claim(c->name)) return ;  /* withdrawn */
  if (!qid_scan(c->id, &q)) { ctl_reply(c->name, 0, "not a queue id") ; return ; }
  qpath(path, "info", &q) ;
  if (pickup_busy(&q) || access(path, F_OK) < 0)
  {
    qpath(path, "todo", &q) ;
    if (pickup_busy(&q) || access(path, F_OK) == 0) ctl_reply(c->name, 0, "not picked up yet: try again in a moment") ;
    else ctl_reply(c->name, 0, "no such message in the queue") ;
    return ;
  }
  a = active_find(&q) ;
  held = hold_is(c->id) ;
  if (!strcmp(c->cmd, "hold"))
  {
    if (held) { ctl_reply(c->name, 1, "already held") ; return ; }
    if (hold_set(c->id) < 0)
    {
      LOG("warning: ", c->id, ": unable to hold it: ", strerror(errno)) ;
      ctl_reply(c->name, 0, "unable to create its hold mark (see postie-send's log)") ;
      return ;
    }
    LOG("hold ", c->id, " by postie-qctl") ;
    if (a)
    {
      stop_starting(a) ;
      ctl_reply(c->name, 1, a->running ? "held; the deliveries in flight go on to their end" : "held") ;
      if (pass_done(a)) pass_end(a) ;
      return ;
    }
    ctl_reply(c->name, 1, "held") ;
  }
  else if (!strcmp(c->cmd, "release"))
  {
    if (!held) { ctl_reply(c->name, 0, "not held") ; return ; }
    if (hold_clear(c->id) < 0)
    {
      LOG("warning: ", c->id, ": unable to release it: ", strerror(errno)) ;
      ctl_reply(c->name, 0, "unable to remove its hold mark (see postie-send's log)") ;
      return ;
    }
    LOG("release ", c->id, " by postie-qctl") ;
    if (a) { ctl_reply(c->name, 1, "released; its deliveries in flight end first, then it is retried on its schedule (postie-qctl retry ID: now)") ; return ; }
    dest_force(&q) ;
    due_now(&q) ;
    ctl_reply(c->name, 1, "released, delivery now") ;
  }
  else if (!strcmp(c->cmd, "retry"))
  {
    if (held) { ctl_reply(c->name, 0, "held: release it (postie-qctl release ID), which retries it") ; return ; }
    LOG("retry ", c->id, " now by postie-qctl") ;
    if (a) { ctl_reply(c->name, 1, "being delivered now") ; return ; }
    dest_force(&q) ;
    due_now(&q) ;
    ctl_reply(c->name, 1, "retrying now") ;
  }
  else if (!strcmp(c->cmd, "delete"))
  {
    if (a)
    {
      /* never behind a delivery's back: it waits for the pass to end;
         the request goes back to NAME.req, so that postie-qctl may
         withdraw it meanwhile and a restart finds it */
      char from[32 + CTL_NAME_MAX], to[32 + CTL_NAME_MAX] ;
      memcpy(from, "queue/ctl/", 10) ; memcpy(from + 10, c->name, strlen(c->name)) ; memcpy(from + 10 + strlen(c->name), ".run", 5) ;
      memcpy(to, from, 10 + strlen(c->name)) ; memcpy(to + 10 + strlen(c->name), ".req", 5) ;
      if (rename(from, to) < 0) { ctl_reply(c->name, 0, "unable to keep the request while the deliveries run") ; return ; }
      if (nctlw == ctlwcap)
      {
        size_t nc = ctlwcap ? 2 * ctlwcap : 8 ;
        ctlwait *p = realloc(ctlw, nc * sizeof(ctlwait)) ;
        if (!p) die_nomem() ;
        ctlw = p ; ctlwcap = nc ;
      }
      memcpy(ctlw[nctlw].name, c->name, strlen(c->name) + 1) ;
      ctlw[nctlw++].id = q ;
      LOG("delete ", c->id, " by postie-qctl: after the deliveries in flight") ;
      stop_starting(a) ;
      if (pass_done(a)) pass_end(a) ;
      return ;
    }
    if (delete_files(&q, c->id)) ctl_reply(c->name, 1, "deleted") ;
    else ctl_reply(c->name, 0, "unable to delete it (see postie-send's log)") ;
  }
  else ctl_reply(c->name, 0, "unknown command: not delete, hold, release or retry") ;
}

/* ---------- the scheduler ---------- */

static int stopping = 0 ;

static int want_more (void)
{
  unsigned long base = set.conclocal + set.concremote ;
  if (nactive >= set.activemax) return 0 ;
  if (nactive < base) return 1 ;
  return (chans[0].running < conc(0) && !unstarted_total[0])
      || (chans[1].running < conc(1) && !unstarted_total[1]) ;
}

static void dispatch (void)
{
  int64_t t = now() ;
  int progress = 1 ;
  if (stopping) return ;
  while (progress)
  {
    int k ;
    progress = 0 ;
    while (want_more())
    {
      qid q ;
      if (newhead < newlen) q = newq[newhead++] ;
      else if (heaplen && heap[0].next <= t) heap_pop(&q) ;
      else break ;
      activate(&q) ;
      progress = 1 ;
    }
    for (k = 0 ; k < 2 ; k++)
      while (chans[k].running < conc(k) && unstarted_total[k])
      {
        if (!work[k]) break ;
        start(k, work[k]) ;
        progress = 1 ;
      }
  }
}

int main (int argc, char const *const *argv)
{
  int sfd, trig, trigw, lockfd ;
  tain deadline ;
  int64_t nextscan, stopat = 0 ;
  PROG = "postie-send" ;
  chans[0].prog = "postie-lspawn" ; chans[0].kindch = 'L' ;
  chans[1].prog = "postie-rspawn" ; chans[1].kindch = 'R' ;
  (void)argv ;
  if (argc > 1) strerr_dieusage(100, USAGE) ;
  umask(027) ;
  /* signals are trapped first: a SIGALRM or SIGHUP during start-up is
     handled once the loop runs, never fatal */
  sfd = selfpipe_init() ;
  if (sfd < 0) strerr_diefusys(111, "selfpipe_init") ;
  {
    sigset_t ss ;
    sigemptyset(&ss) ;
    sigaddset(&ss, SIGTERM) ; sigaddset(&ss, SIGHUP) ; sigaddset(&ss, SIGALRM) ; sigaddset(&ss, SIGCHLD) ;
    if (!selfpipe_trapset(&ss)) strerr_diefusys(111, "trap signals") ;
  }

  if (chdir(postie_home()) < 0) strerr_diefusys(111, "enter the instance directory") ;
  if (!readsettings()) strerr_dief(111, "unable to read the settings") ;
  sig_ignore(SIGPIPE) ;
  chan_start(0) ;
  chan_start(1) ;
  if (!geteuid())
  {
    uid_t u ;
    gid_t g ;
    if (ids_get("POSTIE_SEND_UID", "POSTIE_SEND_GID", &u, &g)) become(u, g, "POSTIE_SEND_GIDLIST") ;
    else LOG("status: running as root (POSTIE_SEND_UID and POSTIE_SEND_GID not set)") ;
  }
  lockfd = open("queue/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0640) ;
  if (lockfd < 0) strerr_diefusys(111, "open queue/lock") ;
  if (flock(lockfd, LOCK_EX | LOCK_NB) < 0) strerr_diefusys(111, "lock queue/lock (is another postie-send running?)") ;
  mkdirs() ;
  clean_tmp() ;
  clean_work() ;
  if (mkfifo("queue/trigger", 0620) == 0) { if (chmod("queue/trigger", 0620) < 0) strerr_diefusys(111, "chmod queue/trigger") ; }
  else if (errno != EEXIST) strerr_diefusys(111, "mkfifo queue/trigger") ;
  trig = open("queue/trigger", O_RDONLY | O_NONBLOCK | O_CLOEXEC) ;
  if (trig < 0) strerr_diefusys(111, "open queue/trigger") ;
  trigw = open("queue/trigger", O_WRONLY | O_NONBLOCK | O_CLOEXEC) ;
  if (trigw < 0) strerr_diefusys(111, "open queue/trigger for writing") ;
  LOG("status: starting") ;
  {
    unsigned long want = set.syncthreads ;
    char fmt[ULONG_FMT], fmt2[UINT_FMT] ;
    int r ;
    if (!want || want > SYNCPOOL_THREADS_MAX)
    {
      unsigned long w = want ? SYNCPOOL_THREADS_MAX : 1 ;
      fmt[ulong_fmt(fmt, want)] = 0 ;
      fmt2[uint_fmt(fmt2, (unsigned int)w)] = 0 ;
      LOG("warning: control/syncthreads is ", fmt, ", not 1 to 64: using ", fmt2) ;
      want = w ;
    }
    r = syncpool_start((unsigned int)want) ;
    if (r <= 0) strerr_diefusys(111, "start the sync threads") ;
    if ((unsigned long)r < want)
    {
      fmt[ulong_fmt(fmt, want)] = 0 ;
      fmt2[uint_fmt(fmt2, (unsigned int)r)] = 0 ;
      LOG("warning: unable to start ", fmt, " sync threads: running with ", fmt2) ;
    }
  }
  /* every pickup of the backlog completes before the info files are
     listed: a message is scheduled once, by one or the other. The loop
     ends when a round made no progress (rescan_todo then drops the
     buckets): what is left in todo waits for the first scan. */
  scan_todo(0) ;
  while (npk || rescan)
  {
    iopause_fd x = { .fd = syncpool_fd(), .events = IOPAUSE_READ } ;
    if (iopause_g(&x, 1, 0) < 0) strerr_diefusys(111, "iopause") ;
    sync_completions() ;
    rescan_todo() ;
  }
  scan_info() ;
  ctl_scan(&ctl_apply) ;  /* requests left from before a restart */
  {
    char fmt[SIZE_FMT] ;
    fmt[size_fmt(fmt, heaplen)] = 0 ;
    LOG("status: ready, ", fmt, " messages in the queue") ;
  }
  nextscan = now() + (int64_t)set.scaninterval ;
  tain_now_g() ;

  for (;;)
  {
    iopause_fd x[7] ;
    unsigned int n = 0, k ;
    int ito[2] = { -1, -1 } ;
    int64_t t, wake ;
    dispatch() ;
    for (k = 0 ; k < 2 ; k++) if (chans[k].w.len) chan_write(k) ;
    t = now() ;
    /* no exit while a thread may still sync one of our fds */
    if (stopping && !njobs && ((!chans[0].running && !chans[1].running) || t >= stopat)) break ;
    wake = nextscan ;
    if (!stopping && newhead == newlen && heaplen && heap[0].next < wake) wake = heap[0].next ;
    if (stopping && stopat < wake) wake = stopat ;
    if (stopping && t >= stopat) wake = t + 1 ;  /* only completions to wait for */
    if (wake < t) wake = t ;
    /* the heap's top may be due while every slot is busy: then a result
       wakes us, not the clock */
    if (!stopping && !want_more() && wake == t) wake = nextscan ;
    tain_addsec_g(&deadline, (int)(wake - t > 86400 ? 86400 : wake - t)) ;
    if (wake == t) deadline = STAMP ;
    x[n].fd = sfd ; x[n++].events = IOPAUSE_READ ;
    x[n].fd = trig ; x[n++].events = IOPAUSE_READ ;
    x[n].fd = chans[0].from ; x[n++].events = IOPAUSE_READ ;
    x[n].fd = chans[1].from ; x[n++].events = IOPAUSE_READ ;
    x[n].fd = syncpool_fd() ; x[n++].events = IOPAUSE_READ ;
    for (k = 0 ; k < 2 ; k++)
      if (chans[k].w.len) { ito[k] = n ; x[n].fd = chans[k].to ; x[n++].events = IOPAUSE_WRITE ; }
    if (iopause_g(x, n, &deadline) < 0) strerr_diefusys(111, "iopause") ;
    for (k = 0 ; k < 2 ; k++)
      if (ito[k] >= 0 && x[ito[k]].revents & (IOPAUSE_WRITE | IOPAUSE_EXCEPT)) chan_write(k) ;
    if (x[2].revents & (IOPAUSE_READ | IOPAUSE_EXCEPT)) chan_read(0) ;
    if (x[3].revents & (IOPAUSE_READ | IOPAUSE_EXCEPT)) chan_read(1) ;
    if (x[4].revents & (IOPAUSE_READ | IOPAUSE_EXCEPT)) sync_completions() ;
    if (x[0].revents & IOPAUSE_READ)
    {
      int sig ;
      while ((sig = selfpipe_read()) > 0)
      {
        switch (sig)
        {
          case SIGTERM :
            if (!stopping)
            {
              char fmt[UINT_FMT] ;
              fmt[uint_fmt(fmt, chans[0].running + chans[1].running)] = 0 ;
              LOG("status: exiting after ", fmt, " running deliveries") ;
              stopping = 1 ;
              stopat = now() + (int64_t)set.termwait ;
            }
            break ;
          case SIGHUP : reload_settings() ; break ;
          case SIGALRM : retry_all() ; break ;
          case SIGCHLD :
            for (;;)
            {
              int w ;
              pid_t pid = waitpid(-1, &w, WNOHANG) ;
              if (pid <= 0) break ;
              for (k = 0 ; k < 2 ; k++) if (pid == chans[k].pid) strerr_dief(111, chans[k].prog, " died") ;
            }
            break ;
        }
      }
      if (sig < 0) strerr_diefusys(111, "selfpipe_read") ;
    }
    if (x[1].revents & IOPAUSE_READ) trigger_read(trig, !stopping) ;
    if (!stopping) rescan_todo() ;
    if (now() >= nextscan)
    {
      if (!stopping) { scan_todo(1) ; ctl_scan(&ctl_apply) ; }
      nextscan = now() + (int64_t)set.scaninterval ;
    }
    tain_now_g() ;
  }
  chans_finish(sfd) ;
  LOG("status: exiting") ;
  return 0 ;
}
