/* postie-smtpd: an SMTP server (RFC 5321) on fd 0 (input) and fd 1
   (output), run by a UCSPI-TCP server (postie-tcpserver, s6-tcpserver,
   tcpserver). Each accepted message goes to the queue program
   (POSTIE_QUEUE, default postie-queue) with one Received: line in front.

   Everything the network can make this program do is in this file: the
   commands, their replies, the DATA state machine, AUTH, and the limits.
   Every reply and setting is listed in doc/postie-smtpd.md. */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/gccattributes.h>
#include <skalibs/iopause.h>
#include <skalibs/sig.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>
#include "postie.h"
#include "exec_sibling.h"
#include "queue.h"
#include "postie_queue.h"
#include "rfc5322.h"
#include "base64.h"
#include "sasl.h"
#include "smtpd.h"
#include "ucspitls.h"

#define USAGE "postie-smtpd [ checkpassword-program [ args... ] ]"

/* What a checkpassword program runs after a good login: nothing. */
#define CHECKPASSWORD_NEXT "/bin/true"

/* ---------- settings (control files; doc/postie-smtpd.md) */

static stralloc me = STRALLOC_ZERO ;       /* control/me: our host name */
static stralloc greeting = STRALLOC_ZERO ; /* control/smtpgreeting */
static unsigned long databytes = 26214400 ;
static unsigned long maxrcpt = 100 ;
static unsigned long timeoutsmtpd = 300 ;
static unsigned long timeoutdata = 180 ;
static unsigned long timeoutdatatotal = 3600 ;
static unsigned long maxbadcmds = 20 ;
static unsigned long maxhops = 100 ;
static unsigned long datalinemax = 1048576 ;  /* RFC 5321's 1000 is too few for real mail */
static unsigned long authfaildelay = 2 ;
static unsigned long greetdelay = 0 ;
static unsigned long maxauthfail = 3 ;
static unsigned long timeoutqueue = 300 ;
static unsigned long maxjunkcmds = 100 ;
static unsigned long timeoutsession = 3600 ;

/* ---------- the session */

static char sessionid[64] ;
static char remoteip[72] = "unknown" ;
static char remoteport[8] = "" ;
static char localuid[UINT_FMT] = "" ;  /* sendmail -bs: the uid that ran it */
static char helo[256] ;
static int helostate = 0 ;   /* 0 none, 1 HELO, 2 EHLO */
static int relayclient = 0 ;
static int authoffer = 0 ;   /* AUTH offered (a checkpassword program given) */
static int authrequired = 0 ;  /* SMTPAUTH=required: AUTH before MAIL */
static int authcleartext = 0 ;  /* AUTHCLEARTEXT: AUTH without TLS too */
static ucspitls tls ;  /* STARTTLS through UCSPI-TLS (postie-tlsd -r) */
static char const *const *cpw = 0 ;  /* checkpassword argv */
static unsigned int cpwn = 0 ;
static char authuser[256] ;
static char authshow[256] ;  /* authuser as it may appear in a header or reply */
static int authed = 0 ;
static int senderlogin = 0 ;  /* SENDERLOGIN=match: MAIL FROM one of the login's addresses */
static unsigned long nbad = 0, nmessages = 0, nrefused = 0, nauthfail = 0 ;
static unsigned long njunk = 0 ;
static tain sessionend ;  /* control/timeoutsession after the start */

/* ---------- the transaction */

static int havemail = 0 ;
static int smtputf8 = 0 ;
static stralloc sender = STRALLOC_ZERO ;
static stralloc rcpts = STRALLOC_ZERO ;   /* "T" addr "\0", each */
static unsigned long nrcpt = 0 ;
static stralloc addr = STRALLOC_ZERO ;

static void reset (void)
{
  havemail = 0 ;
  smtputf8 = 0 ;
  sender.len = 0 ;
  rcpts.len = 0 ;
  nrcpt = 0 ;
}

/* ---------- logging: one line per event on stderr */

static stralloc logsa = STRALLOC_ZERO ;

static void logbytes (char const *s, size_t n)
{
  size_t i ;
  for (i = 0 ; i < n ; i++)
  {
    char c = (unsigned char)s[i] < 32 || s[i] == 127 ? '?' : s[i] ;
    if (!stralloc_catb(&logsa, &c, 1)) return ;
  }
}

static void logstr (char const *s)
{
  logbytes(s, strlen(s)) ;
}

static void lognum (unsigned long u)
{
  char fmt[ULONG_FMT] ;
  logbytes(fmt, ulong_fmt(fmt, u)) ;
}

static void logstart (char const *what)
{
  logsa.len = 0 ;
  logstr("postie-smtpd: ") ;
  logstr(sessionid) ;
  logstr(" ") ;
  logstr(what) ;
}

static void logend (void)
{
  if (stralloc_catb(&logsa, "\n", 1)) allwrite(2, logsa.s, logsa.len) ;
  logsa.len = 0 ;
}

/* ---------- replies and the end of a session */

static void out (char const *s)
{
  io_puts(s) ;
}

static void session_end (char const *why) gccattr_noreturn ;
static void session_end (char const *why)
{
  tain d ;
  tain_now_g() ;
  tain_addsec_g(&d, 10) ;
  if (io_flush(&d) && strcmp(why, "eof"))
  {
    tain_now_g() ;
    tain_addsec_g(&d, 2) ;
    io_shutdown(&d) ;
  }
  logstart("session") ;
  logstr(" ip=") ; logstr(remoteip) ;
  logstr(" port=") ; logstr(remoteport) ;
  if (localuid[0]) { logstr(" uid=") ; logstr(localuid) ; }
  logstr(" helo=") ; logstr(helostate ? helo : "-") ;
  logstr(" auth=") ; logstr(authed ? authuser : "-") ;
  logstr(" tls=") ; logstr(tls.active ? tls.protocol : "-") ;
  if (tls.active && tls.cipher[0]) { logstr(":") ; logstr(tls.cipher) ; }
  logstr(" messages=") ; lognum(nmessages) ;
  logstr(" refused=") ; lognum(nrefused) ;
  logstr(" bad=") ; lognum(nbad) ;
  logstr(" end=") ; logstr(why) ;
  logend() ;
  _exit(0) ;
}

static void die_timeout (void) gccattr_noreturn ;
static void die_timeout (void)
{
  out("421 4.4.2 ") ; out(me.s) ; out(" timeout, closing connection\r\n") ;
  session_end("timeout") ;
}

static void die_nomem (void) gccattr_noreturn ;
static void die_nomem (void)
{
  out("421 4.3.0 out of memory, closing connection\r\n") ;
  session_end("nomem") ;
}

static void die_read (void) gccattr_noreturn ;
static void die_read (void)
{
  if (errno == ETIMEDOUT) die_timeout() ;
  session_end(!errno ? "eof" : errno == ECONNRESET ? "reset" : "readerror") ;
}

/* A line still without its end SMTPD_DISCARDMAX bytes past the limit:
   not an SMTP client, or one that will never send a line we can take.
   It is told so at once, rather than read until the timeout. */
static void die_linetoolong (void) gccattr_noreturn ;
static void die_linetoolong (void)
{
  out("500 5.5.2 Line too long\r\n") ;
  out("421 4.7.0 ") ; out(me.s) ; out(" line without end, closing connection\r\n") ;
  session_end("linetoolong") ;
}

static void die_control (char const *name) gccattr_noreturn ;
static void die_control (char const *name)
{
  strerr_warnwu("read control/", name, ": ", control_strerror()) ;
  out("421 4.3.0 unable to read the configuration, try again later\r\n") ;
  session_end("config") ;
}

/* A 5xx reply to a bad command: counted, and after control/maxbadcmds of
   them the session ends. */
static void err (char const *s)
{
  out(s) ;
  if (++nbad >= maxbadcmds)
  {
    out("421 4.7.0 ") ; out(me.s) ; out(" too many errors, closing connection\r\n") ;
    session_end("toomanyerrors") ;
  }
}

/* The wait for a command line: control/timeoutsmtpd, and never past the
   end of the session (control/timeoutsession). */
static void deadline_cmd (tain *d)
{
  tain_now_g() ;
  tain_addsec_g(d, timeoutsmtpd) ;
  if (tain_less(&sessionend, d)) *d = sessionend ;
}

static void die_sessiontoolong (void) gccattr_noreturn ;
static void die_sessiontoolong (void)
{
  out("421 4.4.2 ") ; out(me.s) ; out(" session too long, closing connection\r\n") ;
  session_end("sessiontoolong") ;
}

/* A command that moves no mail (NOOP, RSET, VRFY, HELP, HELO or EHLO
   again, RCPT over control/maxrcpt): counted, the count cleared by an
   accepted message, and after control/maxjunkcmds of them the session
   ends, so that a client cannot keep a connection slot with them. */
static void junk (void)
{
  if (++njunk > maxjunkcmds)
  {
    out("421 4.7.0 ") ; out(me.s) ; out(" too many commands, closing connection\r\n") ;
    session_end("toomanycommands") ;
  }
}

/* ---------- helpers */

static int isarg (char const *arg)
{
  return arg && *arg ;
}

/* The argument after a keyword like "FROM:", spaces allowed after the
   colon (not RFC, but common). Returns the rest or 0. */
static char const *afterkey (char const *arg, char const *key)
{
  size_t n = strlen(key) ;
  if (!arg || strncasecmp(arg, key, n)) return 0 ;
  arg += n ;
  while (*arg == ' ') arg++ ;
  return arg ;
}

static char const *safehelo (void)
{
  static char h[256] ;
  size_t i ;
  for (i = 0 ; helo[i] && i < sizeof h - 1 ; i++)
  {
    char c = helo[i] ;
    h[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
      || c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']' ? c : '?' ;
  }
  h[i] = 0 ;
  return h ;
}

/* ---------- HELO, EHLO and the simple commands */

static void sethelo (char const *arg)
{
  size_t n = 0 ;
  while (arg[n] && arg[n] != ' ') n++ ;
  memcpy(helo, arg, n) ;
  helo[n] = 0 ;
}

static int heloarg (char const *arg)
{
  size_t n = 0 ;
  if (!isarg(arg) || *arg == ' ') return 0 ;
  while (arg[n] && arg[n] != ' ') n++ ;
  return n < sizeof helo ;
}

static void smtp_helo (char const *arg)
{
  if (helostate) junk() ;
  if (!heloarg(arg)) { err("501 5.5.4 Syntax: HELO hostname\r\n") ; return ; }
  sethelo(arg) ;
  helostate = 1 ;
  reset() ;
  out("250 ") ; out(me.s) ; out("\r\n") ;
}

static void smtp_ehlo (char const *arg)
{
  char fmt[ULONG_FMT] ;
  if (helostate) junk() ;
  if (!heloarg(arg)) { err("501 5.5.4 Syntax: EHLO hostname\r\n") ; return ; }
  sethelo(arg) ;
  helostate = 2 ;
  reset() ;
  out("250-") ; out(me.s) ; out("\r\n") ;
  out("250-PIPELINING\r\n") ;
  out("250-8BITMIME\r\n") ;
  if (databytes)
  {
    fmt[ulong_fmt(fmt, databytes)] = 0 ;
    out("250-SIZE ") ; out(fmt) ; out("\r\n") ;
  }
  else out("250-SIZE\r\n") ;
  out("250-ENHANCEDSTATUSCODES\r\n") ;
  if (ucspitls_available(&tls)) out("250-STARTTLS\r\n") ;
  if (authoffer && (tls.active || authcleartext)) out("250-AUTH PLAIN LOGIN\r\n") ;
  out("250 SMTPUTF8\r\n") ;
}

static void smtp_rset (char const *arg)
{
  junk() ;
  if (isarg(arg)) { err("501 5.5.4 Syntax: RSET\r\n") ; return ; }
  reset() ;
  out("250 2.0.0 Ok\r\n") ;
}

static void smtp_noop (char const *arg)
{
  (void)arg ;
  junk() ;
  out("250 2.0.0 Ok\r\n") ;
}

static void smtp_vrfy (char const *arg)
{
  (void)arg ;
  junk() ;
  out("252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery\r\n") ;
}

static void smtp_help (char const *arg)
{
  (void)arg ;
  junk() ;
  out("214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP AUTH STARTTLS; see RFC 5321\r\n") ;
}

static void smtp_quit (char const *arg)
{
  if (isarg(arg)) { err("501 5.5.4 Syntax: QUIT\r\n") ; return ; }
  out("221 2.0.0 ") ; out(me.s) ; out(" closing connection\r\n") ;
  session_end("quit") ;
}

/* STARTTLS (RFC 3207), through UCSPI-TLS: the reply in clear, then
   whatever the client sent after the command is thrown away (the STARTTLS
   command injection: none of it may be read as if it came through TLS),
   and the session starts again from the greeting's state: no HELO, no
   AUTH, no transaction. */
static void smtp_starttls (char const *arg)
{
  tain d ;
  int r ;
  if (isarg(arg)) { err("501 5.5.4 Syntax: STARTTLS\r\n") ; return ; }
  if (tls.active) { err("503 5.5.1 TLS already active\r\n") ; return ; }
  if (!ucspitls_available(&tls)) { out("454 4.7.0 TLS not available due to temporary reason\r\n") ; return ; }
  out("220 2.0.0 Ready to start TLS\r\n") ;
  deadline_cmd(&d) ;
  if (!io_flush(&d)) die_read() ;
  io_discard() ;
  r = ucspitls_start(&tls, &d) ;
  if (r < 0) strerr_warnwu("start TLS") ;
  if (r <= 0) session_end("tlsfailed") ;
  io_setfds(tls.rfd, tls.wfd) ;
  helostate = 0 ;
  helo[0] = 0 ;
  authed = 0 ;
  authuser[0] = 0 ;
  reset() ;
}

static void smtp_notimpl (char const *arg)
{
  (void)arg ;
  err("502 5.5.1 Command not implemented\r\n") ;
}

/* ---------- MAIL and RCPT */

static int keyis (char const *s, size_t n, char const *key)
{
  return n == strlen(key) && !strncasecmp(s, key, n) ;
}

static void smtp_mail (char const *arg)
{
  char const *p = afterkey(arg, "FROM:") ;
  size_t used, at, plen ;
  int r, seensize = 0, seenbody = 0, seenutf8 = 0, seenauth = 0 ;
  if (!helostate) { err("503 5.5.1 Send EHLO first\r\n") ; return ; }
  if (authrequired && !authed) { err("530 5.7.0 Authentication required\r\n") ; return ; }
  if (havemail) { err("503 5.5.1 Nested MAIL command\r\n") ; return ; }
  if (!p) { err("501 5.5.4 Syntax: MAIL FROM:<address>\r\n") ; return ; }
  plen = strlen(p) ;
  r = addr_parse(p, plen, ADDR_NULLOK | ADDR_UTF8, &addr, &used, &at) ;
  if (r < 0) die_nomem() ;
  if (!r) { err("501 5.1.7 Bad sender address syntax\r\n") ; return ; }
  /* The parameters, each checked before any is believed. */
  p += used ;
  plen -= used ;
  if (plen && *p != ' ') { err("501 5.1.7 Bad sender address syntax\r\n") ; return ; }
  while (plen)
  {
    size_t n = 0, klen, vlen ;
    char const *v ;
    while (plen && *p == ' ') { p++ ; plen-- ; }
    while (n < plen && p[n] != ' ') n++ ;
    if (!n) break ;
    if (helostate != 2) { err("555 5.5.4 Parameters need EHLO\r\n") ; return ; }
    if (!param_split(p, n, &klen, &v, &vlen)) { err("501 5.5.4 Bad parameter syntax\r\n") ; return ; }
    if (keyis(p, klen, "SIZE"))
    {
      uint64_t size = 0 ;
      size_t i ;
      if (seensize++) { err("501 5.5.4 Duplicate SIZE parameter\r\n") ; return ; }
      if (!v) { err("501 5.5.4 Bad SIZE value\r\n") ; return ; }
      for (i = 0 ; i < vlen ; i++)
      {
        if (v[i] < '0' || v[i] > '9') { err("501 5.5.4 Bad SIZE value\r\n") ; return ; }
        if (size > (UINT64_MAX - 9) / 10) size = UINT64_MAX ;
        else size = size * 10 + (v[i] - '0') ;
      }
      if (vlen > 20) size = UINT64_MAX ;
      if (databytes && size > databytes)
      {
        err("552 5.3.4 Message size exceeds fixed maximum message size\r\n") ;
        return ;
      }
    }
    else if (keyis(p, klen, "BODY"))
    {
      if (seenbody++) { err("501 5.5.4 Duplicate BODY parameter\r\n") ; return ; }
      if (!v || !(keyis(v, vlen, "7BIT") || keyis(v, vlen, "8BITMIME")))
      { err("501 5.5.4 Bad BODY value (7BIT or 8BITMIME)\r\n") ; return ; }
    }
    else if (keyis(p, klen, "SMTPUTF8"))
    {
      if (seenutf8++) { err("501 5.5.4 Duplicate SMTPUTF8 parameter\r\n") ; return ; }
      if (v) { err("501 5.5.4 SMTPUTF8 takes no value\r\n") ; return ; }
    }
    else if (keyis(p, klen, "AUTH") && authoffer)
    {
      /* RFC 4954 5: we do not trust the client's claim; accepted and
         ignored, as AUTH=<> would be. */
      if (seenauth++) { err("501 5.5.4 Duplicate AUTH parameter\r\n") ; return ; }
      if (!v) { err("501 5.5.4 Bad AUTH value\r\n") ; return ; }
    }
    else { err("555 5.5.4 Unsupported parameter\r\n") ; return ; }
    p += n ;
    plen -= n ;
  }
  if (addr.len && !seenutf8)
  {
    size_t i ;
    for (i = 0 ; i < addr.len ; i++) if ((unsigned char)addr.s[i] >= 0x80) break ;
    if (i < addr.len) { err("553 5.6.7 Non-ASCII address needs SMTPUTF8\r\n") ; return ; }
  }
  if (authed && senderlogin && addr.len)
  {
    r = sender_owned(authuser, addr.s, addr.len) ;
    if (r < 0) { out("451 4.3.0 Unable to check the sender address, try again later\r\n") ; return ; }
    if (!r)
    {
      logstart("refused") ;
      logstr(" ip=") ; logstr(remoteip) ;
      logstr(" auth=") ; logstr(authuser) ;
      logstr(" from=<") ; logbytes(addr.s, addr.len) ; logstr(">") ;
      logstr(" reason=sender address not owned by the login") ;
      logend() ;
      {
        static char const a[] = "553 5.7.1 Sender address rejected: not owned by user " ;
        static char const b[] = " (use one of your own addresses)\r\n" ;
        char rep[sizeof a + sizeof authshow + sizeof b] ;
        size_t n = strlen(authshow) ;
        memcpy(rep, a, sizeof a - 1) ;
        memcpy(rep + sizeof a - 1, authshow, n) ;
        memcpy(rep + sizeof a - 1 + n, b, sizeof b) ;
        err(rep) ;
      }
      return ;
    }
  }
  if (!stralloc_copyb(&sender, addr.s, addr.len) || !stralloc_0(&sender)) die_nomem() ;
  sender.len-- ;
  smtputf8 = seenutf8 ;
  havemail = 1 ;
  rcpts.len = 0 ;
  nrcpt = 0 ;
  out("250 2.1.0 Ok\r\n") ;
}

/* 1 if this address is in the transaction's envelope already. */
static int rcpt_listed (char const *a, size_t n)
{
  size_t i = 0 ;
  while (i < rcpts.len)
  {
    size_t k = strlen(rcpts.s + i + 1) ;
    if (k == n && !memcmp(rcpts.s + i + 1, a, n)) return 1 ;
    i += k + 2 ;
  }
  return 0 ;
}

static void smtp_rcpt (char const *arg)
{
  char const *p = afterkey(arg, "TO:") ;
  size_t used, at, plen ;
  int r ;
  if (!havemail) { err("503 5.5.1 Need MAIL before RCPT\r\n") ; return ; }
  if (!p) { err("501 5.5.4 Syntax: RCPT TO:<address>\r\n") ; return ; }
  if (nrcpt >= maxrcpt) { junk() ; out("452 4.5.3 Too many recipients\r\n") ; return ; }
  plen = strlen(p) ;
  r = addr_parse(p, plen, ADDR_POSTMASTER | (smtputf8 ? ADDR_UTF8 : 0), &addr, &used, &at) ;
  if (r < 0) die_nomem() ;
  if (r == 2) { err("553 5.6.7 Non-ASCII address needs SMTPUTF8\r\n") ; return ; }
  if (!r) { err("501 5.1.3 Bad recipient address syntax\r\n") ; return ; }
  p += used ;
  while (*p == ' ') p++ ;
  if (*p) { err("555 5.5.4 Unsupported parameter\r\n") ; return ; }
  if (at == addr.len)
  {
    /* <postmaster> (RFC 5321 4.5.1): always accepted, for us. */
    if (!stralloc_cats(&addr, "@") || !stralloc_cats(&addr, me.s) || !stralloc_0(&addr)) die_nomem() ;
    addr.len-- ;
  }
  else
  {
    int ours ;
    /* The percent hack and bang paths route mail in some MTAs: they never
       reach ours, whoever asks. */
    if (memchr(addr.s, '%', at) || memchr(addr.s, '!', at))
    { err("553 5.7.1 Routing in the local part (% or !) is not accepted\r\n") ; return ; }
    ours = rcpt_hosts(addr.s + at + 1, addr.len - at - 1) ;
    if (ours < 0) { out("451 4.3.0 Unable to read control/rcpthosts.cdb\r\n") ; return ; }
    if (!ours && !relayclient && !authed)
    {
      err("554 5.7.1 Relaying denied\r\n") ;
      return ;
    }
    if (ours)
    {
      r = rcpt_check(addr.s, addr.len, at) ;
      /* a local client (sendmail -bs) runs as a user who may not read
         the users database: as for postie-inject, postie-send resolves
         the recipient at pickup (and bounces one nobody receives) */
      if (r < 0 && localuid[0]) r = 1 ;
      if (r < 0) { out("451 4.3.0 Unable to check the recipient, try again later\r\n") ; return ; }
      if (!r) { err("550 5.1.1 No such user here\r\n") ; return ; }
    }
  }
  /* The same recipient again (addr_parse lowercased the domain, so a
     byte comparison is case-insensitive on the domain only): accepted,
     but not a second time in the envelope, so it is delivered once. */
  if (rcpt_listed(addr.s, addr.len)) { junk() ; out("250 2.1.5 Ok (duplicate recipient, delivered once)\r\n") ; return ; }
  if (!stralloc_catb(&rcpts, "T", 1) || !stralloc_catb(&rcpts, addr.s, addr.len + 1)) die_nomem() ;
  nrcpt++ ;
  out("250 2.1.5 Ok\r\n") ;
}

/* ---------- the queue program */

static pid_t qpid = 0 ;
static int qmfd = -1, qefd = -1, qifd = -1 ;
static char qbuf[65536] ;
static size_t qlen = 0 ;
static int qdead = 0 ;
static int qtimedout = 0 ;  /* a write to it passed its deadline */
static int qsig = 0 ;       /* the signal that killed it, 0 if none */
static stralloc qenv = STRALLOC_ZERO ;

/* The queue program is not waited for forever (control/timeoutqueue): a
   hung filter would hold this connection, and its slot, for as long as it
   likes. Our ends of its pipes are non-blocking, every write and the wait
   for its exit are bounded by a deadline, and at the deadline its process
   group (it is spawned into one of its own, so a script's children go
   too) is killed. */
static void qdeadline (tain *d)
{
  tain_now_g() ;
  tain_addsec_g(d, timeoutqueue) ;
}

/* Writes n bytes to a pipe of the queue program; 1 ok, 0 it is gone or
   the deadline passed (qtimedout set). */
static int qwrite (int fd, char const *s, size_t n, tain const *deadline)
{
  while (n)
  {
    iopause_fd x = { .fd = fd, .events = IOPAUSE_WRITE, .revents = 0 } ;
    ssize_t r = write(fd, s, n) ;
    if (r > 0) { s += r ; n -= r ; continue ; }
    if (r < 0 && errno == EINTR) continue ;
    if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return 0 ;
    r = iopause_g(&x, 1, deadline) ;
    if (r < 0 && errno != EINTR) return 0 ;
    if (!r) { qtimedout = 1 ; return 0 ; }
  }
  return 1 ;
}

/* The queue program's environment: ours, with POSTIE_QUEUE_IDFD=3. */
static char const **queue_env (void)
{
  static char const **env = 0 ;
  if (!env)
  {
    extern char **environ ;
    size_t n = 0, j = 0 ;
    while (environ[n]) n++ ;
    env = malloc((n + 2) * sizeof *env) ;
    if (!env) return 0 ;
    for (size_t i = 0 ; i < n ; i++)
      if (strncmp(environ[i], "POSTIE_QUEUE_IDFD=", 18)) env[j++] = environ[i] ;
    env[j++] = "POSTIE_QUEUE_IDFD=3" ;
    env[j] = 0 ;
  }
  return env ;
}

/* posix_spawnp, not fork: glibc spawns with vfork semantics, which spares
   copying this process's page tables (and the copy-on-write faults that
   follow) for every message. */
static int queue_start (void)
{
  int m[2], e[2], id[2] ;
  int r ;
  posix_spawn_file_actions_t fa ;
  posix_spawnattr_t attr ;
  sigset_t none, pipeset ;
  char const *prog = getenv("POSTIE_QUEUE") ;
  char const *argv[2] = { 0, 0 } ;
  char const **env = queue_env() ;
  if (!prog || !*prog)
  {
    /* our own postie-queue, next to this binary: never the caller's PATH
       (sendmail -bs runs us with it) */
    static char sib[4096] ;
    static int known = 0 ;
    if (!known) known = sibling_path(sib, sizeof sib, "postie-queue") ? 1 : -1 ;
    prog = known > 0 ? sib : "postie-queue" ;
  }
  argv[0] = prog ;
  if (!env) return 0 ;
  if (pipecoe(m) < 0) return 0 ;
  if (pipecoe(e) < 0) { fd_close(m[0]) ; fd_close(m[1]) ; return 0 ; }
  if (pipecoe(id) < 0) { fd_close(m[0]) ; fd_close(m[1]) ; fd_close(e[0]) ; fd_close(e[1]) ; return 0 ; }
  /* m[0] >= 3 (0, 1 and 2 are open) and id[1] > m[0], so dup2 to 0, 1
     and 3 in this order never clobbers a descriptor still to be moved */
  sigemptyset(&none) ;
  sigemptyset(&pipeset) ;
  sigaddset(&pipeset, SIGPIPE) ;
  r = posix_spawn_file_actions_init(&fa) ;
  if (r) goto err ;
  r = posix_spawnattr_init(&attr) ;
  if (r) { posix_spawn_file_actions_destroy(&fa) ; goto err ; }
  if ((r = posix_spawn_file_actions_adddup2(&fa, m[0], 0))
   || (r = posix_spawn_file_actions_adddup2(&fa, e[0], 1))
   || (r = posix_spawn_file_actions_adddup2(&fa, id[1], 3))
   || (r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
   || (r = posix_spawnattr_setpgroup(&attr, 0))
   || (r = posix_spawnattr_setsigmask(&attr, &none))
   || (r = posix_spawnattr_setsigdefault(&attr, &pipeset)))
    ;
  else r = posix_spawnp(&qpid, prog, &fa, &attr, (char *const *)argv, (char *const *)env) ;
  posix_spawnattr_destroy(&attr) ;
  posix_spawn_file_actions_destroy(&fa) ;
  if (r) goto err ;
  fd_close(m[0]) ; fd_close(e[0]) ; fd_close(id[1]) ;
  qmfd = m[1] ; qefd = e[1] ; qifd = id[0] ;
  qlen = 0 ;
  qdead = 0 ;
  qtimedout = 0 ;
  if (ndelay_on(qmfd) < 0 || ndelay_on(qefd) < 0) qdead = 1 ;  /* not queued: 451 */
  return 1 ;
 err:
  errno = r ;
  strerr_warnwu2sys("spawn ", prog) ;
  qpid = 0 ;
  fd_close(m[0]) ; fd_close(m[1]) ; fd_close(e[0]) ; fd_close(e[1]) ; fd_close(id[0]) ; fd_close(id[1]) ;
  return 0 ;
}

static void qflush (tain const *deadline)
{
  tain d ;
  if (!deadline) { qdeadline(&d) ; deadline = &d ; }
  if (!qdead && qlen && !qwrite(qmfd, qbuf, qlen, deadline)) qdead = 1 ;
  qlen = 0 ;
}

static inline void qput (char c)
{
  if (qlen == sizeof qbuf) qflush(0) ;
  qbuf[qlen++] = c ;
}

static void qputs (char const *s)
{
  while (*s) qput(*s++) ;
}

static void queue_kill (void)
{
  kill(-qpid, SIGKILL) ;
  kill(qpid, SIGKILL) ;
  while (waitpid(qpid, 0, 0) < 0 && errno == EINTR) ;
  qpid = 0 ;
}

/* Waits for the queue program until the deadline: its exit code, QQ_BUG
   if it died of a signal (temporary), -1 if it was still running at the
   deadline (it is killed). Its exit is seen through a pidfd when the
   kernel has them (Linux 5.3), else by looking every 10 ms. */
static int queue_wait (tain const *deadline)
{
  int wstat = 0 ;
  int pfd = -1 ;
#ifdef SYS_pidfd_open
  pfd = syscall(SYS_pidfd_open, qpid, 0) ;
#endif
  for (;;)
  {
    pid_t r = waitpid(qpid, &wstat, WNOHANG) ;
    if (r == qpid) break ;
    if (r < 0 && errno != EINTR) { wstat = -1 ; break ; }
    tain_now_g() ;
    if (!tain_less(&STAMP, deadline))
    {
      if (pfd >= 0) fd_close(pfd) ;
      queue_kill() ;
      return -1 ;
    }
    if (pfd >= 0)
    {
      iopause_fd x = { .fd = pfd, .events = IOPAUSE_READ, .revents = 0 } ;
      iopause_g(&x, 1, deadline) ;
    }
    else
    {
      tain d, ten ;
      tain_from_millisecs(&ten, 10) ;
      tain_add_g(&d, &ten) ;
      if (tain_less(deadline, &d)) d = *deadline ;
      iopause_g(0, 0, &d) ;
    }
  }
  if (pfd >= 0) fd_close(pfd) ;
  qpid = 0 ;
  if (wstat != -1 && WIFEXITED(wstat)) return WEXITSTATUS(wstat) ;
  if (wstat != -1 && WIFSIGNALED(wstat)) qsig = WTERMSIG(wstat) ;
  return QQ_BUG ;
}

/* Nothing is queued: the message and envelope pipes are closed with no
   envelope, which a queue program refuses (postie-queue exits 91 and
   removes its work file). */
static void queue_abort (void)
{
  tain d ;
  if (!qpid) return ;
  fd_close(qmfd) ; fd_close(qefd) ;
  qdeadline(&d) ;
  if (qtimedout) queue_kill() ; else queue_wait(&d) ;
  fd_close(qifd) ;
}

/* The message is complete: the envelope, then the queue program's verdict
   and its id; -1 if it did not give one within control/timeoutqueue (it
   has been killed). */
static int queue_finish (char *id, size_t idmax)
{
  int code ;
  tain d ;
  qsig = 0 ;
  qdeadline(&d) ;
  qflush(&d) ;
  fd_close(qmfd) ;
  if (!qdead)
  {
    /* one write: the queue program wakes up once for the envelope */
    qenv.len = 0 ;
    if (!stralloc_catb(&qenv, "F", 1)
     || !stralloc_catb(&qenv, sender.s, sender.len + 1)
     || !stralloc_catb(&qenv, rcpts.s, rcpts.len)
     || !stralloc_catb(&qenv, "", 1)) qdead = 1 ;
    else if (!qwrite(qefd, qenv.s, qenv.len, &d)) qdead = 1 ;
  }
  fd_close(qefd) ;
  if (qtimedout) { queue_kill() ; code = -1 ; }
  else code = queue_wait(&d) ;
  if (code < 0) { fd_close(qifd) ; return -1 ; }
  /* It did not read everything we sent, yet says it queued the message:
     what it queued is not what we were given (qmail-smtpd: "qq internal
     bug"). Never "250" for it. */
  if (!code && qdead) code = QQ_BUG ;
  id[0] = 0 ;
  if (!code)
  {
    ndelay_on(qifd) ;  /* what it wrote before exiting, never more */
    postie_queue_id_read(qifd, id, idmax, 0) ;
  }
  fd_close(qifd) ;
  return code ;
}

/* ---------- DATA */

/* RFC 3848 and RFC 6531: S for TLS, A for AUTH. */
static char const *protocol (void)
{
  if (smtputf8) return tls.active ? authed ? "UTF8SMTPSA" : "UTF8SMTPS" : authed ? "UTF8SMTPA" : "UTF8SMTP" ;
  if (helostate == 2) return tls.active ? authed ? "ESMTPSA" : "ESMTPS" : authed ? "ESMTPA" : "ESMTP" ;
  return authed ? "SMTPA" : "SMTP" ;
}

static void received (char const *msgid)
{
  char date[64] ;
  rfc5322_date_fmt(date, time(0)) ;
  qputs("Received: from ") ; qputs(safehelo()) ;
  qputs(" (") ;
  if (localuid[0]) { qputs("invoked by uid ") ; qputs(localuid) ; }
  else if (strchr(remoteip, ':')) { qputs("[IPv6:") ; qputs(remoteip) ; qputs("]") ; }
  else if (strcmp(remoteip, "unknown")) { qputs("[") ; qputs(remoteip) ; qputs("]") ; }
  else qputs("unknown") ;
  qputs(")") ;
  if (tls.active)
  {
    qputs("\n\t(using ") ; qputs(tls.protocol) ;
    if (tls.cipher[0]) { qputs(" with cipher ") ; qputs(tls.cipher) ; }
    qputs(")") ;
  }
  qputs("\n\t") ;
  if (authed) { qputs("(authenticated as ") ; qputs(authshow) ; qputs(")\n\t") ; }
  qputs("by ") ; qputs(me.s) ;
  qputs(" (postie-smtpd) with ") ; qputs(protocol()) ;
  qputs(" id ") ; qputs(msgid) ;
  if (nrcpt == 1)
  {
    /* A path, as RFC 5321 4.4 wants it: the local part is stored unquoted,
       so one that needs quotes gets them again, and cannot close the
       clause to forge trace text ("v>; by ...") in our own header. */
    static stralloc path = STRALLOC_ZERO ;
    char *at = strrchr(rcpts.s + 1, '@') ;
    path.len = 0 ;
    if (at) *at = 0 ;
    if (!rfc5322_cat_addr(&path, rcpts.s + 1, at ? at + 1 : "") || !stralloc_0(&path)) die_nomem() ;
    if (at) *at = '@' ;
    qputs("\n\tfor <") ; qputs(path.s) ; qputs(">") ;
  }
  qputs(";\n\t") ; qputs(date) ; qputs("\n") ;
}

enum { S_BOL, S_MID, S_CR, S_DOT, S_DOTCR } ;

static void smtp_data (char const *arg)
{
  static char const received_key[] = "received:" ;
  char msgid[96] ;
  char id[QUEUE_ID_MAX + 2] ;
  tain total, d ;
  uint64_t bytes = 0 ;
  unsigned long hops = 0 ;
  size_t linelen = 0, linemax = datalinemax > 2 ? datalinemax - 2 : 0 ;
  int st = S_BOL, inheader = 1, hm = 0 ;
  int bare = 0, toolong = 0, toobig = 0 ;
  int nul = 0 ;  /* a NUL byte: refused, a next server might cut there */
  int code ;

  if (isarg(arg)) { err("501 5.5.4 Syntax: DATA\r\n") ; return ; }
  if (!havemail) { err("503 5.5.1 Need MAIL before DATA\r\n") ; goto refusedpipe ; }
  if (!nrcpt) { err("554 5.5.1 No valid recipients\r\n") ; goto refusedpipe ; }
  if (!queue_start())
  {
    out("451 4.3.0 Unable to start the queue program, try again later\r\n") ;
    goto refusedpipe ;
  }
  nmessages++ ;
  {
    size_t n = strlen(sessionid) ;
    memcpy(msgid, sessionid, n) ;
    msgid[n++] = '-' ;
    msgid[n + ulong_fmt(msgid + n, nmessages)] = 0 ;
  }
  out("354 End data with <CR><LF>.<CR><LF>\r\n") ;
  received(msgid) ;
  bytes = qlen ;

  tain_now_g() ;
  tain_addsec_g(&total, timeoutdatatotal) ;
  for (;;)
  {
    char const *s ;
    size_t n, i ;
    int r ;
    tain_now_g() ;
    tain_addsec_g(&d, timeoutdata) ;
    if (tain_less(&total, &d)) d = total ;
    r = io_peek(&s, &n, &d) ;
    if (r <= 0)
    {
      int e = errno ;
      queue_abort() ;
      errno = r ? e : 0 ;
      nrefused++ ;
      die_read() ;
    }
    for (i = 0 ; i < n ; i++)
    {
      char c = s[i] ;
      switch (st)
      {
        case S_BOL :
          linelen = 0 ;
          hm = 0 ;
          if (c == '.') { st = S_DOT ; linelen = 1 ; continue ; }
          break ;
        case S_DOT :
          if (c == '\r') { st = S_DOTCR ; continue ; }
          break ;  /* a stuffed dot: dropped (RFC 5321 4.5.2) */
        case S_DOTCR :
          if (c == '\n') goto end ;
          bare = 1 ;
          if (++linelen > linemax) toolong = 1 ;
          bytes++ ;
          break ;
        case S_CR :
          if (c == '\n')
          {
            bytes++ ;
            if (databytes && bytes > databytes) toobig = 1 ;
            if (!(bare | toolong | toobig)) qput('\n') ;
            if (!linelen) inheader = 0 ;
            st = S_BOL ;
            continue ;
          }
          bare = 1 ;
          if (++linelen > linemax) toolong = 1 ;
          bytes++ ;
          break ;
        default : break ;
      }
      /* S_MID: an ordinary byte of a line. */
      st = S_MID ;
      if (c == '\r') { st = S_CR ; continue ; }
      if (c == '\n') bare = 1 ;
      if (!c) nul = 1 ;
      if (++linelen > linemax) toolong = 1 ;
      if (inheader && hm >= 0)
      {
        char lc = c >= 'A' && c <= 'Z' ? c + 32 : c ;
        if (lc == received_key[hm]) { if (!received_key[++hm]) { hops++ ; hm = -1 ; } }
        else hm = -1 ;
      }
      bytes++ ;
      if (databytes && bytes > databytes) toobig = 1 ;
      /* Once the message is refused, nothing more goes to the queue. */
      if (!(bare | toolong | toobig)) qput(c) ;
    }
    io_skip(n) ;
    continue ;
   end:
    io_skip(i + 1) ;
    break ;
  }

  /* The verdict: the first reason found refuses the message. */
  {
    static char const toolongrep[] = "554 5.6.0 Message refused: a line longer than " ;
    char linetoolong[sizeof toolongrep + ULONG_FMT + 16] ;
    char const *why = 0 ;
    char const *rep = 0 ;
    {
      size_t k = sizeof toolongrep - 1 ;
      memcpy(linetoolong, toolongrep, k) ;
      k += ulong_fmt(linetoolong + k, datalinemax) ;
      memcpy(linetoolong + k, " bytes\r\n", sizeof " bytes\r\n") ;
    }
    if (nul) { why = "NUL byte" ; rep = "554 5.6.0 Message refused: NUL byte in the message (RFC 5321 2.3.8)\r\n" ; }
    else if (bare) { why = "bare CR or LF" ; rep = "554 5.6.0 Message refused: bare CR or LF in the message (RFC 5321 2.3.8)\r\n" ; }
    else if (toolong) { why = "line too long" ; rep = linetoolong ; }
    else if (toobig) { why = "too big" ; rep = "552 5.3.4 Message size exceeds fixed maximum message size\r\n" ; }
    else if (hops > maxhops) { why = "too many hops" ; rep = "554 5.4.6 Too many hops (Received: lines), mail loop?\r\n" ; }
    if (rep)
    {
      queue_abort() ;
      nrefused++ ;
      logstart("refused") ;
      logstr(" msg=") ; logstr(msgid) ;
      logstr(" ip=") ; logstr(remoteip) ;
      logstr(" reason=") ; logstr(why) ;
      logend() ;
      out(rep) ;
      reset() ;
      return ;
    }
  }
  code = queue_finish(id, sizeof id) ;
  if (code < 0)
  {
    nrefused++ ;
    logstart("refused") ;
    logstr(" msg=") ; logstr(msgid) ;
    logstr(" ip=") ; logstr(remoteip) ;
    logstr(" reason=queue program timed out, killed") ;
    logend() ;
    out("451 4.3.0 Queue program timed out, try again later\r\n") ;
    reset() ;
    return ;
  }
  if (code && qsig)
  {
    /* say what happened, not "internal bug" (a filter crashed, the OOM
       killer, an admin's kill): the client tries again later */
    char fmt[UINT_FMT] ;
    nrefused++ ;
    fmt[uint_fmt(fmt, (unsigned int)qsig)] = 0 ;
    logstart("refused") ;
    logstr(" msg=") ; logstr(msgid) ;
    logstr(" ip=") ; logstr(remoteip) ;
    logstr(" reason=queue program killed by signal ") ; logstr(fmt) ;
    logend() ;
    out("451 4.3.0 Queue program killed by signal ") ; out(fmt) ; out(", try again later\r\n") ;
    reset() ;
    return ;
  }
  if (code)
  {
    char fmt[UINT_FMT] ;
    nrefused++ ;
    fmt[uint_fmt(fmt, code)] = 0 ;
    logstart("refused") ;
    logstr(" msg=") ; logstr(msgid) ;
    logstr(" ip=") ; logstr(remoteip) ;
    logstr(" reason=queue exit ") ; logstr(fmt) ; logstr(": ") ; logstr(queue_exit_str(code)) ;
    logend() ;
    if (code >= 11 && code <= 40) out("554 5.3.0 ") ;
    else out("451 4.3.0 ") ;
    out(queue_exit_str(code)) ; out("\r\n") ;
    reset() ;
    return ;
  }
  logstart("accepted") ;
  logstr(" msg=") ; logstr(msgid) ;
  logstr(" qid=") ; logstr(id[0] ? id : "-") ;
  logstr(" ip=") ; logstr(remoteip) ;
  if (localuid[0]) { logstr(" uid=") ; logstr(localuid) ; }
  logstr(" auth=") ; logstr(authed ? authuser : "-") ;
  logstr(" size=") ; lognum(bytes) ;
  logstr(" from=<") ; logbytes(sender.s, sender.len) ; logstr(">") ;
  logstr(" nrcpt=") ; lognum(nrcpt) ;
  {
    size_t i = 0 ;
    while (i < rcpts.len)
    {
      size_t k = strlen(rcpts.s + i) ;
      logstr(" to=<") ; logbytes(rcpts.s + i + 1, k - 1) ; logstr(">") ;
      i += k + 1 ;
    }
  }
  logend() ;
  njunk = 0 ;
  out("250 2.0.0 Ok: queued as ") ;
  out(id[0] ? id : msgid) ; out("\r\n") ;
  reset() ;
  return ;

 refusedpipe:
  /* RFC 2920 3.1: DATA ends a group; a client that sent the message
     without waiting for 354 would have its text read as commands. End. */
  if (io_pending(0))
  {
    out("421 4.5.0 ") ; out(me.s) ; out(" pipelining violation after a refused DATA, closing connection\r\n") ;
    session_end("pipelining") ;
  }
}

/* ---------- AUTH (RFC 4954) through a checkpassword program */

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
  char const *argv[cpwn + 2] ;
  size_t n = 0, slen = strlen(sessionid) ;
  int p[2], wstat, r ;
  pid_t pid ;
  struct sigaction sa, old ;
  if (ulen + plen + slen + me.len + 6 > sizeof buf) return 0 ;
  memcpy(buf, user, ulen) ; n = ulen ; buf[n++] = 0 ;
  memcpy(buf + n, pass, plen) ; n += plen ; buf[n++] = 0 ;
  buf[n++] = '<' ;
  memcpy(buf + n, sessionid, slen) ; n += slen ;
  buf[n++] = '@' ;
  memcpy(buf + n, me.s, me.len) ; n += me.len ;
  buf[n++] = '>' ; buf[n++] = 0 ;
  for (unsigned int i = 0 ; i < cpwn ; i++) argv[i] = cpw[i] ;
  argv[cpwn] = CHECKPASSWORD_NEXT ;
  argv[cpwn + 1] = 0 ;
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
  sa.sa_flags = 0 ;  /* no SA_RESTART: waitpid must be interrupted */
  sigaction(SIGALRM, &sa, &old) ;
  alarmed = 0 ;
  alarm(timeoutsmtpd) ;
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
  if (!n || n >= sizeof authuser) return 0 ;
  for (size_t i = 0 ; i < n ; i++) if ((unsigned char)u[i] < 32 || u[i] == 127) return 0 ;
  return 1 ;
}

static void smtp_auth (char const *arg)
{
  char mech[16] ;
  char const *resp = 0 ;
  char user[SMTPD_CMDMAX], pass[SMTPD_CMDMAX], tmp[SMTPD_CMDMAX] ;
  size_t ulen = 0, plen = 0, n = 0, tlen ;
  int r ;
  if (!authoffer) { err("502 5.5.1 AUTH not available\r\n") ; return ; }
  if (helostate != 2) { err("503 5.5.1 Send EHLO first\r\n") ; return ; }
  if (!tls.active && !authcleartext)
  {
    if (ucspitls_available(&tls)) err("530 5.7.0 Must issue a STARTTLS command first\r\n") ;
    else err("538 5.7.11 Encryption required for requested authentication mechanism\r\n") ;
    return ;
  }
  if (authed) { err("503 5.5.1 Already authenticated\r\n") ; return ; }
  if (havemail) { err("503 5.5.1 AUTH not allowed during a mail transaction\r\n") ; return ; }
  if (!isarg(arg)) { err("501 5.5.4 Syntax: AUTH mechanism [initial-response]\r\n") ; return ; }
  while (arg[n] && arg[n] != ' ') n++ ;
  if (n >= sizeof mech) { err("504 5.5.4 Unrecognized authentication type\r\n") ; return ; }
  memcpy(mech, arg, n) ; mech[n] = 0 ;
  if (arg[n]) resp = arg + n + 1 ;
  if (resp && (!*resp || strchr(resp, ' '))) { err("501 5.5.4 Syntax: AUTH mechanism [initial-response]\r\n") ; return ; }

  if (!strcasecmp(mech, "PLAIN"))
  {
    char const *u, *pw ;
    if (resp) { if (!decodearg(resp, tmp, sizeof tmp, &tlen)) return ; }
    else
    {
      out("334 \r\n") ;
      if (!authread(tmp, sizeof tmp, &tlen)) return ;
    }
    /* authzid \0 authcid \0 password */
    r = sasl_plain_split(tmp, tlen, &u, &ulen, &pw, &plen) ;
    if (!r) { wipe(tmp, sizeof tmp) ; err("501 5.5.2 Bad PLAIN response\r\n") ; return ; }
    if (r < 0)
    {
      wipe(tmp, sizeof tmp) ;
      err("535 5.7.8 Authentication credentials invalid (authorization identity refused)\r\n") ;
      return ;
    }
    memcpy(user, u, ulen) ;
    memcpy(pass, pw, plen) ;
    wipe(tmp, sizeof tmp) ;
  }
  else if (!strcasecmp(mech, "LOGIN"))
  {
    if (resp) { if (!decodearg(resp, user, sizeof user, &ulen)) return ; }
    else
    {
      out("334 VXNlcm5hbWU6\r\n") ;
      if (!authread(user, sizeof user, &ulen)) return ;
    }
    out("334 UGFzc3dvcmQ6\r\n") ;
    if (!authread(pass, sizeof pass, &plen)) return ;
    if (memchr(pass, 0, plen)) { wipe(pass, sizeof pass) ; err("535 5.7.8 Authentication credentials invalid\r\n") ; return ; }
  }
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
  logstr(" ip=") ; logstr(remoteip) ;
  logstr(" mech=") ; logstr(mech[0] == 'p' || mech[0] == 'P' ? "PLAIN" : "LOGIN") ;
  logstr(" user=") ; logbytes(user, ulen) ;
  logstr(r > 0 ? " ok" : r ? " tempfail" : " failed") ;
  logend() ;
  if (r < 0) { out("454 4.7.0 Temporary authentication failure\r\n") ; return ; }
  if (!r)
  {
    /* A password guesser pays control/authfaildelay seconds per try and
       gets control/maxauthfail tries per connection. */
    if (authfaildelay) sleep(authfaildelay > 60 ? 60 : (unsigned int)authfaildelay) ;
    if (++nauthfail >= maxauthfail)
    {
      out("421 4.7.0 ") ; out(me.s) ; out(" too many failed authentications, closing connection\r\n") ;
      session_end("toomanyauthfailures") ;
    }
    err("535 5.7.8 Authentication credentials invalid\r\n") ;
    return ;
  }
  memcpy(authuser, user, ulen) ;
  authuser[ulen] = 0 ;
  /* In a header comment and a reply: printable ASCII without the
     characters that would end or nest the comment. */
  for (size_t i = 0 ; i <= ulen ; i++)
  {
    char c = authuser[i] ;
    authshow[i] = !c ? 0 : (unsigned char)c <= 32 || (unsigned char)c >= 127 || c == '(' || c == ')' || c == '\\' ? '?' : c ;
  }
  authed = 1 ;
  out("235 2.7.0 Authentication successful\r\n") ;
}

/* ---------- the command loop */

typedef struct cmd_s cmd ;
struct cmd_s
{
  char const *name ;
  void (*f) (char const *) ;
} ;

static cmd const commands[] =
{
  { "helo", &smtp_helo },
  { "ehlo", &smtp_ehlo },
  { "mail", &smtp_mail },
  { "rcpt", &smtp_rcpt },
  { "data", &smtp_data },
  { "rset", &smtp_rset },
  { "noop", &smtp_noop },
  { "quit", &smtp_quit },
  { "vrfy", &smtp_vrfy },
  { "help", &smtp_help },
  { "auth", &smtp_auth },
  { "expn", &smtp_notimpl },
  { "turn", &smtp_notimpl },
  { "starttls", &smtp_starttls },
  { 0, 0 }
} ;

static void settings (void)
{
  {
    int r = control_readline(&me, "me", 0, 255) ;  /* required: no silent "localhost" */
    if (r <= 0) { if (!r) errno = ENOENT ; die_control("me") ; }
  }
  if (!me.s[0]) { me.len = 0 ; if (!stralloc_cats(&me, "localhost") || !stralloc_0(&me)) die_nomem() ; }
  me.len = strlen(me.s) ;
  if (control_readline(&greeting, "smtpgreeting", 0, 400) < 0) die_control("smtpgreeting") ;
  if (control_readulong(&databytes, "databytes", databytes) < 0) die_control("databytes") ;
  if (control_readulong(&maxrcpt, "maxrcpt", maxrcpt) < 0) die_control("maxrcpt") ;
  if (control_readulong(&timeoutsmtpd, "timeoutsmtpd", timeoutsmtpd) < 0) die_control("timeoutsmtpd") ;
  if (control_readulong(&timeoutdata, "timeoutdata", timeoutdata) < 0) die_control("timeoutdata") ;
  if (control_readulong(&timeoutdatatotal, "timeoutdatatotal", timeoutdatatotal) < 0) die_control("timeoutdatatotal") ;
  if (control_readulong(&maxbadcmds, "maxbadcmds", maxbadcmds) < 0) die_control("maxbadcmds") ;
  if (control_readulong(&authfaildelay, "authfaildelay", authfaildelay) < 0) die_control("authfaildelay") ;
  if (control_readulong(&greetdelay, "greetdelay", greetdelay) < 0) die_control("greetdelay") ;
  if (control_readulong(&maxauthfail, "maxauthfail", maxauthfail) < 0) die_control("maxauthfail") ;
  if (!maxauthfail) maxauthfail = 1 ;
  if (control_readulong(&maxhops, "maxhops", maxhops) < 0) die_control("maxhops") ;
  if (control_readulong(&datalinemax, "datalinemax", datalinemax) < 0) die_control("datalinemax") ;
  if (control_readulong(&timeoutqueue, "timeoutqueue", timeoutqueue) < 0) die_control("timeoutqueue") ;
  if (control_readulong(&maxjunkcmds, "maxjunkcmds", maxjunkcmds) < 0) die_control("maxjunkcmds") ;
  if (control_readulong(&timeoutsession, "timeoutsession", timeoutsession) < 0) die_control("timeoutsession") ;
  {
    char const *bad = rcpt_init() ;
    if (bad) die_control(bad) ;
  }
  /* Sane bounds, whatever the files say. */
  if (!maxrcpt) maxrcpt = 1 ;
  if (!maxbadcmds) maxbadcmds = 1 ;
  if (timeoutsmtpd < 1) timeoutsmtpd = 1 ;
  if (timeoutsmtpd > 86400) timeoutsmtpd = 86400 ;
  if (timeoutdata < 1) timeoutdata = 1 ;
  if (timeoutdata > 86400) timeoutdata = 86400 ;
  if (timeoutdatatotal < 1) timeoutdatatotal = 1 ;
  if (timeoutdatatotal > 86400) timeoutdatatotal = 86400 ;
  if (datalinemax < 3) datalinemax = 3 ;
  if (timeoutqueue < 1) timeoutqueue = 1 ;
  if (timeoutqueue > 86400) timeoutqueue = 86400 ;
  if (timeoutsession < 1) timeoutsession = 1 ;
  if (timeoutsession > 604800) timeoutsession = 604800 ;
  tain_now_g() ;
  tain_addsec_g(&sessionend, timeoutsession) ;
  io_setwtimeout(timeoutsmtpd) ;
}

static void environment (void)
{
  char const *x = getenv("TCPREMOTEIP") ;
  size_t i ;
  if (x && *x && strlen(x) < sizeof remoteip)
  {
    for (i = 0 ; x[i] ; i++)
      if (!((x[i] >= '0' && x[i] <= '9') || (x[i] >= 'a' && x[i] <= 'f') || (x[i] >= 'A' && x[i] <= 'F') || x[i] == '.' || x[i] == ':')) break ;
    if (!x[i]) memcpy(remoteip, x, i + 1) ;
  }
  x = getenv("TCPREMOTEPORT") ;
  if (x && *x && strlen(x) < sizeof remoteport)
  {
    for (i = 0 ; x[i] ; i++) if (x[i] < '0' || x[i] > '9') break ;
    if (!x[i]) memcpy(remoteport, x, i + 1) ;
  }
  /* sendmail -bs: a local client on a pipe, not a TCP one (doc/sendmail.md) */
  x = getenv("POSTIE_LOCALUID") ;
  if (x && *x && !getenv("TCPREMOTEIP") && strlen(x) < sizeof localuid)
  {
    for (i = 0 ; x[i] ; i++) if (x[i] < '0' || x[i] > '9') break ;
    if (!x[i])
    {
      memcpy(localuid, x, i + 1) ;
      memcpy(remoteip, "local", 6) ;
    }
  }
  relayclient = !!getenv("RELAYCLIENT") ;
  x = getenv("SMTPAUTH") ;
  authrequired = x && !strcmp(x, "required") ;
  /* SENDERLOGIN: "match" ties MAIL FROM to the login's own addresses,
     "any" does not; unset, it is on where AUTH is required (submission)
     and off elsewhere (port 25). */
  {
    char const *s = getenv("SENDERLOGIN") ;
    senderlogin = s ? !strcmp(s, "match") : authrequired ;
    if (s && strcmp(s, "match") && strcmp(s, "any"))
    {
      strerr_warnw("SENDERLOGIN=", s, " is neither match nor any: using match") ;
      senderlogin = 1 ;
    }
  }
  authoffer = cpwn && !(x && !strcmp(x, "no")) ;
  authcleartext = !!getenv("AUTHCLEARTEXT") ;
  ucspitls_init(&tls) ;
}

int main (int argc, char const *const *argv)
{
  char line[SMTPD_CMDMAX] ;
  PROG = "postie-smtpd" ;
  if (argc > 1) { cpw = argv + 1 ; cpwn = argc - 1 ; }

  {
    struct timespec ts ;
    size_t n = 0 ;
    clock_gettime(CLOCK_REALTIME, &ts) ;
    sessionid[n++] = 'S' ;
    n += uint64_fmt(sessionid + n, (uint64_t)ts.tv_sec) ;
    sessionid[n++] = '.' ;
    n += uint0_fmt(sessionid + n, (unsigned int)(ts.tv_nsec / 1000), 6) ;
    sessionid[n++] = '.' ;
    n += uint64_fmt(sessionid + n, (uint64_t)getpid()) ;
    sessionid[n] = 0 ;
  }
  sig_ignore(SIGPIPE) ;
  tain_now_set_stopwatch_g() ;
  if (ndelay_on(0) < 0 || ndelay_on(1) < 0) strerr_diefu1sys(111, "set fds 0 and 1 non-blocking") ;
  io_setfds(0, 1) ;
  environment() ;
  if (!stralloc_cats(&me, "localhost") || !stralloc_0(&me)) die_nomem() ;
  if (chdir(postie_home()) < 0)
  {
    strerr_warnwu2sys("chdir to ", postie_home()) ;
    out("421 4.3.0 unable to find the configuration, try again later\r\n") ;
    session_end("config") ;
  }
  settings() ;
  if (authrequired && !cpwn) strerr_warnw1x("SMTPAUTH=required but no checkpassword program: nobody can send") ;
  if (authrequired && cpwn && tls.ctl < 0 && !tls.active && !authcleartext)
    strerr_warnw1x("SMTPAUTH=required but no TLS (SSLCTLFD) and no AUTHCLEARTEXT: nobody can send") ;

  /* A client that talks before the greeting is not an SMTP client. With
     control/greetdelay (milliseconds), wait that long for one to show
     itself; with 0, only input already there counts. A local client
     (sendmail -bs) may write its whole dialogue at once. */
  if (!localuid[0] && io_pending(greetdelay))
  {
    char const *s ;
    size_t n ;
    tain d ;
    int r ;
    tain_now_g() ;
    tain_addsec_g(&d, 1) ;  /* input is there: the read does not wait */
    r = io_peek(&s, &n, &d) ;
    if (r <= 0)
    {
      /* closed (a port probe) or reset before the greeting: nothing was
         said, and nobody is there to be answered */
      if (!r) errno = 0 ;
      die_read() ;
    }
    out("554 5.5.0 ") ; out(me.s) ; out(" SMTP protocol violation: talked before the greeting\r\n") ;
    session_end("pregreet") ;
  }
  out("220 ") ;
  if (greeting.s && greeting.s[0]) out(greeting.s) ;
  else { out(me.s) ; out(" ESMTP postie") ; }
  out("\r\n") ;

  for (;;)
  {
    size_t len, i ;
    int toolong, r ;
    tain d ;
    cmd const *c ;
    char *arg ;
    deadline_cmd(&d) ;
    if (!tain_less(&STAMP, &sessionend)) die_sessiontoolong() ;
    r = io_getline(line, sizeof line - 2, &len, &toolong, &d) ;
    if (r < 0 && errno == ETIMEDOUT)
    {
      tain_now_g() ;
      if (!tain_less(&STAMP, &sessionend)) die_sessiontoolong() ;
    }
    if (r <= 0) { if (!r) errno = 0 ; die_read() ; }
    if (toolong == 2) die_linetoolong() ;
    if (toolong) { err("500 5.5.2 Line too long\r\n") ; continue ; }
    for (i = 0 ; i < len ; i++) if ((unsigned char)line[i] < 32 || line[i] == 127) break ;
    if (i < len) { err("500 5.5.2 Syntax error: control character (bare CR, LF, NUL...) in the command\r\n") ; continue ; }
    for (i = 0 ; i < len && line[i] != ' ' ; i++) ;
    arg = line + i ;
    if (*arg) *arg++ = 0 ;
    for (c = commands ; c->name ; c++) if (!strcasecmp(c->name, line)) break ;
    if (!c->name) { err("500 5.5.1 Unrecognized command\r\n") ; continue ; }
    (*c->f)(arg) ;
  }
}
