/* starttls.c: runs postie-tlsc on postie-remote's connection once the
   server has said 220 to STARTTLS. This is the part of s6-ucspitlsc's
   child that postie-remote needs: postie-remote makes its own
   connections (one per address tried), so it starts the TLS program on
   the one that asks for it, rather than being started by it.

   postie-tlsc gets the connection on fd 6 and 7 (the UCSPI client
   convention), a pipe from us on fd 0, a pipe to us on fd 1, its stderr
   on a pipe to us (its reason when the handshake fails) and the
   notification pipe on fd 3, where the UCSPI-TLS environment block comes
   once the handshake is done. */

#define _GNU_SOURCE  /* memmem */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/iopause.h>
#include <skalibs/types.h>
#include "exec_sibling.h"
#include "starttls.h"

#define BLOCKMAX 4096   /* the environment block, as tls.h's TLS_ENVMAX */
#define WHYMAX 1024     /* what we keep of postie-tlsc's stderr */

/* Reads fd until EOF, the deadline or max bytes: 1, or 0 (timeout or
   error; what came is kept). */
static int readall (int fd, stralloc *sa, size_t max, tain const *deadline)
{
  for (;;)
  {
    iopause_fd x = { .fd = fd, .events = IOPAUSE_READ } ;
    ssize_t r ;
    int k = iopause_g(&x, 1, deadline) ;
    if (k < 0) { if (errno == EINTR) continue ; return 0 ; }
    if (!k) return 0 ;
    if (!stralloc_readyplus(sa, 512)) return 0 ;
    r = fd_read(fd, sa->s + sa->len, 512) ;
    if (r < 0) { if (errno == EINTR || errno == EAGAIN) continue ; return 0 ; }
    if (!r) return 1 ;
    if (sa->len + r > max) { sa->len = max ; return 1 ; }
    sa->len += r ;
  }
}

/* The value of name= in the block, appended to sa. */
static void blockvar (stralloc *sa, char const *block, size_t n, char const *name)
{
  size_t len = strlen(name) ;
  for (size_t i = 0 ; i < n && block[i] ; i += strlen(block + i) + 1)
    if (!strncmp(block + i, name, len) && block[i + len] == '=')
    {
      char const *v = block + i + len + 1 ;
      for (; *v ; v++)
        if (*v > 32 && *v < 127 && !stralloc_catb(sa, v, 1)) return ;
      return ;
    }
}

/* The reason in postie-tlsc's last line: after "handshake failed: " if
   it says so, else the line without the program's name. */
static void lastline (stralloc *why, stralloc const *err)
{
  size_t end = err->len, start ;
  char const *p ;
  while (end && err->s[end - 1] == '\n') end-- ;
  start = end ;
  while (start && err->s[start - 1] != '\n') start-- ;
  why->len = 0 ;
  if (start == end) { stralloc_cats(why, "postie-tlsc said nothing") ; return ; }
  p = memmem(err->s + start, end - start, "handshake failed: ", 18) ;
  if (p) start = p + 18 - err->s ;
  else if (end - start > 13 && !memcmp(err->s + start, "postie-tlsc: ", 13)) start += 13 ;
  stralloc_catb(why, err->s + start, end - start) ;
}

/* In the child: the descriptors where postie-tlsc wants them. Every one
   is first copied above 9, so that no target is clobbered before it is
   read, and dup2 then clears close-on-exec on each target. */
static void layout (int fd, int in, int out, int err, int notif)
{
  int s[5] = { in, out, err, notif, fd } ;
  int t[6] = { 0, 1, 2, 3, 6, 7 } ;
  for (unsigned int i = 0 ; i < 5 ; i++)
  {
    s[i] = fcntl(s[i], F_DUPFD_CLOEXEC, 10) ;
    if (s[i] < 0) _exit(111) ;
  }
  for (unsigned int i = 0 ; i < 6 ; i++)
    if (dup2(s[i < 5 ? i : 4], t[i]) < 0) _exit(111) ;
}

int tlsc_start (tlsc *t, int fd, char const *name, char const *cafile, unsigned int timeoutms, tain const *deadline, stralloc *why)
{
  int toc[2], fromc[2], errp[2], notif[2] ;
  char kfmt[UINT_FMT] ;
  char const *argv[12] ;
  unsigned int m = 0 ;
  stralloc block = STRALLOC_ZERO ;
  stralloc err = STRALLOC_ZERO ;
  int ok ;
  pid_t pid ;
  kfmt[uint_fmt(kfmt, timeoutms)] = 0 ;
  argv[m++] = "postie-tlsc" ;
  argv[m++] = "-K" ; argv[m++] = kfmt ;
  argv[m++] = "-d" ; argv[m++] = "3" ;
  if (name && *name) { argv[m++] = "-k" ; argv[m++] = name ; }
  if (cafile) { argv[m++] = "-c" ; argv[m++] = cafile ; }
  argv[m] = 0 ;
  if (pipecoe(toc) < 0) { fd_close(fd) ; return -1 ; }
  if (pipecoe(fromc) < 0) goto err1 ;
  if (pipecoe(errp) < 0) goto err2 ;
  if (pipecoe(notif) < 0) goto err3 ;
  pid = fork() ;
  if (pid < 0) goto err4 ;
  if (!pid)
  {
    layout(fd, toc[0], fromc[1], errp[1], notif[1]) ;
    exec_sibling(argv[0], argv) ;
    {
      char const *e = "postie-tlsc: fatal: unable to exec postie-tlsc\n" ;
      ssize_t w = write(2, e, strlen(e)) ;
      (void)w ;
    }
    _exit(111) ;
  }
  fd_close(fd) ;
  fd_close(toc[0]) ; fd_close(fromc[1]) ; fd_close(errp[1]) ; fd_close(notif[1]) ;
  ok = readall(notif[0], &block, BLOCKMAX, deadline) && block.len ;
  fd_close(notif[0]) ;
  if (!ok)
  {
    /* no block: the handshake failed, postie-tlsc says why and exits */
    int wstat ;
    tain soon ;
    fd_close(toc[1]) ; fd_close(fromc[0]) ;
    tain_addsec_g(&soon, 5) ;
    readall(errp[0], &err, WHYMAX, &soon) ;
    fd_close(errp[0]) ;
    if (!block.len && !err.len) stralloc_cats(&err, "handshake timed out\n") ;
    kill(pid, SIGTERM) ;
    waitpid_nointr(pid, &wstat, 0) ;
    lastline(why, &err) ;
    stralloc_free(&block) ; stralloc_free(&err) ;
    return 0 ;
  }
  /* From now on postie-tlsc's words go to our stderr's reader no more:
     the session's outcome is in the replies. */
  fd_close(errp[0]) ;
  t->pid = pid ;
  t->rfd = fromc[0] ;
  t->wfd = toc[1] ;
  t->info.len = 0 ;
  blockvar(&t->info, block.s, block.len, "SSL_PROTOCOL") ;
  if (!stralloc_catb(&t->info, " ", 1)) { stralloc_free(&block) ; return -1 ; }
  blockvar(&t->info, block.s, block.len, "SSL_CIPHER") ;
  stralloc_free(&block) ;
  if (!stralloc_0(&t->info)) return -1 ;
  t->info.len-- ;
  if (ndelay_on(t->rfd) < 0 || ndelay_on(t->wfd) < 0) return -1 ;
  return 1 ;

 err4: fd_close(notif[0]) ; fd_close(notif[1]) ;
 err3: fd_close(errp[0]) ; fd_close(errp[1]) ;
 err2: fd_close(fromc[0]) ; fd_close(fromc[1]) ;
 err1: fd_close(toc[0]) ; fd_close(toc[1]) ;
  fd_close(fd) ;
  return -1 ;
}

void tlsc_end (tlsc *t)
{
  int wstat ;
  if (!t->pid) return ;
  if (t->rfd >= 0) fd_close(t->rfd) ;
  if (t->wfd >= 0) fd_close(t->wfd) ;
  t->rfd = t->wfd = -1 ;
  waitpid_nointr(t->pid, &wstat, 0) ;
  t->pid = 0 ;
  t->info.len = 0 ;
}
