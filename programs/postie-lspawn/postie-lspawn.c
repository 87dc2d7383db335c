/* postie-lspawn: runs local deliveries for postie-send.
   Requests on fd 0, reports on fd 1 (doc/spawn-protocol.md). Each request
   names a user of the users database; the delivery runs postie-local as
   that user's uid and gid when postie-lspawn is root (system mode), or as
   postie-lspawn's own uid otherwise (unprivileged mode). Never as root: a
   user whose uid or gid is 0 gets a permanent failure. */

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "postie.h"
#include "usersdb.h"
#include "spawn.h"

#define USAGE "postie-lspawn [ maxchildren [ timeout ] ]"

/* The plan of a delivery (spawn.h), made in postie-lspawn before the
   child exists: the users database lookup and every refusal happen here;
   the child only switches ids, enters the home directory and execs. A
   refusal becomes the child's text and exit code (postie-local's codes),
   written after the message file checks, as when the child made it. */
static stralloc sa = STRALLOC_ZERO ;
static char const *args[9] ;
static char errbuf[300] ;

static void fail (spawn_plan *p, char const *s, int code)
{
  p->fail = s ;
  p->failcode = code ;
}

static void failsys (spawn_plan *p, char const *s)
{
  size_t n = strlen(s) ;
  char const *e = strerror(errno) ;
  size_t m = strlen(e) ;
  if (n > 200) n = 200 ;
  if (m > 90) m = 90 ;
  memcpy(errbuf, s, n) ;
  errbuf[n++] = ':' ; errbuf[n++] = ' ' ;
  memcpy(errbuf + n, e, m) ; n += m ;
  errbuf[n++] = '\n' ;
  errbuf[n] = 0 ;
  fail(p, errbuf, 111) ;
}

/* fields: user local ext domain sender */
static void plan (spawn_plan *p, char const *const *f, unsigned int n)
{
  usersdb_entry e ;
  int r ;
  if (n != 5) { fail(p, "malformed local delivery request (#4.3.0)\n", 111) ; return ; }
  sa.len = 0 ;
  r = usersdb_find(f[0], strlen(f[0]), &e, &sa) ;
  if (r < 0) { failsys(p, "unable to read " USERSDB_FILE " (#4.3.0)") ; return ; }
  if (!r) { fail(p, "no such user (#5.1.1)\n", 100) ; return ; }
  if (!e.uid) { fail(p, "refusing to deliver as root: the user's uid is 0 (#5.7.1)\n", 100) ; return ; }
  if (!e.gid) { fail(p, "refusing to deliver with group root: the user's gid is 0 (#5.7.1)\n", 100) ; return ; }
  if (!geteuid())
  {
    p->setids = 1 ;
    p->uid = e.uid ;
    p->gid = e.gid ;
  }
  p->dir = e.home ;
  p->direrr = "unable to enter the home directory (#4.3.0)" ;
  args[0] = "postie-local" ; args[1] = e.name ; args[2] = e.home ;
  args[3] = f[1] ; args[4] = f[2] ; args[5] = f[3] ; args[6] = f[4] ;
  args[7] = e.maildir ; args[8] = 0 ;
  p->argv = args ;
  p->execerr = "unable to run postie-local (#4.3.0)" ;
  p->execerrno = 1 ;
}

static int report (stralloc *out, char const *const *f, unsigned int n, char const *o, size_t olen, int wstat)
{
  char const *nl = olen ? memchr(o, '\n', olen) : 0 ;  /* o is null when there was no output */
  size_t len = nl ? (size_t)(nl - o) : olen ;
  (void)f ; (void)n ;
  if (WIFEXITED(wstat))
  {
    int code = WEXITSTATUS(wstat) ;
    char kind = code == 0 ? 'K' : code == 100 ? 'D' : 'Z' ;
    if (!len)
    {
      char buf[80] ;
      size_t m ;
      if (code == 0) return spawn_result(out, 'K', "delivered", 9) ;
      memcpy(buf, "postie-local exited ", 20) ;
      m = 20 + uint_fmt(buf + 20, (unsigned int)code) ;
      return spawn_result(out, kind, buf, m) ;
    }
    return spawn_result(out, kind, o, len) ;
  }
  {
    char buf[80] ;
    size_t m ;
    memcpy(buf, "postie-local crashed, signal ", 29) ;
    m = 29 + uint_fmt(buf + 29, WIFSIGNALED(wstat) ? (unsigned int)WTERMSIG(wstat) : 0) ;
    return spawn_result(out, 'Z', buf, m) ;
  }
}

static size_t outmax (unsigned int n)
{
  (void)n ;
  return 4096 ;
}

int main (int argc, char const *const *argv)
{
  static spawn_ops const ops = { &plan, &report, &outmax } ;
  unsigned int max = 1000, timeout = 0 ;
  PROG = "postie-lspawn" ;
  if (argc > 1 && (!uint0_scan(argv[1], &max) || !max)) strerr_dieusage(100, USAGE) ;
  if (argc > 2 && !uint0_scan(argv[2], &timeout)) strerr_dieusage(100, USAGE) ;
  if (chdir(postie_home()) < 0) strerr_diefusys(111, "enter the instance directory") ;
  spawn_loop(&ops, max, timeout) ;
  return 0 ;
}
