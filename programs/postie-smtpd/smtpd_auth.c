/* postie-smtpd's AUTH (RFC 4954): PLAIN and LOGIN, the password checked
   by a checkpassword program (the djb interface: user, password and a
   timestamp on its fd 3), failures delayed and counted. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <skalibs/bytestr.h>
#include "postie.h"
#include "base64.h"
#include "cprun.h"
#include "sasl.h"
#include "smtpd.h"

/* What a checkpassword program runs after a good login: nothing. */
#define CHECKPASSWORD_NEXT "/bin/true"

/* Runs "checkpassword args... /bin/true" (cprun.h) with
   "user\0password\0<SESSIONID@me>\0" on its fd 3 and /dev/null on fds 0
   and 1, for at most control/timeoutsmtpd seconds. 1 good, 0 bad, -1
   temporary. */
static int checkpassword (char const *user, size_t ulen, char const *pass, size_t plen)
{
  char const *argv[settings.ncheckpassword + 2] ;
  char stamp[512] ;
  size_t slen = strlen(session.id) ;
  cprun_how how = { .argv = argv, .stamp = stamp, .rfd = CPRUN_NULL, .wfd = CPRUN_NULL, .timeout = settings.timeoutsmtpd } ;
  if (slen + settings.me.len + 3 > sizeof stamp) return 0 ;  /* more than cprun passes */
  stamp[0] = '<' ;
  memcpy(stamp + 1, session.id, slen) ;
  stamp[1 + slen] = '@' ;
  memcpy(stamp + 2 + slen, settings.me.s, settings.me.len) ;
  stamp[2 + slen + settings.me.len] = '>' ;
  stamp[3 + slen + settings.me.len] = 0 ;
  for (unsigned int i = 0 ; i < settings.ncheckpassword ; i++) argv[i] = settings.checkpassword[i] ;
  argv[settings.ncheckpassword] = CHECKPASSWORD_NEXT ;
  argv[settings.ncheckpassword + 1] = 0 ;
  switch (cprun(&how, user, ulen, pass, plen))
  {
    case 0 : return 1 ;
    case 1 : return 0 ;
    default : return -1 ;  /* 2 misuse, 111 temporary, anything else, a timeout */
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
  if (toolong == 2) { byte_zzero(line, sizeof line) ; die_linetoolong() ; }
  if (toolong) { err("500 5.5.2 Line too long\r\n") ; return 0 ; }
  if (len == 1 && line[0] == '*') { err("501 5.0.0 Authentication cancelled\r\n") ; return 0 ; }
  k = base64_decode(line, len, o, omax) ;
  byte_zzero(line, sizeof line) ;
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
  if (!r) { byte_zzero(tmp, sizeof tmp) ; err("501 5.5.2 Bad PLAIN response\r\n") ; return 0 ; }
  if (r < 0)
  {
    byte_zzero(tmp, sizeof tmp) ;
    err("535 5.7.8 Authentication credentials invalid (authorization identity refused)\r\n") ;
    return 0 ;
  }
  memcpy(user, u, *ulen) ;
  memcpy(pass, pw, *plen) ;
  byte_zzero(tmp, sizeof tmp) ;
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
  if (memchr(pass, 0, *plen)) { byte_zzero(pass, SMTPD_CMDMAX) ; err("535 5.7.8 Authentication credentials invalid\r\n") ; return 0 ; }
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
    byte_zzero(pass, sizeof pass) ;
    err("535 5.7.8 Authentication credentials invalid\r\n") ;
    return ;
  }
  r = checkpassword(user, ulen, pass, plen) ;
  byte_zzero(pass, sizeof pass) ;
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

