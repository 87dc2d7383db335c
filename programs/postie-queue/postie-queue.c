/* postie-queue: put one message into the queue.
   Message on fd 0, envelope on fd 1 (F sender \0, T recipient \0 ..., \0).
   Exit 0 only when the queue file and the directory entry that makes it
   visible are on disk. The steps and why each is safe: doc/queue.md. */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>  /* rename */
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <skalibs/gccattributes.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/buffer.h>
#include <skalibs/djbunix.h>
#include <skalibs/types.h>
#include "clock_once.h"
#include "fsync_dir.h"
#include "postie.h"
#include "queue.h"

#define DATABYTES_DEFAULT 26214400UL

static char tmpname[4 + UINT64_FMT] = "tmp/" ;
static int tmpmade = 0 ;
static char buf[65536] POSTIE_LARGE ;
static int qfd = -1 ;

static void die (int code) gccattr_noreturn ;
static void die (int code)
{
  if (tmpmade) unlink(tmpname) ;
  _exit(code) ;
}

static void sigalrm (int sig)
{
  (void)sig ;
  die(QQ_TIMEOUT) ;
}

/* The envelope and the trailer go to the file through qb, on buf (free
   again once the message is copied). */
static buffer qb ;

static void flush (void)
{
  if (!buffer_flush(&qb)) die(QQ_WRITE) ;
}

static void put (char const *s, size_t n)
{
  if (buffer_put(&qb, s, n) < 0) die(QQ_WRITE) ;
}

/* The envelope, read from fd 1 in blocks and checked byte by byte. The
   block is small enough to share its page with the other variables (buf
   comes after them all: POSTIE_LARGE): a typical envelope is read in one
   read(), a long one in more, never a page fault more. */
static char ebuf[1024] ;
static size_t elen = 0, epos = 0 ;

static int eget (char *c)
{
  if (epos == elen)
  {
    ssize_t r = fd_read(1, ebuf, sizeof ebuf) ;
    if (r < 0) die(QQ_READ) ;
    if (!r) return 0 ;
    elen = r ; epos = 0 ;
  }
  *c = ebuf[epos++] ;
  return 1 ;
}

/* One address up to its NUL. Control characters are refused: nothing
   downstream (headers, logs, the environment of a delivery program) may
   ever see a CR, an LF or an escape from an envelope. */
static void eaddr (int sender)
{
  size_t n = 0 ;
  char c ;
  for (;;)
  {
    if (!eget(&c)) die(QQ_ENVELOPE) ;
    if (!c) break ;
    if ((unsigned char)c < 32 || c == 127) die(QQ_ENVELOPE) ;
    if (++n > QUEUE_ADDR_MAX) die(QQ_ADDR_TOO_LONG) ;
    put(&c, 1) ;
  }
  if (!n && !sender) die(QQ_ENVELOPE) ;
  put("", 1) ;
}

static void envelope (void)
{
  unsigned long nrcpt = 0 ;
  char c ;
  if (!eget(&c) || c != 'F') die(QQ_ENVELOPE) ;
  put(&c, 1) ;
  eaddr(1) ;
  for (;;)
  {
    if (!eget(&c)) die(QQ_ENVELOPE) ;
    if (!c) break ;
    if (c != 'T') die(QQ_ENVELOPE) ;
    put(&c, 1) ;
    eaddr(0) ;
    nrcpt++ ;
  }
  if (!nrcpt) die(QQ_ENVELOPE) ;
  put("", 1) ;
}

/* The byte is 0x80 + the message's bucket, so that postie-send reads that
   one directory of queue/todo/ only (doc/queue.md, step 7). */
static void trigger (unsigned int bucket)
{
  /* nobody listens: postie-send rescans anyway; a full pipe makes it
     read every bucket */
  queue_trigger("trigger", (unsigned char)(0x80 + bucket)) ;
}

static void report_id (char const *id, size_t idlen)
{
  char const *s = getenv("POSTIE_QUEUE_IDFD") ;
  unsigned int fd ;
  char line[QUEUE_ID_MAX + 1] ;
  if (!s || !uint0_scan(s, &fd) || fd < 3) return ;
  memcpy(line, id, idlen) ;
  line[idlen] = '\n' ;
  if (allwrite(fd, line, idlen + 1) < idlen + 1) { /* the id is only informative */ }
}

/* About 90 lines, on purpose: the numbered steps of the safety argument
   (doc/queue.md) in one place, in their order. */
int main (void)
{
  unsigned long databytes ;
  uint64_t msglen = 0 ;
  struct stat st ;
  struct timespec now ;
  char id[QUEUE_ID_MAX] ;
  size_t idlen ;
  char path[16 + QUEUE_ID_MAX] ;
  char trailer[QUEUE_TRAILER_LEN] ;
  unsigned int bucket ;

  signal(SIGPIPE, SIG_IGN) ;
  signal(SIGALRM, &sigalrm) ;
  alarm(86400) ;
  /* 0664: the queue group (postie-send) may truncate and rename the file,
     which belongs to our effective uid: in system mode the queue uid (we
     are set-uid to it), never the injector's, who must not be able to
     change an accepted message through any descriptor it may later get;
     "other" may read it, which only matters to a uid that can reach it:
     mess/ lets the remote uid in, tmp/ and todo/ let nobody in but the
     group (doc/queue.md). */
  umask(002) ;

  if (chdir(postie_home()) < 0) die(QQ_HOME) ;
  if (control_readulong(&databytes, "databytes", DATABYTES_DEFAULT) < 0) die(QQ_CONFIG) ;
  if (chdir("queue") < 0) die(QQ_QUEUEDIR) ;

  /* Step 1: a private file in tmp/, named after our pid (unique among live
     processes). A file left there by a dead process with the same pid is
     stale: remove it once. */
  tmpname[4 + uint64_fmt(tmpname + 4, (uint64_t)getpid())] = 0 ;
  qfd = open(tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0664) ;
  if (qfd < 0 && errno == EEXIST)
  {
    unlink(tmpname) ;
    qfd = open(tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0664) ;
  }
  if (qfd < 0) die(QQ_PIDDIR) ;
  tmpmade = 1 ;
  if (flock(qfd, LOCK_EX | LOCK_NB) < 0) die(QQ_PIDDIR) ;
  if (fstat(qfd, &st) < 0) die(QQ_PIDDIR) ;
  if (clock_once(&now) < 0) die(QQ_BUG) ;
  idlen = queue_id_fmt(id, (uint64_t)now.tv_sec, (uint32_t)(now.tv_nsec / 1000), (uint64_t)st.st_ino) ;
  bucket = (unsigned int)((uint64_t)st.st_ino % QUEUE_SPLIT) ;

  /* Step 2: the message, straight from fd 0. */
  for (;;)
  {
    ssize_t r = fd_read(0, buf, sizeof buf) ;
    if (r < 0) die(QQ_READ) ;
    if (!r) break ;
    msglen += r ;
    if (databytes && msglen > databytes) die(QQ_PERM_REFUSED) ;
    if (allwrite(qfd, buf, r) < (size_t)r) die(QQ_WRITE) ;
  }

  /* Step 3: the envelope, checked as it is copied, then the trailer. */
  buffer_init(&qb, &buffer_write, qfd, buf, sizeof buf) ;
  envelope() ;
  queue_trailer_fmt(trailer, msglen) ;
  put(trailer, QUEUE_TRAILER_LEN) ;
  flush() ;

  /* Step 4: the file's data on disk. */
  if (fsync(qfd) < 0) die(QQ_WRITE) ;

  /* Step 5: one atomic rename makes it visible, complete, to postie-send;
     then the directory entry on disk. Only then is it accepted. */
  {
    size_t n = 5 ;
    memcpy(path, "todo/", 5) ;
    n += uint_fmt(path + n, bucket) ;
    path[n++] = '/' ;
    memcpy(path + n, id, idlen + 1) ;
    if (rename(tmpname, path) < 0) die(QQ_QUEUEDIR) ;
    tmpmade = 0 ;
    if (fsync_parent(path) < 0)
    {
      /* The rename may or may not survive a crash: take it back, so
         that what was refused is not delivered later. */
      unlink(path) ;
      die(QQ_QUEUEDIR) ;
    }
  }
  close(qfd) ;

  report_id(id, idlen) ;
  trigger(bucket) ;
  return QQ_OK ;
}
