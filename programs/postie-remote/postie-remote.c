/* postie-remote: deliver one message (fd 0) to the recipients of one
   domain over SMTP, and say what happened to each, one line per recipient
   and one for the message, on stdout. The contract: doc/postie-remote.md
   and doc/remote-results.md. remote.h says which file does what. */

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <skalibs/strerr.h>
#include "postie.h"
#include "remote.h"

#define USAGE "postie-remote domain sender recipient..."
#define ADDRESS_MAX 1000            /* as in the queue */

int addr8bit = 0 ;

/* An address the wire cannot carry; notes a non-ASCII one in addr8bit. */
static int badaddress (char const *s)
{
  size_t n = strlen(s) ;
  if (n > ADDRESS_MAX) return 1 ;
  for (size_t i = 0 ; i < n ; i++)
  {
    unsigned char c = s[i] ;
    if (c < 32 || c == 127 || c == '<' || c == '>') return 1 ;
    if (c >= 128) addr8bit = 1 ;
  }
  return 0 ;
}

int main (int argc, char const *const *argv)
{
  struct stat st ;
  unsigned int i ;
  PROG = "postie-remote" ;
  if (argc < 4) strerr_dieusage(100, USAGE) ;
  signal(SIGPIPE, SIG_IGN) ;
  sender = argv[2] ;
  rcpt = argv + 3 ;
  nrcpt = argc - 3 ;
  rstat = calloc(nrcpt, 1) ;
  rtext = calloc(nrcpt, sizeof *rtext) ;
  if (!rstat || !rtext) die_nomem() ;

  if (chdir(postie_home()) < 0) fail('Z', "unable to chdir to the instance directory: ", strerror(errno), 0) ;
  settings() ;

  if (badaddress(sender)) fail('D', "invalid sender address (control characters, angle brackets or too long)", 0, 0) ;
  for (i = 0 ; i < nrcpt ; i++)
  {
    if (!rcpt[i][0] || badaddress(rcpt[i]))
    {
      rstat[i] = 'D' ;
      cat(&rtext[i], "invalid recipient address (empty, control characters, angle brackets or too long)") ;
    }
  }

  for (i = 0 ; i < nrcpt && rstat[i] ; i++) ;
  if (i == nrcpt)
  {
    cat(&mtext, "no valid recipient: the message was not sent") ;
    finish('K') ;
  }

  msgstart = lseek(0, 0, SEEK_CUR) ;
  if (msgstart < 0 || fstat(0, &st) < 0 || !S_ISREG(st.st_mode))
    fail('Z', "the message on fd 0 is not a regular file", 0, 0) ;
  if (!body_walk(0)) fail('Z', "unable to read the message: ", strerror(errno), 0) ;
  /* postie-smtpd and postie-inject refuse a NUL; one that came another
     way (postie-queue run directly) is not sent either: a next server
     that drops it could see the message end where postie saw none. */
  if (msgnul) fail('D', "message contains a NUL byte, which mail cannot carry (#5.6.0)", 0, 0) ;

  route(argv[1]) ;

  for (i = 0 ; i < ntg ; i++)
    if (session(&tg[i].ip, tg[i].port, names.s + tg[i].name, 0) < 0)
      session(&tg[i].ip, tg[i].port, names.s + tg[i].name, 1) ;

  mtext.len = 0 ;
  cat(&mtext, "unable to deliver to any host for ") ;
  cat(&mtext, argv[1]) ;
  if (ntg > 1) { cat(&mtext, " (") ; catu(&mtext, ntg) ; cat(&mtext, " addresses tried; the last: ") ; }
  else cat(&mtext, ": ") ;
  catb(&mtext, lasterr.s, lasterr.len) ;
  if (ntg > 1) cat(&mtext, ")") ;
  /* U, not Z: the destination itself took no session (doc/remote-results.md);
     postie-send then holds its other messages until its next retry */
  finish('U') ;
}
