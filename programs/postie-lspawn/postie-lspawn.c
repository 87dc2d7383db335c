/* postie-lspawn: runs local deliveries for postie-send.
   Requests on fd 0, reports on fd 1 (doc/spawn-protocol.md). Each request
   names a user of the users database; the delivery runs postie-local as
   that user's uid and gid when postie-lspawn is root (system mode), or as
   postie-lspawn's own uid otherwise (unprivileged mode). Never as root: a
   user whose uid or gid is 0 gets a permanent failure. */

#include <errno.h>
#include <grp.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/exec.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "postie.h"
#include "usersdb.h"
#include "spawn.h"

#define USAGE "postie-lspawn [ maxchildren [ timeout ] ]"

/* In the child: say why on stdout (the report's text) and exit with
   postie-local's codes. */
static void say (char const *s, int code)
{
  if (allwrite(1, s, strlen(s)) < strlen(s)) { }
  _exit(code) ;
}

static void sayerr (char const *s)
{
  char buf[300] ;
  size_t n = strlen(s) ;
  char const *e = strerror(errno) ;
  size_t m = strlen(e) ;
  if (n > 200) n = 200 ;
  if (m > 90) m = 90 ;
  memcpy(buf, s, n) ;
  buf[n++] = ':' ; buf[n++] = ' ' ;
  memcpy(buf + n, e, m) ; n += m ;
  buf[n++] = '\n' ;
  if (allwrite(1, buf, n) < n) { }
  _exit(111) ;
}

/* fields: user local ext domain sender */
static void child (char const *const *f, unsigned int n)
{
  stralloc sa = STRALLOC_ZERO ;
  usersdb_entry e ;
  int r ;
  if (n != 5) say("malformed local delivery request (#4.3.0)\n", 111) ;
  r = usersdb_find(f[0], strlen(f[0]), &e, &sa) ;
  if (r < 0) sayerr("unable to read the users database (#4.3.0)") ;
  if (!r) say("no such user (#5.1.1)\n", 100) ;
  if (!e.uid) say("refusing to deliver as root: the user's uid is 0 (#5.7.1)\n", 100) ;
  if (!e.gid) say("refusing to deliver with group root: the user's gid is 0 (#5.7.1)\n", 100) ;
  if (!geteuid())
  {
    if (setgroups(1, &e.gid) < 0) sayerr("unable to setgroups (#4.3.0)") ;
    if (setgid(e.gid) < 0) sayerr("unable to setgid (#4.3.0)") ;
    if (setuid(e.uid) < 0) sayerr("unable to setuid (#4.3.0)") ;
    if (!getuid() || !geteuid()) say("still root after setuid (#4.3.0)\n", 111) ;
  }
  if (chdir(e.home) < 0) sayerr("unable to enter the home directory (#4.3.0)") ;
  {
    char const *argv[9] = { "postie-local", e.name, e.home, f[1], f[2], f[3], f[4], e.maildir, 0 } ;
    execvp(argv[0], (char *const *)argv) ;
  }
  sayerr("unable to run postie-local (#4.3.0)") ;
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
  static spawn_ops const ops = { &child, &report, &outmax } ;
  unsigned int max = 1000, timeout = 0 ;
  PROG = "postie-lspawn" ;
  if (argc > 1 && (!uint0_scan(argv[1], &max) || !max)) strerr_dieusage(100, USAGE) ;
  if (argc > 2 && !uint0_scan(argv[2], &timeout)) strerr_dieusage(100, USAGE) ;
  if (chdir(postie_home()) < 0) strerr_diefusys(111, "enter the instance directory") ;
  spawn_loop(&ops, max, timeout) ;
  return 0 ;
}
