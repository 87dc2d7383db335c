/* postie-smtpd's DATA (RFC 5321 4.1.1.4): the message is read through a
   state machine that knows one end of data only, CRLF "." CRLF, and one
   line end only, CRLF (a bare CR or LF refuses the message: the SMTP
   smuggling that other servers' looser rules let through); the verdict;
   the queue program's answer. */

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <skalibs/stralloc.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>
#include "postie.h"
#include "queue.h"
#include "rfc5322.h"
#include "smtpd.h"

/* RFC 3848 and RFC 6531: S for TLS, A for AUTH. */
static char const *protocol (void)
{
  if (transaction.smtputf8) return session.tls.active ? session.authed ? "UTF8SMTPSA" : "UTF8SMTPS" : session.authed ? "UTF8SMTPA" : "UTF8SMTP" ;
  if (session.helostate == 2) return session.tls.active ? session.authed ? "ESMTPSA" : "ESMTPS" : session.authed ? "ESMTPA" : "ESMTP" ;
  return session.authed ? "SMTPA" : "SMTP" ;
}

static void received (char const *msgid)
{
  char date[64] ;
  rfc5322_date_fmt(date, time(0)) ;
  qputs("Received: from ") ; qputs(safehelo()) ;
  qputs(" (") ;
  if (session.localuid[0]) { qputs("invoked by uid ") ; qputs(session.localuid) ; }
  else if (strchr(session.remoteip, ':')) { qputs("[IPv6:") ; qputs(session.remoteip) ; qputs("]") ; }
  else if (strcmp(session.remoteip, "unknown")) { qputs("[") ; qputs(session.remoteip) ; qputs("]") ; }
  else qputs("unknown") ;
  qputs(")") ;
  if (session.tls.active)
  {
    qputs("\n\t(using ") ; qputs(session.tls.protocol) ;
    if (session.tls.cipher[0]) { qputs(" with cipher ") ; qputs(session.tls.cipher) ; }
    qputs(")") ;
  }
  qputs("\n\t") ;
  if (session.authed) { qputs("(authenticated as ") ; qputs(session.authshow) ; qputs(")\n\t") ; }
  qputs("by ") ; qputs(settings.me.s) ;
  qputs(" (postie-smtpd) with ") ; qputs(protocol()) ;
  qputs(" id ") ; qputs(msgid) ;
  if (transaction.nrcpt == 1)
  {
    /* A path, as RFC 5321 4.4 wants it: the local part is stored unquoted,
       so one that needs quotes gets them again, and cannot close the
       clause to forge trace text ("v>; by ...") in our own header. */
    static stralloc path = STRALLOC_ZERO ;
    char *at = strrchr(transaction.rcpts.s + 1, '@') ;
    path.len = 0 ;
    if (at) *at = 0 ;
    if (!rfc5322_cat_addr(&path, transaction.rcpts.s + 1, at ? at + 1 : "") || !stralloc_0(&path)) die_nomem() ;
    if (at) *at = '@' ;
    qputs("\n\tfor <") ; qputs(path.s) ; qputs(">") ;
  }
  qputs(";\n\t") ; qputs(date) ; qputs("\n") ;
}

/* Where the state machine is in a line of the message. */
enum data_state
{
  DATA_BOL,    /* at the start of a line (the first line counts as one) */
  DATA_MID,    /* inside a line */
  DATA_CR,     /* after a CR */
  DATA_DOT,    /* after a dot at the start of a line */
  DATA_DOTCR   /* after a dot and a CR at the start of a line */
} ;

/* What DATA has found so far in the message it reads. */
struct data_scan
{
  enum data_state state ;
  int inheader ;
  int received_matched ;  /* bytes of "received:" this header line began with; -1 when it is not one */
  size_t linelen ;
  size_t linemax ;        /* control/datalinemax without the CRLF */
  uint64_t bytes ;
  unsigned long hops ;    /* Received: lines in the header */
  int bare ;              /* a bare CR or LF */
  int toolong ;
  int toobig ;
  int nul ;               /* a NUL byte: refused, a next server might cut there */
} ;

/* The state machine, over the n bytes at s: what goes to the queue
   program, and what the message holds. Returns how many bytes it took:
   all n, or fewer when the end of data was among them (*end is set). */
static size_t data_feed (struct data_scan *saved, char const *s, size_t n, int *end)
{
  static char const received_key[] = "received:" ;
  /* The loop works on copies the compiler may keep in registers: a
     store into the queue program's buffer (char) could alias anything
     reached through a pointer, and this loop runs once per byte. */
  struct data_scan scan = *saved ;
  unsigned long const databytes = settings.databytes ;
  size_t taken = n ;
  *end = 0 ;
  for (size_t i = 0 ; i < n ; i++)
  {
    char c = s[i] ;
    switch (scan.state)
    {
      case DATA_BOL :
        scan.linelen = 0 ;
        scan.received_matched = 0 ;
        if (c == '.') { scan.state = DATA_DOT ; scan.linelen = 1 ; continue ; }
        break ;
      case DATA_DOT :
        if (c == '\r') { scan.state = DATA_DOTCR ; continue ; }
        break ;  /* a stuffed dot: dropped (RFC 5321 4.5.2) */
      case DATA_DOTCR :
        if (c == '\n') { *end = 1 ; taken = i + 1 ; goto done ; }  /* the end of data */
        scan.bare = 1 ;
        if (++scan.linelen > scan.linemax) scan.toolong = 1 ;
        scan.bytes++ ;
        break ;
      case DATA_CR :
        if (c == '\n')
        {
          scan.bytes++ ;
          if (databytes && scan.bytes > databytes) scan.toobig = 1 ;
          if (!(scan.bare | scan.toolong | scan.toobig)) qput('\n') ;
          if (!scan.linelen) scan.inheader = 0 ;
          scan.state = DATA_BOL ;
          continue ;
        }
        scan.bare = 1 ;
        if (++scan.linelen > scan.linemax) scan.toolong = 1 ;
        scan.bytes++ ;
        break ;
      default : break ;
    }
    /* DATA_MID: an ordinary byte of a line. */
    scan.state = DATA_MID ;
    if (c == '\r') { scan.state = DATA_CR ; continue ; }
    if (c == '\n') scan.bare = 1 ;
    if (!c) scan.nul = 1 ;
    if (++scan.linelen > scan.linemax) scan.toolong = 1 ;
    if (scan.inheader && scan.received_matched >= 0)
    {
      /* one byte at a time, inline: the per-byte loop of DATA (not case_lowerb) */
      char lc = c >= 'A' && c <= 'Z' ? c + 32 : c ;
      if (lc == received_key[scan.received_matched])
      {
        if (!received_key[++scan.received_matched]) { scan.hops++ ; scan.received_matched = -1 ; }
      }
      else scan.received_matched = -1 ;
    }
    scan.bytes++ ;
    if (databytes && scan.bytes > databytes) scan.toobig = 1 ;
    /* Once the message is refused, nothing more goes to the queue. */
    if (!(scan.bare | scan.toolong | scan.toobig)) qput(c) ;
  }
 done:
  *saved = scan ;
  return taken ;
}

/* Reads the message to its end, within control/timeoutdata per read and
   control/timeoutdatatotal in all; a read that fails ends the session
   (nothing is queued). */
static void data_receive (struct data_scan *scan)
{
  tain total, d ;
  int end = 0 ;
  tain_now_g() ;
  tain_addsec_g(&total, settings.timeoutdatatotal) ;
  while (!end)
  {
    char const *s ;
    size_t n ;
    int r ;
    tain_now_g() ;
    tain_addsec_g(&d, settings.timeoutdata) ;
    if (tain_less(&total, &d)) d = total ;
    r = io_peek(&s, &n, &d) ;
    if (r <= 0)
    {
      int e = errno ;
      queue_abort() ;
      errno = r ? e : 0 ;
      session.nrefused++ ;
      die_read() ;
    }
    io_skip(data_feed(scan, s, n, &end)) ;
  }
}

/* The verdict on a message read whole: the first reason found refuses
   it. Returns the reply (0 to accept) and the log's reason in *why. */
static char const *data_verdict (struct data_scan const *scan, char const **why)
{
  static char const toolongrep[] = "554 5.6.0 Message refused: a line longer than " ;
  static char linetoolong[sizeof toolongrep + ULONG_FMT + 16] ;
  if (scan->nul) { *why = "NUL byte" ; return "554 5.6.0 Message refused: NUL byte in the message (RFC 5321 2.3.8)\r\n" ; }
  if (scan->bare) { *why = "bare CR or LF" ; return "554 5.6.0 Message refused: bare CR or LF in the message (RFC 5321 2.3.8)\r\n" ; }
  if (scan->toolong)
  {
    size_t k = sizeof toolongrep - 1 ;
    memcpy(linetoolong, toolongrep, k) ;
    k += ulong_fmt(linetoolong + k, settings.datalinemax) ;
    memcpy(linetoolong + k, " bytes\r\n", sizeof " bytes\r\n") ;
    *why = "line too long" ;
    return linetoolong ;
  }
  if (scan->toobig) { *why = "too big" ; return "552 5.3.4 Message size exceeds fixed maximum message size\r\n" ; }
  if (scan->hops > settings.maxhops) { *why = "too many hops" ; return "554 5.4.6 Too many hops (Received: lines), mail loop?\r\n" ; }
  return 0 ;
}

/* A message not queued: one log line. Its reason: why, then a number
   (an exit code, a signal) and its meaning, when there are. */
static void log_refused (char const *msgid, char const *why, char const *number, char const *meaning)
{
  session.nrefused++ ;
  logstart("refused") ;
  logstr(" msg=") ; logstr(msgid) ;
  logstr(" ip=") ; logstr(session.remoteip) ;
  logstr(" reason=") ; logstr(why) ;
  if (number) logstr(number) ;
  if (meaning) { logstr(": ") ; logstr(meaning) ; }
  logend() ;
}

static void log_accepted (char const *msgid, char const *id, uint64_t bytes)
{
  logstart("accepted") ;
  logstr(" msg=") ; logstr(msgid) ;
  logstr(" qid=") ; logstr(id[0] ? id : "-") ;
  logstr(" ip=") ; logstr(session.remoteip) ;
  if (session.localuid[0]) { logstr(" uid=") ; logstr(session.localuid) ; }
  logstr(" auth=") ; logstr(session.authed ? session.authuser : "-") ;
  logstr(" size=") ; lognum(bytes) ;
  logstr(" from=<") ; logbytes(transaction.sender.s, transaction.sender.len) ; logstr(">") ;
  logstr(" nrcpt=") ; lognum(transaction.nrcpt) ;
  for (size_t i = 0 ; i < transaction.rcpts.len ; )
  {
    size_t k = strlen(transaction.rcpts.s + i) ;
    logstr(" to=<") ; logbytes(transaction.rcpts.s + i + 1, k - 1) ; logstr(">") ;
    i += k + 1 ;
  }
  logend() ;
}

/* The queue program's answer to a whole message: the reply and log line
   for each exit (doc/postie-queue.md). */
static void data_queued (char const *msgid, uint64_t bytes)
{
  char id[QUEUE_ID_MAX + 2] ;
  char fmt[UINT_FMT] ;
  int code = queue_finish(id, sizeof id) ;
  if (code < 0)
  {
    log_refused(msgid, "queue program timed out, killed", 0, 0) ;
    out("451 4.3.0 Queue program timed out, try again later\r\n") ;
    return ;
  }
  if (code && qsig)
  {
    /* say what happened, not "internal bug" (a filter crashed, the OOM
       killer, an admin's kill): the client tries again later */
    fmt[uint_fmt(fmt, (unsigned int)qsig)] = 0 ;
    log_refused(msgid, "queue program killed by signal ", fmt, 0) ;
    out("451 4.3.0 Queue program killed by signal ") ; out(fmt) ; out(", try again later\r\n") ;
    return ;
  }
  if (code)
  {
    fmt[uint_fmt(fmt, code)] = 0 ;
    log_refused(msgid, "queue exit ", fmt, queue_exit_str(code)) ;
    if (queue_exit_permanent(code)) out("554 5.3.0 ") ;
    else out("451 4.3.0 ") ;
    out(queue_exit_str(code)) ; out("\r\n") ;
    return ;
  }
  log_accepted(msgid, id, bytes) ;
  session.njunk = 0 ;
  out("250 2.0.0 Ok: queued as ") ;
  out(id[0] ? id : msgid) ; out("\r\n") ;
}

void smtp_data (char const *arg)
{
  char msgid[96] ;
  struct data_scan scan = { .state = DATA_BOL, .inheader = 1 } ;
  char const *why = 0 ;
  char const *reply ;

  if (isarg(arg)) { err("501 5.5.4 Syntax: DATA\r\n") ; return ; }
  if (!transaction.havemail) { err("503 5.5.1 Need MAIL before DATA\r\n") ; goto refusedpipe ; }
  if (!transaction.nrcpt) { err("554 5.5.1 No valid recipients\r\n") ; goto refusedpipe ; }
  if (!queue_start())
  {
    out("451 4.3.0 Unable to start the queue program, try again later\r\n") ;
    goto refusedpipe ;
  }
  session.nmessages++ ;
  {
    size_t n = strlen(session.id) ;
    memcpy(msgid, session.id, n) ;
    msgid[n++] = '-' ;
    msgid[n + ulong_fmt(msgid + n, session.nmessages)] = 0 ;
  }
  out("354 End data with <CR><LF>.<CR><LF>\r\n") ;
  received(msgid) ;
  scan.bytes = qlen ;
  scan.linemax = settings.datalinemax > 2 ? settings.datalinemax - 2 : 0 ;
  data_receive(&scan) ;
  reply = data_verdict(&scan, &why) ;
  if (reply)
  {
    queue_abort() ;
    log_refused(msgid, why, 0, 0) ;
    out(reply) ;
  }
  else data_queued(msgid, scan.bytes) ;
  reset() ;
  return ;

 refusedpipe:
  /* RFC 2920 3.1: DATA ends a group; a client that sent the message
     without waiting for 354 would have its text read as commands. End. */
  if (io_pending(0))
  {
    out("421 4.5.0 ") ; out(settings.me.s) ; out(" pipelining violation after a refused DATA, closing connection\r\n") ;
    session_end("pipelining") ;
  }
}
