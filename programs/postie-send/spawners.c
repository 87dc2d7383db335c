/* spawners.c: the channels to postie-lspawn and postie-rspawn
   (doc/spawn-protocol.md). */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>  /* rename */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <skalibs/iopause.h>
#include <skalibs/selfpipe.h>
#include <skalibs/tai.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/alloc.h>
#include <skalibs/djbunix.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "queue.h"
#include "spawn.h"
#include "send.h"

/* In .bss, named in spawner_start(): with an initializer the whole array
   (64 KiB of slots) would sit in .data, in the executable file. */
spawner spawners[2] ;

unsigned long concurrency (int k)
{
  unsigned long c = k ? settings.concremote : settings.conclocal ;
  return c > CONC_MAX ? CONC_MAX : c ? c : 1 ;
}
void spawner_start (int k)
{
  spawner *c = spawners + k ;
  int p1[2], p2[2] ;
  c->prog = k ? "postie-rspawn" : "postie-lspawn" ;
  c->kindch = k ? 'R' : 'L' ;
  char max[UINT_FMT], tmo[ULONG_FMT] ;
  max[uint_fmt(max, CONC_MAX)] = 0 ;
  tmo[ulong_fmt(tmo, k ? settings.timeoutremote : settings.timeoutlocal)] = 0 ;
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

void spawner_write (int k)
{
  spawner *c = spawners + k ;
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

void spawner_read (int k)
{
  spawner *c = spawners + k ;
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
void spawners_finish (int sfd)
{
  tain deadline ;
  unsigned int k, left = 0 ;
  for (k = 0 ; k < 2 ; k++)
  {
    fd_close(spawners[k].to) ;
    fd_close(spawners[k].from) ;
    if (spawners[k].pid > 0) left++ ;
  }
  tain_now_g() ;
  tain_addsec_g(&deadline, (int)(settings.spawnwait > 3600 ? 3600 : settings.spawnwait)) ;
  for (;;)
  {
    iopause_fd x = { .fd = sfd, .events = IOPAUSE_READ } ;
    int r ;
    for (;;)
    {
      int w ;
      pid_t pid = waitpid(-1, &w, WNOHANG) ;
      if (pid <= 0) break ;
      for (k = 0 ; k < 2 ; k++) if (pid == spawners[k].pid) { spawners[k].pid = 0 ; left-- ; }
    }
    if (!left) return ;
    r = iopause_g(&x, 1, &deadline) ;
    if (r < 0) strerr_diefusys(111, "iopause") ;
    if (!r) break ;
    while ((r = selfpipe_read()) > 0) ;
    if (r < 0) strerr_diefusys(111, "selfpipe_read") ;
  }
  for (k = 0 ; k < 2 ; k++)
    if (spawners[k].pid > 0)
    {
      int w ;
      if (kill(spawners[k].pid, SIGKILL) < 0)
      {
        LOG("warning: ", spawners[k].prog, " still running, unable to kill it: ", strerror(errno)) ;
        continue ;
      }
      LOG("warning: ", spawners[k].prog, " still running after spawnwait: killed") ;
      if (waitpid(spawners[k].pid, &w, 0) == spawners[k].pid) spawners[k].pid = 0 ;
    }
}

