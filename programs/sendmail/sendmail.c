/* sendmail: the command line that MUAs, cron and scripts expect, turned
   into postie-inject's. Reads sendmail's flags, keeps the ones that mean
   something for local injection (-t -i -oi -f -r -F), accepts and ignores
   the ones that do not (documented in doc/sendmail.md), refuses modes it
   does not provide (-bd, -qX ...) and unknown flags, then execs
   postie-inject with the message still on fd 0. The other modes: -bs
   runs postie-smtpd on fds 0 and 1 as a local client; -bp and mailq run
   postie-qread; -q wakes postie-send (queuerun.c); -bi and newaliases
   check the aliases (newaliases.c). */

#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>
#include <skalibs/gccattributes.h>
#include <skalibs/sgetopt.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "exec_sibling.h"
#include "sendmail.h"

#define USAGE "sendmail [ -t ] [ -i ] [ -oi ] [ -f sender ] [ -F fullname ] [ ignored flags: -v -m -n -G -U -oX -OX -BX -NX -RX -VX -LX -hX -CX -dX -eX -XX -AX -bm ] [ -- ] [ recipient ... ] | sendmail -bs | sendmail -bp | sendmail -q | sendmail -bi"
#define dieusage() strerr_dieusage(EX_USAGE, USAGE)

char const *PROG = "sendmail" ;

static void refuse (char const *what) gccattr_noreturn ;
static void refuse (char const *what)
{
  strerr_dief(EX_USAGE, what) ;
}

static void run (char const *prog, char const *const *argv) gccattr_noreturn ;
static void run (char const *prog, char const *const *argv)
{
  exec_sibling(prog, argv) ;
  strerr_diefusys(EX_OSERR, "run ", prog) ;
}

/* -bp, mailq: the queue listing. */
static void mailq (void) gccattr_noreturn ;
static void mailq (void)
{
  char const *argv[2] = { "postie-qread", 0 } ;
  run(argv[0], argv) ;
}

/* -bs: postie-smtpd on our fds 0 and 1, as a local client: no TCP
   variables, relaying allowed as for any local injection, no AUTH, and
   the real uid in POSTIE_LOCALUID for its Received field and log lines
   (doc/sendmail.md). */
static void smtp (void) gccattr_noreturn ;
static void smtp (void)
{
  static char const *const tcp[] =
  {
    "PROTO", "TCPLOCALIP", "TCPLOCALPORT", "TCPLOCALHOST", "TCPREMOTEIP", "TCPREMOTEPORT",
    "TCPREMOTEHOST", "TCPREMOTEINFO", "TCPCONNNUM", "SMTPAUTH", 0
  } ;
  char const *argv[2] = { "postie-smtpd", 0 } ;
  char fmt[UINT_FMT] ;
  unsigned int i ;
  fmt[uint_fmt(fmt, (unsigned int)getuid())] = 0 ;
  for (i = 0 ; tcp[i] ; i++) if (unsetenv(tcp[i]) < 0) strerr_diefusys(EX_OSERR, "unsetenv ", tcp[i]) ;
  if (setenv("RELAYCLIENT", "", 1) < 0 || setenv("SMTPAUTH", "no", 1) < 0 || setenv("POSTIE_LOCALUID", fmt, 1) < 0)
    strerr_diefusys(EX_OSERR, "setenv") ;
  run(argv[0], argv) ;
}

int main (int argc, char const *const *argv)
{
  int tflag = 0, iflag = 0, bsflag = 0 ;
  char const *sender = 0, *fullname = 0 ;
  {
    char const *base = argv[0] ? strrchr(argv[0], '/') : 0 ;
    base = base ? base + 1 : argv[0] ? argv[0] : "" ;
    if (!strcmp(base, "mailq")) mailq() ;
    if (!strcmp(base, "newaliases")) newaliases() ;
  }
  /* -q alone: a queue run, whatever else is there (-v ...); -qX, below */
  {
    int i ;
    for (i = 1 ; i < argc && strcmp(argv[i], "--") ; i++) if (!strcmp(argv[i], "-q")) queuerun() ;
  }
  {
    subgetopt l = SUBGETOPT_ZERO ;
    l.err = 0 ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "tif:r:F:o:O:B:N:R:V:L:h:C:d:e:X:A:b:vmnGU", &l) ;
      if (opt == -1) break ;
      switch (opt)
      {
        case 't' : tflag = 1 ; break ;
        case 'i' : iflag = 1 ; break ;
        case 'f' :
        case 'r' : sender = l.arg ; break ;
        case 'F' : fullname = l.arg ; break ;
        case 'o' :
          /* -oi: a "." line does not end the message. -oem, -odb, -odi ...
             and every other -oX: nothing to do for local injection. */
          if (l.arg[0] == 'i' && !l.arg[1]) iflag = 1 ;
          break ;
        case 'b' :
          if (!strcmp(l.arg, "m")) break ;
          if (!strcmp(l.arg, "s")) { bsflag = 1 ; break ; }
          if (!strcmp(l.arg, "p")) mailq() ;
          if (!strcmp(l.arg, "i")) newaliases() ;
          if (!strcmp(l.arg, "d") || !strcmp(l.arg, "D")) refuse("-bd (daemon mode) is not supported: postie's services run under s6") ;
          strerr_dief(EX_USAGE, "-b", l.arg, " is not supported: only -bm (the default) is") ;
        case 'O' : case 'B' : case 'N' : case 'R' : case 'V' : case 'L' :
        case 'h' : case 'C' : case 'd' : case 'e' : case 'X' : case 'A' :
        case 'v' : case 'm' : case 'n' : case 'G' : case 'U' :
          break ;  /* accepted, meaningless here: doc/sendmail.md */
        default :
          if (l.problem == 'q') refuse("-qX (periodic or selective queue runs) is not supported: postie-send runs the queue on its own schedule; sendmail -q retries everything now, postie-qctl retry ID one message") ;
          {
            char p[2] = { (char)l.problem, 0 } ;
            strerr_warnw("unknown or incomplete option: -", p) ;
          }
          dieusage() ;
      }
    }
    argc -= l.ind ; argv += l.ind ;
  }
  if (bsflag)
  {
    if (argc) refuse("-bs takes no recipients: they come with RCPT TO") ;
    smtp() ;
  }
  {
    char const *nargv[9 + (size_t)argc] ;  /* postie-inject -t -i -f s -F n -- ... NULL */
    size_t n = 0 ;
    nargv[n++] = "postie-inject" ;
    if (tflag) nargv[n++] = "-t" ;
    if (iflag) nargv[n++] = "-i" ;
    if (sender) { nargv[n++] = "-f" ; nargv[n++] = sender ; }
    if (fullname) { nargv[n++] = "-F" ; nargv[n++] = fullname ; }
    nargv[n++] = "--" ;
    for (; *argv ; argv++) nargv[n++] = *argv ;
    nargv[n] = 0 ;
    exec_sibling("postie-inject", nargv) ;
    strerr_diefusys(EX_OSERR, "run postie-inject") ;
  }
}
