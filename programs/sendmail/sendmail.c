/* sendmail: the command line that MUAs, cron and scripts expect, turned
   into postie-inject's. Reads sendmail's flags, keeps the ones that mean
   something for local injection (-t -i -oi -f -r -F), accepts and ignores
   the ones that do not (documented in doc/sendmail.md), refuses modes it
   does not provide (-bs, -bp, -bi, -q ...) and unknown flags, then execs
   postie-inject with the message still on fd 0. */

#include <string.h>
#include <sysexits.h>
#include <skalibs/gccattributes.h>
#include <skalibs/sgetopt.h>
#include <skalibs/strerr.h>
#include "exec_sibling.h"

#define USAGE "sendmail [ -t ] [ -i ] [ -oi ] [ -f sender ] [ -F fullname ] [ ignored flags: -v -m -n -G -U -oX -OX -BX -NX -RX -VX -LX -hX -CX -dX -eX -XX -AX -bm ] [ -- ] [ recipient ... ]"
#define dieusage() strerr_dieusage(EX_USAGE, USAGE)

char const *PROG = "sendmail" ;

static void refuse (char const *what) gccattr_noreturn ;
static void refuse (char const *what)
{
  strerr_dief(EX_USAGE, what) ;
}

int main (int argc, char const *const *argv)
{
  int tflag = 0, iflag = 0 ;
  char const *sender = 0, *fullname = 0 ;
  {
    char const *base = argv[0] ? strrchr(argv[0], '/') : 0 ;
    base = base ? base + 1 : argv[0] ? argv[0] : "" ;
    if (!strcmp(base, "mailq")) refuse("mailq is not provided: use postie-qstat and postie-qread") ;
    if (!strcmp(base, "newaliases")) refuse("newaliases is not provided: postie has no aliases database") ;
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
          if (!strcmp(l.arg, "s")) refuse("-bs (SMTP on standard input) is not supported: use postie-smtpd") ;
          if (!strcmp(l.arg, "p")) refuse("-bp (mailq) is not supported: use postie-qstat and postie-qread") ;
          if (!strcmp(l.arg, "i")) refuse("-bi (newaliases) is not supported: postie has no aliases database") ;
          if (!strcmp(l.arg, "d") || !strcmp(l.arg, "D")) refuse("-bd (daemon mode) is not supported: postie's services run under s6") ;
          strerr_dief(EX_USAGE, "-b", l.arg, " is not supported: only -bm (the default) is") ;
        case 'O' : case 'B' : case 'N' : case 'R' : case 'V' : case 'L' :
        case 'h' : case 'C' : case 'd' : case 'e' : case 'X' : case 'A' :
        case 'v' : case 'm' : case 'n' : case 'G' : case 'U' :
          break ;  /* accepted, meaningless here: doc/sendmail.md */
        default :
          if (l.problem == 'q') refuse("-q (queue runs) is not supported: postie-send runs the queue; s6-svc -a retries everything now") ;
          {
            char p[2] = { (char)l.problem, 0 } ;
            strerr_warnw("unknown or incomplete option: -", p) ;
          }
          dieusage() ;
      }
    }
    argc -= l.ind ; argv += l.ind ;
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
