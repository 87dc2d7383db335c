/* postie-popup: the POP3 AUTHORIZATION state (RFC 1939, CAPA RFC 2449,
   AUTH PLAIN RFC 5034, response codes RFC 3206), in the manner of
   qmail-popup:

     postie-popup hostname checkpassword [args...]

   e.g. postie-popup mail.example.org postie-checkpassword postie-pop3d

   The client is on fd 0 and fd 1. For each USER/PASS or AUTH PLAIN it
   runs checkpassword with "user\0password\0timestamp\0" on fd 3 and the
   client still on fd 0 and fd 1. A checkpassword that accepts execs the
   rest of its argv (postie-pop3d), which answers +OK and serves the
   session; postie-popup then exits 0 when it does. Exit 1 means a bad
   login: postie-popup waits pop3faildelay seconds and says -ERR [AUTH].

   Input is read one byte at a time (not through skalibs' buffer, which
   reads ahead), so nothing the client sent after the PASS line
   (pipelined commands) is lost when the child takes over, and nothing
   sent after STLS is read before the handshake.

   STLS (RFC 2595) through UCSPI-TLS (postie-tlsd -r): after it, the
   client is on SSLREADFD and SSLWRITEFD, which the child gets as fd 0 and
   fd 1. A login needs TLS unless AUTHCLEARTEXT is set. */

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <skalibs/bytestr.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/iopause.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>
#include "pop3_cmd.h"
#include "sasl.h"
#include "postie.h"
#include "prelogin.h"
#include "timedio.h"
#include "ucspitls.h"

#define USAGE "postie-popup hostname checkpassword [args...]"

#define LINE_MAX 255        /* RFC 2449: a command line, CRLF included */
#define SASL_LINE_MAX 1024  /* an AUTH PLAIN response: base64 of 3 x 255 */
#define USER_MAX 255

static prelogin lim = { .timeout = 600, .faildelay = 2, .maxbad = 10, .maxfail = 3, .logintime = 120, .maxcmds = 30 } ;
static unsigned long nbad = 0 ;
static unsigned long nfail = 0 ;
static unsigned long ncmds = 0 ;
static tain loginend ;  /* logintime after the start */

static char const *hostname ;
static char const *const *cpargv ;
static char user[USER_MAX + 1] ;
static int haveuser = 0 ;
static ucspitls tls ;
static int authcleartext = 0 ;

static void out (char const *s) { prelogin_out(&lim, s) ; }

static void die_temp (void) { out("-ERR [SYS/TEMP] temporary failure\r\n") ; _exit(111) ; }

static void bad (char const *msg)
{
  out(msg) ;
  if (++nbad >= lim.maxbad) { out("-ERR too many bad commands\r\n") ; _exit(0) ; }
}

/* Run the checkpassword chain. Returns only after a bad login. */
static void login (char const *name, size_t namelen, char const *pw, size_t pwlen)
{
  int r = prelogin_login(&lim, &nfail, cpargv, hostname, &tls, name, namelen, pw, pwlen) ;
  if (r < 0) die_temp() ;
  if (r > 1) { out("-ERR [AUTH] authentication failed, too many failures\r\n") ; _exit(0) ; }
  out("-ERR [AUTH] authentication failed\r\n") ;
}

/* Read a line, strip its CRLF (or LF). Returns its length, or -1 for an
   overlong one (already answered). Exits at end of input or timeout. */
static ssize_t readcmd (char *line, size_t max)
{
  tain deadline ;
  size_t len ;
  int r ;
  int whole ;
  tain_now_g() ;
  /* A session is not kept open before login for longer than
     control/pop3logintime, however busy the client keeps it, nor for
     more than control/pop3maxcmds commands: a client cannot hold a
     connection slot with CAPA once a second. */
  if (!tain_less(&STAMP, &loginend)) { out("-ERR too long without logging in, closing\r\n") ; _exit(0) ; }
  if (++ncmds > lim.maxcmds) { out("-ERR too many commands without logging in, closing\r\n") ; _exit(0) ; }
  whole = prelogin_deadline(&lim, &loginend, &deadline) ;
  r = timedio_getline(&prelogin_io, line, max, &len, &deadline) ;
  if (r == -3) { out("-ERR line too long, closing connection\r\n") ; _exit(0) ; }  /* no end in sight */
  if (r == -2) { bad("-ERR line too long\r\n") ; return -1 ; }
  if (r == -1 && errno == ETIMEDOUT)
  {
    out(whole ? "-ERR too long without logging in, closing\r\n" : "-ERR autologout: idle for too long\r\n") ;
    _exit(0) ;
  }
  if (r <= 0) _exit(0) ;
  len-- ;
  if (len && line[len-1] == '\r') len-- ;
  line[len] = 0 ;
  return len ;
}

static void auth_plain (char const *ir)
{
  char line[SASL_LINE_MAX + 1] ;
  char dec[SASL_LINE_MAX] ;
  char const *resp = ir ;
  char const *u, *pw ;
  size_t ulen, plen ;
  int r ;
  if (!resp)
  {
    ssize_t l ;
    out("+ \r\n") ;
    l = readcmd(line, SASL_LINE_MAX) ;
    if (l < 0) return ;
    resp = line ;
  }
  if (!strcmp(resp, "*")) { out("-ERR authentication cancelled\r\n") ; return ; }
  r = sasl_plain_decode(resp, dec, sizeof dec, &u, &ulen, &pw, &plen) ;
  byte_zzero(line, sizeof line) ;
  if (r == -2) { bad("-ERR invalid base64\r\n") ; return ; }
  if (!r) { bad("-ERR malformed PLAIN response\r\n") ; return ; }
  if (r < 0)
  {
    prelogin_pause(lim.faildelay) ;
    out("-ERR [AUTH] authorization identity not allowed\r\n") ;
    return ;
  }
  if (!ulen || ulen > USER_MAX)
  {
    byte_zzero(dec, sizeof dec) ;
    bad("-ERR bad user name\r\n") ;
    return ;
  }
  login(u, ulen, pw, plen) ;
  byte_zzero(dec, sizeof dec) ;
}

/* A login is allowed over TLS, or in clear with AUTHCLEARTEXT. */
static int loginok (void)
{
  if (tls.active || authcleartext) return 1 ;
  if (ucspitls_available(&tls)) bad("-ERR [AUTH] TLS required: use STLS first\r\n") ;
  else bad("-ERR [AUTH] login without TLS is not allowed here\r\n") ;
  return 0 ;
}

/* STLS (RFC 2595): +OK in clear, then the handshake; nothing the client
   sent after the command has been read (input is read byte by byte), and
   what was said before (USER) is forgotten. */
static void stls (char const *arg)
{
  if (arg) { bad("-ERR syntax: STLS\r\n") ; return ; }
  if (tls.active) { bad("-ERR TLS already active\r\n") ; return ; }
  if (!ucspitls_available(&tls)) { out("-ERR [SYS/TEMP] TLS not available\r\n") ; return ; }
  out("+OK Begin TLS negotiation\r\n") ;
  prelogin_starttls(&lim, &tls) ;
  haveuser = 0 ;
}

int main (int argc, char const *const *argv)
{
  char line[LINE_MAX + 1] ;
  PROG = "postie-popup" ;
  if (argc < 3) strerr_dieusage(100, USAGE) ;
  hostname = argv[1] ;
  cpargv = argv + 2 ;
  authcleartext = !!getenv("AUTHCLEARTEXT") ;
  if (!prelogin_start(&lim, "pop3", &tls, &loginend)) die_temp() ;
  {
    /* One write: a client that reads the greeting with one read (openssl
       s_client -starttls pop3) must not take its end for the next reply. */
    char greet[300] ;
    size_t hlen = strlen(hostname) ;
    if (hlen > 255) hlen = 255 ;
    memcpy(greet, "+OK ", 4) ;
    memcpy(greet + 4, hostname, hlen) ;
    memcpy(greet + 4 + hlen, " POP3 server ready\r\n", 21) ;
    out(greet) ;
  }
  for (;;)
  {
    ssize_t len = readcmd(line, LINE_MAX) ;
    char *arg ;
    size_t cmdlen ;
    if (len < 0) continue ;
    if (!pop3_cmd_split(line, len, &cmdlen, &arg)) { bad("-ERR NUL byte in command\r\n") ; continue ; }

    if (pop3_cmd_is(line, cmdlen, "QUIT"))
    {
      out("+OK bye\r\n") ;
      return 0 ;
    }
    else if (pop3_cmd_is(line, cmdlen, "CAPA"))
    {
      int canlogin = tls.active || authcleartext ;
      out("+OK capability list follows\r\nTOP\r\n") ;
      if (canlogin) out("USER\r\n") ;
      out("UIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n") ;
      if (canlogin) out("SASL PLAIN\r\n") ;
      if (ucspitls_available(&tls)) out("STLS\r\n") ;
      out("IMPLEMENTATION postie\r\n.\r\n") ;
    }
    else if (pop3_cmd_is(line, cmdlen, "STLS")) stls(arg) ;
    else if (pop3_cmd_is(line, cmdlen, "USER"))
    {
      size_t n = arg ? strlen(arg) : 0 ;
      if (!loginok()) continue ;
      if (!n || n > USER_MAX || strchr(arg, ' ')) { bad("-ERR syntax: USER name\r\n") ; continue ; }
      memcpy(user, arg, n + 1) ;
      haveuser = 1 ;
      out("+OK\r\n") ;
    }
    else if (pop3_cmd_is(line, cmdlen, "PASS"))
    {
      if (!loginok()) { memset(line, 0, sizeof line) ; continue ; }
      if (!haveuser) { bad("-ERR USER first\r\n") ; continue ; }
      haveuser = 0 ;
      login(user, strlen(user), arg ? arg : "", arg ? strlen(arg) : 0) ;
      memset(line, 0, sizeof line) ;
    }
    else if (pop3_cmd_is(line, cmdlen, "AUTH"))
    {
      size_t mlen ;
      haveuser = 0 ;
      if (!arg) { out("+OK\r\nPLAIN\r\n.\r\n") ; continue ; }
      if (!loginok()) { memset(line, 0, sizeof line) ; continue ; }
      mlen = strcspn(arg, " ") ;
      if (!pop3_cmd_is(arg, mlen, "PLAIN")) { bad("-ERR unsupported mechanism\r\n") ; continue ; }
      auth_plain(arg[mlen] ? arg + mlen + 1 : 0) ;
      memset(line, 0, sizeof line) ;
    }
    else if (pop3_cmd_is(line, cmdlen, "STAT") || pop3_cmd_is(line, cmdlen, "LIST") || pop3_cmd_is(line, cmdlen, "RETR")
          || pop3_cmd_is(line, cmdlen, "DELE") || pop3_cmd_is(line, cmdlen, "RSET") || pop3_cmd_is(line, cmdlen, "NOOP")
          || pop3_cmd_is(line, cmdlen, "UIDL") || pop3_cmd_is(line, cmdlen, "TOP") || pop3_cmd_is(line, cmdlen, "LAST"))
      bad("-ERR authorization first\r\n") ;
    else bad("-ERR unknown command\r\n") ;
  }
}
