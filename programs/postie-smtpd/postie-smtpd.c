/* postie-smtpd: an SMTP server (RFC 5321) on fd 0 (input) and fd 1
   (output), run by a UCSPI-TCP server (postie-tcpserver, s6-tcpserver,
   tcpserver). Each accepted message goes to the queue program
   (POSTIE_QUEUE, default postie-queue) with one Received: line in front.

   Everything the network can make this program do is in this folder:
   this file holds the session, its limits, the simple commands, the
   queue program and the command loop; smtpd_envelope.c MAIL and RCPT;
   smtpd_data.c the DATA state machine; smtpd_auth.c AUTH (smtpd.h says
   what they share). Every reply and setting is listed in
   doc/postie-smtpd.md. */

#include <errno.h>
#include <signal.h>
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
#include "queue.h"
#include "postie_queue.h"
#include "timedio.h"
#include "smtpd.h"
#include "ucspitls.h"

#define USAGE "postie-smtpd [ checkpassword-program [ args... ] ]"

/* ---------- the state (smtpd.h): settings, session, transaction */

struct smtpd_settings settings =
{
  .me = STRALLOC_ZERO,
  .greeting = STRALLOC_ZERO,
  .databytes = 26214400,
  .maxrcpt = 100,
  .timeoutsmtpd = 300,
  .timeoutdata = 180,
  .timeoutdatatotal = 3600,
  .maxbadcmds = 20,
  .maxhops = 100,
  .datalinemax = 1048576,
  .authfaildelay = 2,
  .greetdelay = 0,
  .maxauthfail = 3,
  .timeoutqueue = 300,
  .maxjunkcmds = 100,
  .timeoutsession = 3600,
  .checkpassword = 0,
  .ncheckpassword = 0
} ;

struct smtpd_session session = { .remoteip = "unknown" } ;

struct smtpd_transaction transaction = { .sender = STRALLOC_ZERO, .rcpts = STRALLOC_ZERO } ;

void reset (void)
{
  transaction.havemail = 0 ;
  transaction.smtputf8 = 0 ;
  transaction.sender.len = 0 ;
  transaction.rcpts.len = 0 ;
  transaction.nrcpt = 0 ;
}

/* ---------- logging: one line per event on stderr */

static stralloc logsa = STRALLOC_ZERO ;

void logbytes (char const *s, size_t n)
{
  size_t i ;
  for (i = 0 ; i < n ; i++)
  {
    char c = (unsigned char)s[i] < 32 || s[i] == 127 ? '?' : s[i] ;
    if (!stralloc_catb(&logsa, &c, 1)) return ;
  }
}

void logstr (char const *s)
{
  logbytes(s, strlen(s)) ;
}

void lognum (unsigned long u)
{
  char fmt[ULONG_FMT] ;
  logbytes(fmt, ulong_fmt(fmt, u)) ;
}

void logstart (char const *what)
{
  logsa.len = 0 ;
  logstr("postie-smtpd: ") ;
  logstr(session.id) ;
  logstr(" ") ;
  logstr(what) ;
}

void logend (void)
{
  if (stralloc_catb(&logsa, "\n", 1)) allwrite(2, logsa.s, logsa.len) ;
  logsa.len = 0 ;
}

/* ---------- replies and the end of a session */

void out (char const *s)
{
  io_puts(s) ;
}

void session_end (char const *why)
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
  logstr(" ip=") ; logstr(session.remoteip) ;
  logstr(" port=") ; logstr(session.remoteport) ;
  if (session.localuid[0]) { logstr(" uid=") ; logstr(session.localuid) ; }
  logstr(" helo=") ; logstr(session.helostate ? session.helo : "-") ;
  logstr(" auth=") ; logstr(session.authed ? session.authuser : "-") ;
  logstr(" tls=") ; logstr(session.tls.active ? session.tls.protocol : "-") ;
  if (session.tls.active && session.tls.cipher[0]) { logstr(":") ; logstr(session.tls.cipher) ; }
  logstr(" messages=") ; lognum(session.nmessages) ;
  logstr(" refused=") ; lognum(session.nrefused) ;
  logstr(" bad=") ; lognum(session.nbad) ;
  logstr(" end=") ; logstr(why) ;
  logend() ;
  _exit(0) ;
}

static void die_timeout (void) gccattr_noreturn ;
static void die_timeout (void)
{
  out("421 4.4.2 ") ; out(settings.me.s) ; out(" timeout, closing connection\r\n") ;
  session_end("timeout") ;
}

void die_nomem (void)
{
  out("421 4.3.0 out of memory, closing connection\r\n") ;
  session_end("nomem") ;
}

void die_read (void)
{
  if (errno == ETIMEDOUT) die_timeout() ;
  session_end(!errno ? "eof" : errno == ECONNRESET ? "reset" : "readerror") ;
}

/* A line still without its end SMTPD_DISCARDMAX bytes past the limit:
   not an SMTP client, or one that will never send a line we can take.
   It is told so at once, rather than read until the timeout. */
void die_linetoolong (void)
{
  out("500 5.5.2 Line too long\r\n") ;
  out("421 4.7.0 ") ; out(settings.me.s) ; out(" line without end, closing connection\r\n") ;
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
void err (char const *s)
{
  out(s) ;
  if (++session.nbad >= settings.maxbadcmds)
  {
    out("421 4.7.0 ") ; out(settings.me.s) ; out(" too many errors, closing connection\r\n") ;
    session_end("toomanyerrors") ;
  }
}

/* The wait for a command line: control/timeoutsmtpd, and never past the
   end of the session (control/timeoutsession). */
void deadline_cmd (tain *d)
{
  tain_now_g() ;
  tain_addsec_g(d, settings.timeoutsmtpd) ;
  if (tain_less(&session.end, d)) *d = session.end ;
}

static void die_sessiontoolong (void) gccattr_noreturn ;
static void die_sessiontoolong (void)
{
  out("421 4.4.2 ") ; out(settings.me.s) ; out(" session too long, closing connection\r\n") ;
  session_end("sessiontoolong") ;
}

/* A command that moves no mail (NOOP, RSET, VRFY, HELP, HELO or EHLO
   again, RCPT over control/maxrcpt): counted, the count cleared by an
   accepted message, and after control/maxjunkcmds of them the session
   ends, so that a client cannot keep a connection slot with them. */
void junk (void)
{
  if (++session.njunk > settings.maxjunkcmds)
  {
    out("421 4.7.0 ") ; out(settings.me.s) ; out(" too many commands, closing connection\r\n") ;
    session_end("toomanycommands") ;
  }
}

/* ---------- helpers */

int isarg (char const *arg)
{
  return arg && *arg ;
}

/* The argument after a keyword like "FROM:", spaces allowed after the
   colon (not RFC, but common). Returns the rest or 0. */
char const *afterkey (char const *arg, char const *key)
{
  size_t n = strlen(key) ;
  if (!arg || strncasecmp(arg, key, n)) return 0 ;
  arg += n ;
  while (*arg == ' ') arg++ ;
  return arg ;
}

char const *safehelo (void)
{
  static char h[256] ;
  size_t i ;
  for (i = 0 ; session.helo[i] && i < sizeof h - 1 ; i++)
  {
    char c = session.helo[i] ;
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
  memcpy(session.helo, arg, n) ;
  session.helo[n] = 0 ;
}

static int heloarg (char const *arg)
{
  size_t n = 0 ;
  if (!isarg(arg) || *arg == ' ') return 0 ;
  while (arg[n] && arg[n] != ' ') n++ ;
  return n < sizeof session.helo ;
}

static void smtp_helo (char const *arg)
{
  if (session.helostate) junk() ;
  if (!heloarg(arg)) { err("501 5.5.4 Syntax: HELO hostname\r\n") ; return ; }
  sethelo(arg) ;
  session.helostate = 1 ;
  reset() ;
  out("250 ") ; out(settings.me.s) ; out("\r\n") ;
}

static void smtp_ehlo (char const *arg)
{
  char fmt[ULONG_FMT] ;
  if (session.helostate) junk() ;
  if (!heloarg(arg)) { err("501 5.5.4 Syntax: EHLO hostname\r\n") ; return ; }
  sethelo(arg) ;
  session.helostate = 2 ;
  reset() ;
  out("250-") ; out(settings.me.s) ; out("\r\n") ;
  out("250-PIPELINING\r\n") ;
  out("250-8BITMIME\r\n") ;
  if (settings.databytes)
  {
    fmt[ulong_fmt(fmt, settings.databytes)] = 0 ;
    out("250-SIZE ") ; out(fmt) ; out("\r\n") ;
  }
  else out("250-SIZE\r\n") ;
  out("250-ENHANCEDSTATUSCODES\r\n") ;
  if (ucspitls_available(&session.tls)) out("250-STARTTLS\r\n") ;
  if (session.authoffer && (session.tls.active || session.authcleartext)) out("250-AUTH PLAIN LOGIN\r\n") ;
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
  out("221 2.0.0 ") ; out(settings.me.s) ; out(" closing connection\r\n") ;
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
  if (session.tls.active) { err("503 5.5.1 TLS already active\r\n") ; return ; }
  if (!ucspitls_available(&session.tls)) { out("454 4.7.0 TLS not available due to temporary reason\r\n") ; return ; }
  out("220 2.0.0 Ready to start TLS\r\n") ;
  deadline_cmd(&d) ;
  if (!io_flush(&d)) die_read() ;
  io_discard() ;
  r = ucspitls_start(&session.tls, &d) ;
  if (r < 0) strerr_warnwu("start TLS") ;
  if (r <= 0) session_end("tlsfailed") ;
  io_setfds(session.tls.rfd, session.tls.wfd) ;
  session.helostate = 0 ;
  session.helo[0] = 0 ;
  session.authed = 0 ;
  session.authuser[0] = 0 ;
  reset() ;
}

static void smtp_notimpl (char const *arg)
{
  (void)arg ;
  err("502 5.5.1 Command not implemented\r\n") ;
}

/* ---------- the queue program */

static pid_t qpid = 0 ;
static int qmfd = -1, qefd = -1, qifd = -1 ;
char qbuf[65536] POSTIE_LARGE ;
size_t qlen = 0 ;
static int qdead = 0 ;
static int qtimedout = 0 ;  /* a write to it passed its deadline */
int qsig = 0 ;       /* the signal that killed it, 0 if none */
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
  tain_addsec_g(d, settings.timeoutqueue) ;
}

/* Writes n bytes to a pipe of the queue program; 1 ok, 0 it is gone or
   the deadline passed (qtimedout set). */
static int qwrite (int fd, char const *s, size_t n, tain const *deadline)
{
  if (timedio_writeall(fd, s, n, deadline)) return 1 ;
  if (errno == ETIMEDOUT) qtimedout = 1 ;
  return 0 ;
}

/* In its own process group (queue_kill ends a filter's children too),
   with an id pipe; our own postie-queue, next to this binary, unless
   POSTIE_QUEUE names another: never the caller's PATH (sendmail -bs
   runs us with it). */
int queue_start (void)
{
  postie_queue q ;
  char const *prog = getenv("POSTIE_QUEUE") ;
  unsigned int flags = POSTIE_QUEUE_PGROUP | POSTIE_QUEUE_ID ;
  if (!prog || !*prog) { prog = "postie-queue" ; flags |= POSTIE_QUEUE_SIBLING ; }
  if (!postie_queue_start(&q, prog, flags))
  {
    strerr_warnwu2sys("spawn ", prog) ;
    qpid = 0 ;
    return 0 ;
  }
  qpid = q.pid ; qmfd = q.msgfd ; qefd = q.envfd ; qifd = q.idfd ;
  qlen = 0 ;
  qdead = 0 ;
  qtimedout = 0 ;
  if (ndelay_on(qmfd) < 0 || ndelay_on(qefd) < 0) qdead = 1 ;  /* not queued: 451 */
  return 1 ;
}

void qflush (tain const *deadline)
{
  tain d ;
  if (!deadline) { qdeadline(&d) ; deadline = &d ; }
  if (!qdead && qlen && !qwrite(qmfd, qbuf, qlen, deadline)) qdead = 1 ;
  qlen = 0 ;
}

void qputs (char const *s)
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
void queue_abort (void)
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
int queue_finish (char *id, size_t idmax)
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
     || !stralloc_catb(&qenv, transaction.sender.s, transaction.sender.len + 1)
     || !stralloc_catb(&qenv, transaction.rcpts.s, transaction.rcpts.len)
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

static void read_settings (void)
{
  {
    int r = control_readline(&settings.me, "me", 0, 255) ;  /* required: no silent "localhost" */
    if (r <= 0) { if (!r) errno = ENOENT ; die_control("me") ; }
  }
  if (!settings.me.s[0]) { settings.me.len = 0 ; if (!stralloc_cats(&settings.me, "localhost") || !stralloc_0(&settings.me)) die_nomem() ; }
  settings.me.len = strlen(settings.me.s) ;
  if (control_readline(&settings.greeting, "smtpgreeting", 0, 400) < 0) die_control("smtpgreeting") ;
  if (control_readulong(&settings.databytes, "databytes", settings.databytes) < 0) die_control("databytes") ;
  if (control_readulong(&settings.maxrcpt, "maxrcpt", settings.maxrcpt) < 0) die_control("maxrcpt") ;
  if (control_readulong(&settings.timeoutsmtpd, "timeoutsmtpd", settings.timeoutsmtpd) < 0) die_control("timeoutsmtpd") ;
  if (control_readulong(&settings.timeoutdata, "timeoutdata", settings.timeoutdata) < 0) die_control("timeoutdata") ;
  if (control_readulong(&settings.timeoutdatatotal, "timeoutdatatotal", settings.timeoutdatatotal) < 0) die_control("timeoutdatatotal") ;
  if (control_readulong(&settings.maxbadcmds, "maxbadcmds", settings.maxbadcmds) < 0) die_control("maxbadcmds") ;
  if (control_readulong(&settings.authfaildelay, "authfaildelay", settings.authfaildelay) < 0) die_control("authfaildelay") ;
  if (control_readulong(&settings.greetdelay, "greetdelay", settings.greetdelay) < 0) die_control("greetdelay") ;
  if (control_readulong(&settings.maxauthfail, "maxauthfail", settings.maxauthfail) < 0) die_control("maxauthfail") ;
  if (!settings.maxauthfail) settings.maxauthfail = 1 ;
  if (control_readulong(&settings.maxhops, "maxhops", settings.maxhops) < 0) die_control("maxhops") ;
  if (control_readulong(&settings.datalinemax, "datalinemax", settings.datalinemax) < 0) die_control("datalinemax") ;
  if (control_readulong(&settings.timeoutqueue, "timeoutqueue", settings.timeoutqueue) < 0) die_control("timeoutqueue") ;
  if (control_readulong(&settings.maxjunkcmds, "maxjunkcmds", settings.maxjunkcmds) < 0) die_control("maxjunkcmds") ;
  if (control_readulong(&settings.timeoutsession, "timeoutsession", settings.timeoutsession) < 0) die_control("timeoutsession") ;
  {
    char const *bad = rcpt_init() ;
    if (bad) die_control(bad) ;
  }
  /* Sane bounds, whatever the files say. */
  if (!settings.maxrcpt) settings.maxrcpt = 1 ;
  if (!settings.maxbadcmds) settings.maxbadcmds = 1 ;
  if (settings.timeoutsmtpd < 1) settings.timeoutsmtpd = 1 ;
  if (settings.timeoutsmtpd > 86400) settings.timeoutsmtpd = 86400 ;
  if (settings.timeoutdata < 1) settings.timeoutdata = 1 ;
  if (settings.timeoutdata > 86400) settings.timeoutdata = 86400 ;
  if (settings.timeoutdatatotal < 1) settings.timeoutdatatotal = 1 ;
  if (settings.timeoutdatatotal > 86400) settings.timeoutdatatotal = 86400 ;
  if (settings.datalinemax < 3) settings.datalinemax = 3 ;
  if (settings.timeoutqueue < 1) settings.timeoutqueue = 1 ;
  if (settings.timeoutqueue > 86400) settings.timeoutqueue = 86400 ;
  if (settings.timeoutsession < 1) settings.timeoutsession = 1 ;
  if (settings.timeoutsession > 604800) settings.timeoutsession = 604800 ;
  tain_now_g() ;
  tain_addsec_g(&session.end, settings.timeoutsession) ;
  io_setwtimeout(settings.timeoutsmtpd) ;
}

static void environment (void)
{
  char const *x = getenv("TCPREMOTEIP") ;
  size_t i ;
  if (x && *x && strlen(x) < sizeof session.remoteip)
  {
    for (i = 0 ; x[i] ; i++)
      if (!((x[i] >= '0' && x[i] <= '9') || (x[i] >= 'a' && x[i] <= 'f') || (x[i] >= 'A' && x[i] <= 'F') || x[i] == '.' || x[i] == ':')) break ;
    if (!x[i]) memcpy(session.remoteip, x, i + 1) ;
  }
  x = getenv("TCPREMOTEPORT") ;
  if (x && *x && strlen(x) < sizeof session.remoteport)
  {
    for (i = 0 ; x[i] ; i++) if (x[i] < '0' || x[i] > '9') break ;
    if (!x[i]) memcpy(session.remoteport, x, i + 1) ;
  }
  /* sendmail -bs: a local client on a pipe, not a TCP one (doc/sendmail.md) */
  x = getenv("POSTIE_LOCALUID") ;
  if (x && *x && !getenv("TCPREMOTEIP") && strlen(x) < sizeof session.localuid)
  {
    for (i = 0 ; x[i] ; i++) if (x[i] < '0' || x[i] > '9') break ;
    if (!x[i])
    {
      memcpy(session.localuid, x, i + 1) ;
      memcpy(session.remoteip, "local", 6) ;
    }
  }
  session.relayclient = !!getenv("RELAYCLIENT") ;
  x = getenv("SMTPAUTH") ;
  session.authrequired = x && !strcmp(x, "required") ;
  /* SENDERLOGIN: "match" ties MAIL FROM to the login's own addresses,
     "any" does not; unset, it is on where AUTH is required (submission)
     and off elsewhere (port 25). */
  {
    char const *s = getenv("SENDERLOGIN") ;
    session.senderlogin = s ? !strcmp(s, "match") : session.authrequired ;
    if (s && strcmp(s, "match") && strcmp(s, "any"))
    {
      strerr_warnw("SENDERLOGIN=", s, " is neither match nor any: using match") ;
      session.senderlogin = 1 ;
    }
  }
  session.authoffer = settings.ncheckpassword && !(x && !strcmp(x, "no")) ;
  session.authcleartext = !!getenv("AUTHCLEARTEXT") ;
  ucspitls_init(&session.tls) ;
}

/* The session's id in log lines and message ids: S, the time to the
   microsecond, the pid. */
static void make_session_id (void)
{
  struct timespec ts ;
  size_t n = 0 ;
  clock_gettime(CLOCK_REALTIME, &ts) ;
  session.id[n++] = 'S' ;
  n += uint64_fmt(session.id + n, (uint64_t)ts.tv_sec) ;
  session.id[n++] = '.' ;
  n += uint0_fmt(session.id + n, (unsigned int)(ts.tv_nsec / 1000), 6) ;
  session.id[n++] = '.' ;
  n += uint64_fmt(session.id + n, (uint64_t)getpid()) ;
  session.id[n] = 0 ;
}

/* A client that talks before the greeting is not an SMTP client. With
   control/greetdelay (milliseconds), wait that long for one to show
   itself; with 0, only input already there counts. A local client
   (sendmail -bs) may write its whole dialogue at once. */
static void pregreet_check (void)
{
  if (!session.localuid[0] && io_pending(settings.greetdelay))
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
    out("554 5.5.0 ") ; out(settings.me.s) ; out(" SMTP protocol violation: talked before the greeting\r\n") ;
    session_end("pregreet") ;
  }
}

int main (int argc, char const *const *argv)
{
  char line[SMTPD_CMDMAX] ;
  PROG = "postie-smtpd" ;
  if (argc > 1) { settings.checkpassword = argv + 1 ; settings.ncheckpassword = argc - 1 ; }

  make_session_id() ;
  sig_ignore(SIGPIPE) ;
  tain_now_set_stopwatch_g() ;
  if (ndelay_on(0) < 0 || ndelay_on(1) < 0) strerr_diefu1sys(111, "set fds 0 and 1 non-blocking") ;
  io_setfds(0, 1) ;
  environment() ;
  if (!stralloc_cats(&settings.me, "localhost") || !stralloc_0(&settings.me)) die_nomem() ;
  if (chdir(postie_home()) < 0)
  {
    strerr_warnwu2sys("chdir to ", postie_home()) ;
    out("421 4.3.0 unable to find the configuration, try again later\r\n") ;
    session_end("config") ;
  }
  /* One listing of control/ answers for every setting whose file is not
     there (most are not: they have documented defaults), instead of an
     open() each per connection. When it fails, each file is opened. */
  (void)control_list() ;
  read_settings() ;
  if (session.authrequired && !settings.ncheckpassword) strerr_warnw1x("SMTPAUTH=required but no checkpassword program: nobody can send") ;
  if (session.authrequired && settings.ncheckpassword && session.tls.ctl < 0 && !session.tls.active && !session.authcleartext)
    strerr_warnw1x("SMTPAUTH=required but no TLS (SSLCTLFD) and no AUTHCLEARTEXT: nobody can send") ;

  pregreet_check() ;
  out("220 ") ;
  if (settings.greeting.s && settings.greeting.s[0]) out(settings.greeting.s) ;
  else { out(settings.me.s) ; out(" ESMTP postie") ; }
  out("\r\n") ;

  for (;;)
  {
    size_t len, i ;
    int toolong, r ;
    tain d ;
    cmd const *c ;
    char *arg ;
    deadline_cmd(&d) ;
    if (!tain_less(&STAMP, &session.end)) die_sessiontoolong() ;
    r = io_getline(line, sizeof line - 2, &len, &toolong, &d) ;
    if (r < 0 && errno == ETIMEDOUT)
    {
      tain_now_g() ;
      if (!tain_less(&STAMP, &session.end)) die_sessiontoolong() ;
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

