/* postie-smtpd's AUTH (RFC 4954): PLAIN and LOGIN, the password checked
   by a checkpassword program (the djb interface: user, password and a
   timestamp on its fd 3), failures delayed and counted. */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/wait.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/sig.h>
#include <skalibs/strerr.h>
#include "postie.h"
#include "base64.h"
#include "sasl.h"
#include "smtpd.h"

/* What a checkpassword program runs after a good login: nothing. */
#define CHECKPASSWORD_NEXT "/bin/true"

static void wipe (char *s, size_t n)
{
  volatile char *p = s ;
  while (n--) *p++ = 0 ;
}

static volatile sig_atomic_t alarmed = 0 ;
static void onalarm (int sig)
{
  (void)sig ;
  alarmed = 1 ;
}

/* Runs "checkpassword args... /bin/true" with "user\0password\0timestamp\0"
   on its fd 3, /dev/null on fds 0 and 1. 1 good, 0 bad, -1 temporary. */
static int checkpassword (char const *user, size_t ulen, char const *pass, size_t plen)
{
  char buf[512] ;
  char const *argv[settings.ncheckpassword + 2] ;
  size_t n = 0, slen = strlen(session.id) ;
  int p[2], wstat, r ;
  pid_t pid ;
  struct sigaction sa, old ;
  if (ulen + plen + slen + settings.me.len + 6 > sizeof buf) return 0 ;
  memcpy(buf, user, ulen) ; n = ulen ; buf[n++] = 0 ;
  memcpy(buf + n, pass, plen) ; n += plen ; buf[n++] = 0 ;
  buf[n++] = '<' ;
  memcpy(buf + n, session.id, slen) ; n += slen ;
  buf[n++] = '@' ;
  memcpy(buf + n, settings.me.s, settings.me.len) ; n += settings.me.len ;
  buf[n++] = '>' ; buf[n++] = 0 ;
  for (unsigned int i = 0 ; i < settings.ncheckpassword ; i++) argv[i] = settings.checkpassword[i] ;
  argv[settings.ncheckpassword] = CHECKPASSWORD_NEXT ;
  argv[settings.ncheckpassword + 1] = 0 ;
  if (pipecoe(p) < 0) { wipe(buf, sizeof buf) ; return -1 ; }
  pid = fork() ;
  if (pid < 0) { wipe(buf, sizeof buf) ; fd_close(p[0]) ; fd_close(p[1]) ; return -1 ; }
  if (!pid)
  {
    int nul = open("/dev/null", O_RDWR | O_CLOEXEC) ;  /* only its copies on 0 and 1 stay */
    wipe(buf, sizeof buf) ;
    if (nul < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0) _exit(111) ;
    if (p[0] == 3) { if (uncoe(3) < 0) _exit(111) ; }
    else if (dup2(p[0], 3) < 0) _exit(111) ;
    sig_restore(SIGPIPE) ;
    sig_blocknone() ;
    execvp(argv[0], (char *const *)argv) ;
    strerr_warnwu2sys("exec ", argv[0]) ;
    _exit(111) ;
  }
  fd_close(p[0]) ;
  r = allwrite(p[1], buf, n) < n ;
  wipe(buf, sizeof buf) ;
  fd_close(p[1]) ;
  (void)r ;  /* a checkpassword that does not read fails by itself */
  memset(&sa, 0, sizeof sa) ;
  sa.sa_handler = &onalarm ;
  sigemptyset(&sa.sa_mask) ;
  /* Not skalibs' sig_catch, which sets SA_RESTART: waitpid must be
     interrupted by the alarm, or a hung checkpassword holds the session. */
  sa.sa_flags = 0 ;
  sigaction(SIGALRM, &sa, &old) ;
  alarmed = 0 ;
  alarm(settings.timeoutsmtpd) ;
  for (;;)
  {
    if (waitpid(pid, &wstat, 0) == pid) break ;
    if (errno != EINTR) { wstat = -1 ; break ; }
    if (alarmed) { kill(pid, SIGKILL) ; }
  }
  alarm(0) ;
  sigaction(SIGALRM, &old, 0) ;
  if (wstat == -1 || alarmed) return -1 ;
  if (!WIFEXITED(wstat)) return -1 ;
  switch (WEXITSTATUS(wstat))
  {
    case 0 : return 1 ;
    case 1 : return 0 ;
    default : return -1 ;  /* 2 misuse, 111 temporary, anything else */
  }
}

/* Reads one AUTH response line into line (decoded into o); 1 ok, 0 the
   reply is sent (cancelled or bad). */
static int authread (char *o, size_t omax, size_t *olen)
{
  char line[SMTPD_CMDMAX] ;
  size_t len ;
  int toolong, r ;
  ssize_t k ;
  tain d ;
  deadline_cmd(&d) ;
  r = io_getline(line, SMTPD_CMDMAX - 2, &len, &toolong, &d) ;
  if (r <= 0) { if (!r) errno = 0 ; die_read() ; }
  if (toolong == 2) { wipe(line, sizeof line) ; die_linetoolong() ; }
  if (toolong) { err("500 5.5.2 Line too long\r\n") ; return 0 ; }
  if (len == 1 && line[0] == '*') { err("501 5.0.0 Authentication cancelled\r\n") ; return 0 ; }
  k = base64_decode(line, len, o, omax) ;
  wipe(line, sizeof line) ;
  if (k < 0) { err("501 5.5.2 Cannot decode the response (base64)\r\n") ; return 0 ; }
  *olen = k ;
  return 1 ;
}

static int decodearg (char const *s, char *o, size_t omax, size_t *olen)
{
  ssize_t k ;
  if (!strcmp(s, "=")) { *olen = 0 ; return 1 ; }
  k = base64_decode(s, strlen(s), o, omax) ;
  if (k < 0) { err("501 5.5.2 Cannot decode the response (base64)\r\n") ; return 0 ; }
  *olen = k ;
  return 1 ;
}

static int userok (char const *u, size_t n)
{
  if (!n || n >= sizeof session.authuser) return 0 ;
  for (size_t i = 0 ; i < n ; i++) if ((unsigned char)u[i] < 32 || u[i] == 127) return 0 ;
  return 1 ;
}

/* AUTH PLAIN (RFC 4616): the response (resp, or asked for) holds
   authzid, authcid and password; an authzid other than the authcid is
   refused. 1 with the login in user, pass; 0 the reply is sent. */
static int auth_plain (char const *resp, char *user, size_t *ulen, char *pass, size_t *plen)
{
  char tmp[SMTPD_CMDMAX] ;
  char const *u, *pw ;
  size_t tlen ;
  int r ;
  if (resp) { if (!decodearg(resp, tmp, sizeof tmp, &tlen)) return 0 ; }
  else
  {
    out("334 \r\n") ;
    if (!authread(tmp, sizeof tmp, &tlen)) return 0 ;
  }
  /* authzid \0 authcid \0 password */
  r = sasl_plain_split(tmp, tlen, &u, ulen, &pw, plen) ;
  if (!r) { wipe(tmp, sizeof tmp) ; err("501 5.5.2 Bad PLAIN response\r\n") ; return 0 ; }
  if (r < 0)
  {
    wipe(tmp, sizeof tmp) ;
    err("535 5.7.8 Authentication credentials invalid (authorization identity refused)\r\n") ;
    return 0 ;
  }
  memcpy(user, u, *ulen) ;
  memcpy(pass, pw, *plen) ;
  wipe(tmp, sizeof tmp) ;
  return 1 ;
}

/* AUTH LOGIN: the user name (resp, or asked for), then the password. 1
   with the login in user, pass; 0 the reply is sent. */
static int auth_login (char const *resp, char *user, size_t *ulen, char *pass, size_t *plen)
{
  if (resp) { if (!decodearg(resp, user, SMTPD_CMDMAX, ulen)) return 0 ; }
  else
  {
    out("334 VXNlcm5hbWU6\r\n") ;
    if (!authread(user, SMTPD_CMDMAX, ulen)) return 0 ;
  }
  out("334 UGFzc3dvcmQ6\r\n") ;
  if (!authread(pass, SMTPD_CMDMAX, plen)) return 0 ;
  if (memchr(pass, 0, *plen)) { wipe(pass, SMTPD_CMDMAX) ; err("535 5.7.8 Authentication credentials invalid\r\n") ; return 0 ; }
  return 1 ;
}

void smtp_auth (char const *arg)
{
  char mech[16] ;
  char const *resp = 0 ;
  char user[SMTPD_CMDMAX], pass[SMTPD_CMDMAX] ;
  size_t ulen = 0, plen = 0, n = 0 ;
  int r ;
  if (!session.authoffer) { err("502 5.5.1 AUTH not available\r\n") ; return ; }
  if (session.helostate != 2) { err("503 5.5.1 Send EHLO first\r\n") ; return ; }
  if (!session.tls.active && !session.authcleartext)
  {
    if (ucspitls_available(&session.tls)) err("530 5.7.0 Must issue a STARTTLS command first\r\n") ;
    else err("538 5.7.11 Encryption required for requested authentication mechanism\r\n") ;
    return ;
  }
  if (session.authed) { err("503 5.5.1 Already authenticated\r\n") ; return ; }
  if (transaction.havemail) { err("503 5.5.1 AUTH not allowed during a mail transaction\r\n") ; return ; }
  if (!isarg(arg)) { err("501 5.5.4 Syntax: AUTH mechanism [initial-response]\r\n") ; return ; }
  while (arg[n] && arg[n] != ' ') n++ ;
  if (n >= sizeof mech) { err("504 5.5.4 Unrecognized authentication type\r\n") ; return ; }
  memcpy(mech, arg, n) ; mech[n] = 0 ;
  if (arg[n]) resp = arg + n + 1 ;
  if (resp && (!*resp || strchr(resp, ' '))) { err("501 5.5.4 Syntax: AUTH mechanism [initial-response]\r\n") ; return ; }

  if (!strcasecmp(mech, "PLAIN")) { if (!auth_plain(resp, user, &ulen, pass, &plen)) return ; }
  else if (!strcasecmp(mech, "LOGIN")) { if (!auth_login(resp, user, &ulen, pass, &plen)) return ; }
  else { err("504 5.5.4 Unrecognized authentication type\r\n") ; return ; }

  if (!userok(user, ulen))
  {
    wipe(pass, sizeof pass) ;
    err("535 5.7.8 Authentication credentials invalid\r\n") ;
    return ;
  }
  r = checkpassword(user, ulen, pass, plen) ;
  wipe(pass, sizeof pass) ;
  logstart("auth") ;
  logstr(" ip=") ; logstr(session.remoteip) ;
  logstr(" mech=") ; logstr(mech[0] == 'p' || mech[0] == 'P' ? "PLAIN" : "LOGIN") ;
  logstr(" user=") ; logbytes(user, ulen) ;
  logstr(r > 0 ? " ok" : r ? " tempfail" : " failed") ;
  logend() ;
  if (r < 0) { out("454 4.7.0 Temporary authentication failure\r\n") ; return ; }
  if (!r)
  {
    /* A password guesser pays control/authfaildelay seconds per try and
       gets control/maxauthfail tries per connection. */
    if (settings.authfaildelay) sleep(settings.authfaildelay > 60 ? 60 : (unsigned int)settings.authfaildelay) ;
    if (++session.nauthfail >= settings.maxauthfail)
    {
      out("421 4.7.0 ") ; out(settings.me.s) ; out(" too many failed authentications, closing connection\r\n") ;
      session_end("toomanyauthfailures") ;
    }
    err("535 5.7.8 Authentication credentials invalid\r\n") ;
    return ;
  }
  memcpy(session.authuser, user, ulen) ;
  session.authuser[ulen] = 0 ;
  /* In a header comment and a reply: printable ASCII without the
     characters that would end or nest the comment. */
  for (size_t i = 0 ; i <= ulen ; i++)
  {
    char c = session.authuser[i] ;
    session.authshow[i] = !c ? 0 : (unsigned char)c <= 32 || (unsigned char)c >= 127 || c == '(' || c == ')' || c == '\\' ? '?' : c ;
  }
  session.authed = 1 ;
  out("235 2.7.0 Authentication successful\r\n") ;
}

