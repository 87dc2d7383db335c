/* syncpool.c: postie-send's fsync threads (syncpool.h). */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include "syncpool.h"

typedef struct job_s job ;
struct job_s
{
  int fd ;
  int data ;
  uint32_t token ;
} ;

static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER ;
static pthread_cond_t cnd = PTHREAD_COND_INITIALIZER ;
static job ring[SYNCPOOL_QUEUE] ;
static unsigned int rhead = 0, rlen = 0 ;
static int donep[2] = { -1, -1 } ;
static unsigned int nthreads = 0 ;

static void *worker (void *arg)
{
  (void)arg ;
  for (;;)
  {
    job j ;
    syncpool_done d ;
    char const *p = (char const *)&d ;
    size_t w = 0 ;
    pthread_mutex_lock(&mtx) ;
    while (!rlen) pthread_cond_wait(&cnd, &mtx) ;
    j = ring[rhead] ;
    rhead = (rhead + 1) % SYNCPOOL_QUEUE ;
    rlen-- ;
    pthread_mutex_unlock(&mtx) ;
    d.token = j.token ;
    d.err = (j.data ? fdatasync(j.fd) : fsync(j.fd)) < 0 ? errno : 0 ;
    /* 8 bytes < PIPE_BUF: one write, never interleaved with another
       thread's; the pipe is blocking on this side */
    while (w < sizeof d)
    {
      ssize_t r = write(donep[1], p + w, sizeof d - w) ;
      if (r < 0) { if (errno == EINTR) continue ; _exit(111) ; }
      w += (size_t)r ;
    }
  }
  return 0 ;
}

int syncpool_start (unsigned int n)
{
  sigset_t all, old ;
  unsigned int i, started = 0 ;
  int e = 0 ;
  if (pipe(donep) < 0) return -1 ;
  if (fcntl(donep[0], F_SETFD, FD_CLOEXEC) < 0 || fcntl(donep[1], F_SETFD, FD_CLOEXEC) < 0
   || fcntl(donep[0], F_SETFL, fcntl(donep[0], F_GETFL) | O_NONBLOCK) < 0) return -1 ;
  if (n > SYNCPOOL_THREADS_MAX) n = SYNCPOOL_THREADS_MAX ;
  sigfillset(&all) ;
  if (pthread_sigmask(SIG_SETMASK, &all, &old)) return -1 ;
  for (i = 0 ; i < n ; i++)
  {
    pthread_t t ;
    pthread_attr_t attr ;
    int r ;
    if ((r = pthread_attr_init(&attr))) { e = r ; break ; }
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) ;
    pthread_attr_setstacksize(&attr, 65536) ;
    r = pthread_create(&t, &attr, &worker, 0) ;
    pthread_attr_destroy(&attr) ;
    if (r) { e = r ; break ; }
    started++ ;
  }
  pthread_sigmask(SIG_SETMASK, &old, 0) ;
  nthreads = started ;
  if (!started) errno = e ;
  return (int)started ;
}

int syncpool_fd (void)
{
  return donep[0] ;
}

unsigned int syncpool_submitv (syncpool_job const *v, unsigned int n)
{
  unsigned int i = 0 ;
  pthread_mutex_lock(&mtx) ;
  for (; i < n && rlen < SYNCPOOL_QUEUE ; i++)
  {
    job *j = ring + (rhead + rlen) % SYNCPOOL_QUEUE ;
    j->fd = v[i].fd ; j->data = v[i].data ; j->token = v[i].token ;
    rlen++ ;
  }
  pthread_mutex_unlock(&mtx) ;
  /* after the unlock: a thread woken while we held the mutex would
     only block on it again (two more context switches) */
  for (n = 0 ; n < i && n < nthreads ; n++) pthread_cond_signal(&cnd) ;
  return i ;
}

int syncpool_read (syncpool_done *d, unsigned int max)
{
  ssize_t r ;
  do r = read(donep[0], d, max * sizeof *d) ;
  while (r < 0 && errno == EINTR) ;
  if (r < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1 ;
  if (!r) { errno = EPIPE ; return -1 ; }
  /* each completion is one write of 8 bytes, read whole (pipe semantics) */
  return (int)((size_t)r / sizeof *d) ;
}
