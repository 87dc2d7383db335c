/* postie-rspawn: runs remote deliveries for postie-send.
   Requests on fd 0, reports on fd 1 (doc/spawn-protocol.md). Each request
   is one SMTP session: postie-remote DOMAIN SENDER RCPT... with the message
   on fd 0; its result lines (doc/postie-remote.md) become one final result
   per recipient. */

#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <skalibs/alloc.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "postie.h"
#include "spawn.h"

#define USAGE "postie-rspawn [ maxchildren [ timeout ] ]"

/* The plan of a session (spawn.h), made before the child exists.
   fields: domain sender rcpt... */
static char const **args = 0 ;
static size_t argsmax = 0 ;

static void plan (spawn_plan *p, char const *const *f, unsigned int n)
{
  unsigned int i ;
  if (n < 3) { p->fail = "" ; p->failcode = 111 ; return ; }
  if (n + 2 > argsmax)
  {
    alloc_free(args) ;
    args = alloc(sizeof(char const *) * (n + 2)) ;
    if (!args) strerr_diefu(111, "allocate") ;
    argsmax = n + 2 ;
  }
  args[0] = "postie-remote" ;
  for (i = 0 ; i < n ; i++) args[i + 1] = f[i] ;
  args[n + 1] = 0 ;
  p->argv = args ;
  p->execerr = "Zunable to run postie-remote (#4.3.0)\n" ;
  p->execerrno = 0 ;
}

/* The i-th line of o (olen bytes), without its newline. */
static int nthline (char const *o, size_t olen, unsigned int i, char const **s, size_t *len)
{
  size_t p = 0 ;
  for (;;)
  {
    char const *nl ;
    if (p >= olen) return 0 ;  /* o is null when there was no output */
    nl = memchr(o + p, '\n', olen - p) ;
    if (!nl) return 0 ;
    if (!i--) { *s = o + p ; *len = nl - (o + p) ; return 1 ; }
    p = nl - o + 1 ;
  }
}

static int kindok (char const *s, size_t len)
{
  return len && (*s == 'K' || *s == 'D' || *s == 'Z') ;
}

static int report (stralloc *out, char const *const *f, unsigned int n, char const *o, size_t olen, int wstat)
{
  unsigned int nrcpt = n >= 2 ? n - 2 : 0, i ;
  char const *s ;
  size_t len ;
  (void)f ;
  if (!WIFEXITED(wstat) || WEXITSTATUS(wstat) || !nthline(o, olen, nrcpt, &s, &len) || !kindok(s, len))
  {
    /* all temporary, with whatever explanation there is */
    char buf[SPAWN_LINE_MAX + 1] ;
    size_t m = 0 ;
    char const *why ;
    size_t whylen ;
    if (WIFSIGNALED(wstat)) { memcpy(buf, "postie-remote crashed, signal ", 30) ; m = 30 + uint_fmt(buf + 30, (unsigned int)WTERMSIG(wstat)) ; }
    else
    {
      memcpy(buf, "postie-remote failed", 20) ; m = 20 ;
      if (WEXITSTATUS(wstat)) { memcpy(buf + m, ", exit ", 7) ; m += 7 ; m += uint_fmt(buf + m, (unsigned int)WEXITSTATUS(wstat)) ; }
      /* its last complete line explains, if any */
      for (i = 0 ; nthline(o, olen, i, &why, &whylen) ; i++) ;
      if (i && nthline(o, olen, i - 1, &why, &whylen) && whylen)
      {
        if (kindok(why, whylen)) { why++ ; whylen-- ; }
        if (whylen > SPAWN_LINE_MAX - m - 2) whylen = SPAWN_LINE_MAX - m - 2 ;
        buf[m++] = ':' ; buf[m++] = ' ' ;
        memcpy(buf + m, why, whylen) ; m += whylen ;
      }
    }
    for (i = 0 ; i < nrcpt ; i++) if (!spawn_result(out, 'Z', buf, m)) return 0 ;
    return 1 ;
  }
  if (*s != 'K')
  {
    /* the message line decides for everybody */
    for (i = 0 ; i < nrcpt ; i++) if (!spawn_result(out, *s, s + 1, len - 1)) return 0 ;
    return spawn_result(out, *s, s + 1, len - 1) ;  /* the message line, for the log */
  }
  for (i = 0 ; i < nrcpt ; i++)
  {
    char const *r ;
    size_t rlen ;
    if (!nthline(o, olen, i, &r, &rlen) || !kindok(r, rlen))
    {
      if (!spawn_result(out, 'Z', "postie-remote gave no result for this recipient", 47)) return 0 ;
    }
    else if (!spawn_result(out, *r, r + 1, rlen - 1)) return 0 ;
  }
  /* then the message line: the reply to the end of DATA carries the next
     server's queue id, which postie-send logs */
  return spawn_result(out, *s, s + 1, len - 1) ;
}

static size_t outmax (unsigned int n)
{
  return (size_t)(n + 2) * (SPAWN_LINE_MAX + 24) ;
}

int main (int argc, char const *const *argv)
{
  static spawn_ops const ops = { &plan, &report, &outmax } ;
  unsigned int max = 1000, timeout = 0 ;
  PROG = "postie-rspawn" ;
  if (argc > 1 && (!uint0_scan(argv[1], &max) || !max)) strerr_dieusage(100, USAGE) ;
  if (argc > 2 && !uint0_scan(argv[2], &timeout)) strerr_dieusage(100, USAGE) ;
  if (chdir(postie_home()) < 0) strerr_diefusys(111, "enter the instance directory") ;
  spawn_loop(&ops, max, timeout) ;
  return 0 ;
}
