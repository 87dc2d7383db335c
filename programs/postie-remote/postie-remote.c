/* postie-remote: deliver one message (fd 0) to the recipients of one
   domain over SMTP, and say what happened to each, one line per recipient
   and one for the message, on stdout. The contract: doc/postie-remote.md
   and doc/remote-results.md. */

#define _GNU_SOURCE  /* EAI_NODATA, EAI_ADDRFAMILY */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <resolv.h>
#include <skalibs/gccattributes.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/bytestr.h>
#include <skalibs/djbunix.h>
#include <skalibs/error.h>
#include <skalibs/iopause.h>
#include <skalibs/ip46.h>
#include <skalibs/socket.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>
#include "postie.h"
#include "rfc5322.h"
#include "dns_mx.h"
#include "smtproutes.h"
#include "base64.h"
#include "starttls.h"

#define USAGE "postie-remote domain sender recipient..."

#define TIMEOUTCONNECT_DEFAULT 60
#define TIMEOUTREMOTE_DEFAULT 1200
#define REPLYLINEMAX_DEFAULT 2048   /* bytes in one reply line */
#define REPLYLINES_DEFAULT 200      /* lines in one reply */
#define PIPELINE_BATCH 100          /* commands sent before reading replies */
#define MX_MAX 64                   /* MX records used */
#define TARGET_MAX 64               /* addresses tried */
#define ADDR_PER_HOST 16            /* addresses used per host name */
#define ADDRESS_MAX 1000            /* as in the queue */
#define TEXT_MAX 998                /* result text: line + letter + LF <= 1000 */
#define SMTPROUTES_MAX (1 << 20)
#define SMTPAUTH_MAX 65536
#define CABUNDLE "/etc/ssl/certs/ca-certificates.crt"   /* the system's CA bundle (Debian's ca-certificates) */

/* ---- results ---- */

static char const *sender ;
static char const *const *rcpt ;
static unsigned int nrcpt ;
static char *rstat ;          /* per recipient: 0 (not decided), 'K', 'D', 'Z' (or 'U' for all, at the end) */
static stralloc *rtext ;      /* per recipient: its text */
static stralloc mtext = STRALLOC_ZERO ;
static stralloc outbuf = STRALLOC_ZERO ;

static void die_nomem (void) gccattr_noreturn ;
static void die_nomem (void)
{
  strerr_diefu1sys(111, "allocate") ;
}

static void cat (stralloc *sa, char const *s)
{
  if (!stralloc_cats(sa, s)) die_nomem() ;
}

static void catb (stralloc *sa, char const *s, size_t n)
{
  if (!stralloc_catb(sa, s, n)) die_nomem() ;
}

static void catu (stralloc *sa, uint64_t u)
{
  char fmt[UINT64_FMT] ;
  catb(sa, fmt, uint64_fmt(fmt, u)) ;
}

static void copy (stralloc *to, stralloc const *from)
{
  if (!stralloc_copyb(to, from->s, from->len)) die_nomem() ;
}

/* One result line: the letter, the text with every line break of a
   multi-line reply as " / " and every other control character as '?',
   at most TEXT_MAX bytes, LF. */
static void outline (char letter, stralloc const *text)
{
  size_t start, i ;
  catb(&outbuf, &letter, 1) ;
  start = outbuf.len ;
  for (i = 0 ; i < text->len && outbuf.len - start < TEXT_MAX ; i++)
  {
    unsigned char c = text->s[i] ;
    if (c == '\n') cat(&outbuf, " / ") ;
    else if (c < 32 || c == 127) catb(&outbuf, "?", 1) ;
    else catb(&outbuf, (char *)&c, 1) ;
  }
  if (outbuf.len - start > TEXT_MAX) outbuf.len = start + TEXT_MAX ;
  catb(&outbuf, "\n", 1) ;
}

static void session_quit (void) ;

/* The end: print every line and exit. When the message line is D or Z,
   every recipient takes it (the caller would do so anyway; writing it
   keeps the lines self-explanatory). */
static void finish (char code) gccattr_noreturn ;
static void finish (char code)
{
  unsigned int i ;
  session_quit() ;
  for (i = 0 ; i < nrcpt ; i++)
  {
    if (code == 'K' && rstat[i]) outline(rstat[i], &rtext[i]) ;
    else outline(code == 'K' ? 'Z' : code, code == 'K' ? &rtext[i] : &mtext) ;
  }
  outline(code, &mtext) ;
  if (allwrite(1, outbuf.s, outbuf.len) < outbuf.len) strerr_diefu1sys(111, "write results to stdout") ;
  _exit(0) ;
}

/* finish with a message line made of up to three pieces */
static void fail (char code, char const *a, char const *b, char const *c) gccattr_noreturn ;
static void fail (char code, char const *a, char const *b, char const *c)
{
  mtext.len = 0 ;
  cat(&mtext, a) ;
  if (b) cat(&mtext, b) ;
  if (c) cat(&mtext, c) ;
  finish(code) ;
}

static char codeletter (int code)
{
  return code >= 200 && code < 300 ? 'K' : code >= 500 && code < 600 ? 'D' : 'Z' ;
}

/* ---- settings ---- */

static unsigned long timeoutconnect = TIMEOUTCONNECT_DEFAULT ;
static unsigned long timeoutremote = TIMEOUTREMOTE_DEFAULT ;
static unsigned long replylinemax = REPLYLINEMAX_DEFAULT ;
static unsigned long replylines = REPLYLINES_DEFAULT ;
static stralloc helohost = STRALLOC_ZERO ;
static ip46 outip4, outip6 ;
static int hasout4 = 0, hasout6 = 0 ;
/* The route's TLS and AUTH settings (doc/postie-remote.md, "TLS"). */
static unsigned int tlslevel = SMTPROUTE_TLS_MAY ;
static stralloc cafile = STRALLOC_ZERO ;     /* with tls=verify */
static stralloc authuser = STRALLOC_ZERO ;   /* with auth=: the credentials */
static stralloc authpass = STRALLOC_ZERO ;
static int hasauth = 0 ;

static void badcontrol (char const *name) gccattr_noreturn ;
static void badcontrol (char const *name)
{
  fail('Z', "unable to read control/", name, errno == EINVAL ? ": not a number" : errno == ERANGE ? ": line too long or out of range" : ": read error") ;
}

static void readulong (unsigned long *u, char const *name, unsigned long def, unsigned long min, unsigned long max)
{
  if (control_readulong(u, name, def) < 0) badcontrol(name) ;
  if (*u < min || *u > max) { errno = ERANGE ; badcontrol(name) ; }
}

static void readip (char const *name, ip46 *ip, int *has, int want6)
{
  stralloc sa = STRALLOC_ZERO ;
  int r = control_readline(&sa, name, 0, 100) ;
  if (r < 0) badcontrol(name) ;
  if (r && sa.len > 1)
  {
    size_t n = want6 ? ip6_scan(sa.s, ip->ip) : ip4_scan(sa.s, ip->ip) ;
    if (n != sa.len - 1) fail('Z', "control/", name, ": not an IP address") ;
    ip->is6 = !!want6 ;
    *has = 1 ;
  }
  stralloc_free(&sa) ;
}

static void settings (void)
{
  readulong(&timeoutconnect, "timeoutconnect", TIMEOUTCONNECT_DEFAULT, 1, 86400) ;
  readulong(&timeoutremote, "timeoutremote", TIMEOUTREMOTE_DEFAULT, 1, 86400) ;
  readulong(&replylinemax, "remotereplylinemax", REPLYLINEMAX_DEFAULT, 512, 1 << 20) ;
  readulong(&replylines, "remotereplylines", REPLYLINES_DEFAULT, 1, 100000) ;
  if (control_readline(&helohost, "helohost", 0, 255) < 0) badcontrol("helohost") ;
  if (helohost.len <= 1)
  {
    /* control/me is required when there is no control/helohost: a
       made-up "localhost" gets mail refused by the next server. */
    int r = control_readline(&helohost, "me", 0, 255) ;
    if (!r) fail('Z', "unable to read control/me: ", "no such file (and no control/helohost)", 0) ;
    if (r < 0) badcontrol("me") ;
  }
  if (helohost.len <= 1) { helohost.len = 0 ; cat(&helohost, "localhost") ; if (!stralloc_0(&helohost)) die_nomem() ; }
  for (size_t i = 0 ; i + 1 < helohost.len ; i++)
    if ((unsigned char)helohost.s[i] <= 32 || helohost.s[i] == 127) fail('Z', "control/helohost or control/me: ", "control characters or spaces in the host name", 0) ;
  readip("outgoingip", &outip4, &hasout4, 0) ;
  readip("outgoingip6", &outip6, &hasout6, 1) ;
}

/* ---- the message ---- */

static char const *why = "" ;   /* why the last I/O failed */
static off_t msgstart ;
static uint64_t wiresize ;
static int msg8bit = 0 ;
static int msgnul = 0 ;  /* a NUL byte: never sent (doc/postie-remote.md) */

/* The message as it goes on the wire: every line ends in CRLF (a bare LF,
   and a bare CR, end a line), a line that starts with '.' gets one more,
   the last line is ended if it was not, then ".\r\n". With send == 0 it
   only counts: wiresize is the size RFC 1870 speaks of, CRLF line ends
   counted, the added dots and the final ".\r\n" not. */
static char obuf[65536] ;
static size_t olen = 0 ;
static int oput (char const *s, size_t n) ;

static int body_walk (int send)
{
  char buf[65536] ;
  int atbol = 1, cr = 0 ;
  uint64_t size = 0 ;
  if (lseek(0, msgstart, SEEK_SET) < 0) { why = "unable to read the message" ; return 0 ; }
  for (;;)
  {
    ssize_t r = fd_read(0, buf, sizeof buf) ;
    ssize_t i ;
    if (r < 0) { why = "unable to read the message" ; return 0 ; }
    if (!r) break ;
    for (i = 0 ; i < r ; i++)
    {
      char c = buf[i] ;
      if (cr)
      {
        cr = 0 ;
        size += 2 ;
        if (send && !oput("\r\n", 2)) return 0 ;
        atbol = 1 ;
        if (c == '\n') continue ;
      }
      if (c == '\r') { cr = 1 ; continue ; }
      if (c == '\n')
      {
        size += 2 ;
        if (send && !oput("\r\n", 2)) return 0 ;
        atbol = 1 ;
        continue ;
      }
      /* the dot added here is not part of the size (RFC 1870 3) */
      if (atbol && c == '.' && send && !oput(".", 1)) return 0 ;
      if ((unsigned char)c >= 128) msg8bit = 1 ;
      if (!c) msgnul = 1 ;
      size++ ;
      if (send && !oput(&c, 1)) return 0 ;
      atbol = 0 ;
    }
  }
  if (cr || !atbol)
  {
    size += 2 ;
    if (send && !oput("\r\n", 2)) return 0 ;
  }
  if (send && !oput(".\r\n", 3)) return 0 ;
  wiresize = size ;
  return 1 ;
}

/* ---- the connection ---- */

/* One input and one output descriptor, so that a TLS tunnel (UCSPI-TLS)
   can take their place later; the input buffer can be discarded then. */
static int rfd = -1, wfd = -1 ;
static tlsc tls = TLSC_ZERO ;             /* postie-tlsc, once STARTTLS is done */
static stralloc tlsnote = STRALLOC_ZERO ;  /* the session's TLS, for the message line */
static char ibuf[8192] ;
static size_t ilen = 0, ipos = 0 ;
static stralloc label = STRALLOC_ZERO ;   /* "name [ip]:port" of the current host */
static stralloc reply = STRALLOC_ZERO ;   /* the last reply, lines separated by LF */

static int oflush (void)
{
  tain deadline ;
  size_t done = 0 ;
  tain_now_g() ;
  tain_addsec_g(&deadline, timeoutremote) ;
  while (done < olen)
  {
    ssize_t w = write(wfd, obuf + done, olen - done) ;
    if (w > 0) { done += w ; continue ; }
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
    {
      why = errno == EPIPE || errno == ECONNRESET ? "connection closed by the server" : strerror(errno) ;
      return 0 ;
    }
    {
      iopause_fd x = { .fd = wfd, .events = IOPAUSE_WRITE } ;
      int r = iopause_g(&x, 1, &deadline) ;
      if (r < 0) { why = strerror(errno) ; return 0 ; }
      if (!r) { why = "timed out writing to the server" ; return 0 ; }
    }
  }
  olen = 0 ;
  return 1 ;
}

static int oput (char const *s, size_t n)
{
  while (n)
  {
    size_t k = sizeof obuf - olen ;
    if (!k) { if (!oflush()) return 0 ; continue ; }
    if (k > n) k = n ;
    memcpy(obuf + olen, s, k) ;
    olen += k ; s += k ; n -= k ;
  }
  return 1 ;
}

static int oputs (char const *s)
{
  return oput(s, strlen(s)) ;
}

/* one byte from the server before deadline: 1, or 0 with why set */
static int iget (char *c, tain const *deadline)
{
  while (ipos == ilen)
  {
    ssize_t r = read(rfd, ibuf, sizeof ibuf) ;
    if (r > 0) { ilen = r ; ipos = 0 ; break ; }
    if (!r) { why = "connection closed by the server" ; return 0 ; }
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) { why = strerror(errno) ; return 0 ; }
    {
      iopause_fd x = { .fd = rfd, .events = IOPAUSE_READ } ;
      int k = iopause_g(&x, 1, deadline) ;
      if (k < 0) { why = strerror(errno) ; return 0 ; }
      if (!k) { why = "timed out waiting for the server's reply" ; return 0 ; }
    }
  }
  *c = ibuf[ipos++] ;
  return 1 ;
}

/* One reply (RFC 5321 4.2): lines "ddd-text", the last "ddd text" or
   "ddd". Every line has the same code, the first digit 2 to 5. A line ends
   with LF (CR before it dropped); it may be at most replylinemax bytes, a
   reply at most replylines lines. Returns the code, or 0 with why set
   (timeout, closed, too long, malformed). Output is flushed first. */
static int getreply (void)
{
  tain deadline ;
  unsigned long nlines = 0 ;
  int code = 0 ;
  if (!oflush()) return 0 ;
  reply.len = 0 ;
  tain_now_g() ;
  tain_addsec_g(&deadline, timeoutremote) ;
  for (;;)
  {
    size_t start = reply.len, n ;
    int c3, last ;
    char c ;
    if (++nlines > replylines) { why = "reply has too many lines" ; return 0 ; }
    if (start) catb(&reply, "\n", 1), start++ ;
    for (;;)
    {
      if (!iget(&c, &deadline)) return 0 ;
      if (c == '\n') break ;
      if (reply.len - start >= replylinemax) { why = "reply line too long" ; return 0 ; }
      catb(&reply, &c, 1) ;
    }
    if (reply.len > start && reply.s[reply.len - 1] == '\r') reply.len-- ;
    n = reply.len - start ;
    {
      char const *l = reply.s + start ;
      if (n < 3 || l[0] < '2' || l[0] > '5' || l[1] < '0' || l[1] > '9' || l[2] < '0' || l[2] > '9'
       || (n > 3 && l[3] != ' ' && l[3] != '-'))
      { why = "malformed reply" ; return 0 ; }
      c3 = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0') ;
      last = n == 3 || l[3] == ' ' ;
    }
    if (code && c3 != code) { why = "malformed reply (the code changes between lines)" ; return 0 ; }
    code = c3 ;
    if (last) return code ;
  }
}

static void close_conn (void)
{
  if (tls.pid) tlsc_end(&tls) ;  /* its pipes are rfd and wfd */
  else
  {
    if (rfd >= 0) fd_close(rfd) ;
    if (wfd >= 0 && wfd != rfd) fd_close(wfd) ;
  }
  rfd = wfd = -1 ;
  ilen = ipos = olen = 0 ;
}

/* Polite end: QUIT, without waiting for its reply (as qmail-remote). */
static void session_quit (void)
{
  if (wfd < 0) return ;
  olen = 0 ;
  if (oputs("QUIT\r\n")) { ssize_t w = write(wfd, obuf, olen) ; (void)w ; }
  olen = 0 ;
  close_conn() ;
}

/* text = the host label, then s, then the reply when withreply */
static void said (stralloc *sa, char const *s, int withreply)
{
  sa->len = 0 ;
  catb(sa, label.s, label.len) ;
  cat(sa, s) ;
  if (withreply) catb(sa, reply.s, reply.len) ;
}

/* The same for the message line of a session, which also names its TLS:
   "HOST [IP] accepted the message (TLSv1.2 SUITE): reply". */
static void saidmsg (stralloc *sa, char const *s)
{
  sa->len = 0 ;
  catb(sa, label.s, label.len) ;
  cat(sa, s) ;
  cat(sa, " (") ;
  catb(sa, tlsnote.s, tlsnote.len) ;
  cat(sa, "): ") ;
  catb(sa, reply.s, reply.len) ;
}

/* An envelope address as an SMTP path. The queue holds local parts
   unquoted (doc/envelope.md), so one that is not a dot-atom ("john doe",
   "a@b") is quoted again here. */
static void catpath (stralloc *sa, char const *a)
{
  char const *at = strrchr(a, '@') ;
  stralloc local = STRALLOC_ZERO ;
  if (!*a) return ;
  if (!at) { if (!rfc5322_cat_addr(sa, a, "")) die_nomem() ; return ; }
  if (!stralloc_catb(&local, a, at - a) || !stralloc_0(&local)
   || !rfc5322_cat_addr(sa, local.s, at + 1)) die_nomem() ;
  stralloc_free(&local) ;
}

/* ---- one SMTP session ---- */

static int ext_pipelining, ext_8bitmime, ext_smtputf8, ext_size ;
static int ext_starttls, ext_authplain, ext_authlogin ;
static uint64_t ext_sizemax ;
static stralloc lasterr = STRALLOC_ZERO ;
static int addr8bit = 0 ;

static void ehlo_keywords (void)
{
  size_t i = 0 ;
  ext_pipelining = ext_8bitmime = ext_smtputf8 = ext_size = 0 ;
  ext_starttls = ext_authplain = ext_authlogin = 0 ;
  ext_sizemax = 0 ;
  while (i < reply.len && reply.s[i] != '\n') i++ ;
  while (i < reply.len)
  {
    size_t s = i + 1, e = s, k ;
    while (e < reply.len && reply.s[e] != '\n') e++ ;
    i = e ;
    if (e - s < 4) continue ;
    s += 4 ;
    k = s ;
    while (k < e && reply.s[k] != ' ') k++ ;
    if (k - s == 10 && !case_diffb(reply.s + s, 10, "PIPELINING")) ext_pipelining = 1 ;
    else if (k - s == 8 && !case_diffb(reply.s + s, 8, "8BITMIME")) ext_8bitmime = 1 ;
    else if (k - s == 8 && !case_diffb(reply.s + s, 8, "SMTPUTF8")) ext_smtputf8 = 1 ;
    else if (k - s == 8 && !case_diffb(reply.s + s, 8, "STARTTLS")) ext_starttls = 1 ;
    else if ((k - s == 4 && !case_diffb(reply.s + s, 4, "AUTH")) || (k - s > 5 && !case_diffb(reply.s + s, 5, "AUTH=")))
    {
      /* "AUTH PLAIN LOGIN", or the old "AUTH=PLAIN LOGIN" */
      size_t w = s + 5 ;
      while (w < e)
      {
        size_t x = w ;
        while (x < e && reply.s[x] != ' ') x++ ;
        if (x - w == 5 && !case_diffb(reply.s + w, 5, "PLAIN")) ext_authplain = 1 ;
        else if (x - w == 5 && !case_diffb(reply.s + w, 5, "LOGIN")) ext_authlogin = 1 ;
        w = x + 1 ;
      }
    }
    else if (k - s == 4 && !case_diffb(reply.s + s, 4, "SIZE"))
    {
      ext_size = 1 ;
      if (k < e)
      {
        char num[21] ;
        size_t m = e - k - 1 ;
        uint64_t v ;
        if (m && m < sizeof num)
        {
          memcpy(num, reply.s + k + 1, m) ; num[m] = 0 ;
          if (uint64_scan(num, &v) == m) ext_sizemax = v ;
        }
      }
    }
  }
}

/* MAIL, RCPT..., DATA, the message; never returns. */
static void transaction (void) gccattr_noreturn ;
static void transaction (void)
{
  unsigned int *cmd ;   /* nrcpt = MAIL, i < nrcpt = RCPT i, nrcpt + 1 = DATA */
  unsigned int n = 0, sent = 0, got = 0, naccepted = 0 ;
  int mailcode = 0 ;
  stralloc mailtext = STRALLOC_ZERO ;
  stralloc c = STRALLOC_ZERO ;

  cmd = (unsigned int *)malloc((nrcpt + 2) * sizeof *cmd) ;
  if (!cmd) die_nomem() ;
  cmd[n++] = nrcpt ;
  for (unsigned int i = 0 ; i < nrcpt ; i++) if (!rstat[i]) cmd[n++] = i ;
  cmd[n++] = nrcpt + 1 ;

  while (got < n)
  {
    int code ;
    unsigned int which ;
    /* with pipelining, after each batch: a refused MAIL ends it */
    if (sent == got && mailcode && mailcode / 100 != 2) break ;
    if (sent == got)
    {
      unsigned int batch = ext_pipelining ? PIPELINE_BATCH : 1 ;
      for (unsigned int k = 0 ; k < batch && sent < n ; k++, sent++)
      {
        which = cmd[sent] ;
        c.len = 0 ;
        if (which == nrcpt)
        {
          cat(&c, "MAIL FROM:<") ; catpath(&c, sender) ; cat(&c, ">") ;
          if (ext_size) { cat(&c, " SIZE=") ; catu(&c, wiresize) ; }
          if (msg8bit && ext_8bitmime) cat(&c, " BODY=8BITMIME") ;
          if (addr8bit) cat(&c, " SMTPUTF8") ;
        }
        else if (which < nrcpt) { cat(&c, "RCPT TO:<") ; catpath(&c, rcpt[which]) ; cat(&c, ">") ; }
        else
        {
          /* without pipelining, DATA only when someone is waiting for it */
          if (!ext_pipelining && !naccepted) break ;
          cat(&c, "DATA") ;
        }
        cat(&c, "\r\n") ;
        if (!oput(c.s, c.len)) fail('Z', label.s, ": ", why) ;
      }
      if (sent == got) break ;  /* nothing more worth sending */
    }
    code = getreply() ;
    if (!code) fail('Z', label.s, ": ", why) ;
    which = cmd[got++] ;
    if (which == nrcpt)
    {
      mailcode = code ;
      saidmsg(&mailtext, " said after MAIL") ;
      if (code / 100 != 2 && !ext_pipelining) { copy(&mtext, &mailtext) ; finish(codeletter(code)) ; }
    }
    else if (which < nrcpt)
    {
      if (mailcode / 100 != 2) continue ;
      rstat[which] = code / 100 == 2 ? 'K' : codeletter(code) ;
      said(&rtext[which], " said after RCPT: ", 1) ;
      if (code / 100 == 2) naccepted++ ;
    }
    else
    {
      /* the reply to DATA */
      if (mailcode / 100 != 2 || !naccepted)
      {
        /* pipelined DATA nobody wants: end it empty if the server took it */
        if (code == 354) { if (oputs(".\r\n")) getreply() ; }
        break ;
      }
      if (code != 354)
      {
        saidmsg(&mtext, " said after DATA") ;
        finish(code / 100 == 2 ? 'Z' : codeletter(code)) ;
      }
      if (!body_walk(1)) fail('Z', label.s, ": ", why) ;
      code = getreply() ;
      if (!code) fail('Z', label.s, ": no reply after the message: ", why) ;
      if (code / 100 == 2) saidmsg(&mtext, " accepted the message") ;
      else saidmsg(&mtext, " said after the message") ;
      finish(codeletter(code)) ;
    }
  }
  if (mailcode / 100 != 2) { copy(&mtext, &mailtext) ; finish(codeletter(mailcode)) ; }
  /* no recipient accepted: each recipient line stands as it is */
  mtext.len = 0 ;
  catb(&mtext, label.s, label.len) ;
  cat(&mtext, " accepted no recipient: the message was not sent (") ;
  catb(&mtext, tlsnote.s, tlsnote.len) ;
  cat(&mtext, ")") ;
  finish('K') ;
}

/* EHLO, or HELO when EHLO is refused (then no extension). Returns 1,
   0 when the connection failed (why set), -1 when HELO was refused. */
static int hello (void)
{
  int code ;
  if (!oputs("EHLO ") || !oputs(helohost.s) || !oputs("\r\n")) return 0 ;
  code = getreply() ;
  if (!code) return 0 ;
  if (code / 100 == 2) { ehlo_keywords() ; return 1 ; }
  ext_pipelining = ext_8bitmime = ext_smtputf8 = ext_size = 0 ;
  ext_starttls = ext_authplain = ext_authlogin = 0 ;
  if (!oputs("HELO ") || !oputs(helohost.s) || !oputs("\r\n")) return 0 ;
  code = getreply() ;
  if (!code) return 0 ;
  return code / 100 == 2 ? 1 : -1 ;
}

static char const *levelname (void)
{
  return tlslevel == SMTPROUTE_TLS_VERIFY ? "tls=verify" : hasauth ? "auth=" : "tls=encrypt" ;
}

/* STARTTLS (RFC 3207), then postie-tlsc on the connection. Returns 1
   when TLS is on (the EHLO answer is forgotten: the caller says EHLO
   again), 0 when the server refused STARTTLS (the connection goes on in
   clear text), -1 when the handshake failed or the connection was lost
   (lasterr set, the connection closed). */
static int starttls (char const *name)
{
  tain deadline ;
  stralloc whytls = STRALLOC_ZERO ;
  unsigned long ms = timeoutremote * 1000 ;
  int code, r, fd = rfd ;
  if (!oputs("STARTTLS\r\n")) goto lost ;
  code = getreply() ;
  if (!code) goto lost ;
  if (code != 220) return 0 ;
  /* Anything the server sent behind its 220 came before TLS: it never
     counts as said inside the session (the command injection class). */
  ilen = ipos = 0 ;
  tain_now_g() ;
  tain_addsec_g(&deadline, timeoutremote) ;
  rfd = wfd = -1 ;
  r = tlsc_start(&tls, fd, name, tlslevel == SMTPROUTE_TLS_VERIFY ? cafile.s : 0, ms > 3600000 ? 3600000 : ms, &deadline, &whytls) ;
  if (r < 0) { said(&lasterr, ": unable to run postie-tlsc: ", 0) ; cat(&lasterr, strerror(errno)) ; return -1 ; }
  if (!r)
  {
    said(&lasterr, ": TLS handshake failed: ", 0) ;
    catb(&lasterr, whytls.s, whytls.len) ;
    /* in case the route lets the same address go on in clear text */
    tlsnote.len = 0 ;
    cat(&tlsnote, "no TLS: the TLS handshake failed: ") ;
    catb(&tlsnote, whytls.s, whytls.len) ;
    stralloc_free(&whytls) ;
    return -1 ;
  }
  rfd = tls.rfd ;
  wfd = tls.wfd ;
  tlsnote.len = 0 ;
  catb(&tlsnote, tls.info.s, tls.info.len) ;
  if (tlslevel == SMTPROUTE_TLS_VERIFY) cat(&tlsnote, ", certificate verified") ;
  return 1 ;
 lost:
  said(&lasterr, ": ", 0) ;
  cat(&lasterr, why) ;
  close_conn() ;
  return -1 ;
}

/* AUTH PLAIN or LOGIN (RFC 4954, 4616) with the route's credentials;
   only ever inside TLS. Returns 1 when accepted, 0 when refused
   (lasterr set), -1 when the connection was lost. */
static int authenticate (void)
{
  stralloc c = STRALLOC_ZERO ;
  char *b ;
  int code ;
  if (!tls.pid) return 0 ;  /* never in clear: the callers make sure; this too */
  b = malloc(4 * ((authuser.len + authpass.len + 4) / 3) + 4) ;
  if (!b) die_nomem() ;
  if (ext_authplain)
  {
    stralloc p = STRALLOC_ZERO ;
    catb(&p, "", 1) ; catb(&p, authuser.s, authuser.len) ;
    catb(&p, "", 1) ; catb(&p, authpass.s, authpass.len) ;
    cat(&c, "AUTH PLAIN ") ;
    catb(&c, b, base64_encode(p.s, p.len, b)) ;
    cat(&c, "\r\n") ;
    byte_zzero(p.s, p.len) ; stralloc_free(&p) ;
    if (!oput(c.s, c.len)) goto lost ;
    code = getreply() ;  /* flushes first */
    byte_zzero(obuf, sizeof obuf) ;
    if (!code) goto lost ;
  }
  else
  {
    /* the user, then the password, each after a 334 */
    stralloc const *answer[2] = { &authuser, &authpass } ;
    if (!oputs("AUTH LOGIN\r\n")) goto lost ;
    code = getreply() ;
    if (!code) goto lost ;
    for (unsigned int k = 0 ; k < 2 && code == 334 ; k++)
    {
      c.len = 0 ;
      catb(&c, b, base64_encode(answer[k]->s, answer[k]->len, b)) ;
      cat(&c, "\r\n") ;
      if (!oput(c.s, c.len)) goto lost ;
      code = getreply() ;  /* flushes first */
      byte_zzero(obuf, sizeof obuf) ;
      if (!code) goto lost ;
    }
  }
  byte_zzero(c.s, c.len) ; stralloc_free(&c) ; free(b) ;
  if (code / 100 == 2) return 1 ;
  said(&lasterr, " said after AUTH: ", 1) ;
  return 0 ;
 lost:
  if (c.s) byte_zzero(c.s, c.len) ;
  stralloc_free(&c) ; free(b) ;
  return -1 ;
}

/* Connect, greeting, EHLO/HELO, STARTTLS, AUTH. Returns 0 (lasterr set)
   when this host is no good and the next one should be tried, -1 when
   the TLS handshake failed where the route lets clear text do (the
   caller tries the same address again with notls); goes on to the
   transaction otherwise and never returns. */
static int session (ip46 const *ip, uint16_t port, char const *name, int notls)
{
  char fmt[IP46_FMT] ;
  tain deadline ;
  int fd, code, r ;

  label.len = 0 ;
  if (name && *name) { cat(&label, name) ; cat(&label, " ") ; }
  cat(&label, "[") ;
  catb(&label, fmt, ip46_fmt(fmt, ip)) ;
  cat(&label, "]") ;
  if (port != 25) { cat(&label, ":") ; catu(&label, port) ; }
  if (!stralloc_0(&label)) die_nomem() ;
  label.len-- ;
  if (!notls) { tlsnote.len = 0 ; cat(&tlsnote, "no TLS") ; }

  fd = socket_tcp46_nbcoe(ip46_is6(ip)) ;
  if (fd < 0) { said(&lasterr, ": unable to create a socket: ", 0) ; cat(&lasterr, strerror(errno)) ; return 0 ; }
  if (ip46_is6(ip) ? hasout6 : hasout4)
  {
    if (socket_bind46(fd, ip46_is6(ip) ? &outip6 : &outip4, 0) < 0)
    {
      said(&lasterr, ": unable to bind to the outgoing address: ", 0) ;
      cat(&lasterr, strerror(errno)) ;
      fd_close(fd) ;
      return 0 ;
    }
  }
  tain_now_g() ;
  tain_addsec_g(&deadline, timeoutconnect) ;
  if (!socket_deadlineconnstamp46_g(fd, ip, port, &deadline))
  {
    said(&lasterr, ": unable to connect: ", 0) ;
    cat(&lasterr, errno == ETIMEDOUT ? "timed out" : strerror(errno)) ;
    fd_close(fd) ;
    return 0 ;
  }
  rfd = wfd = fd ;
  ilen = ipos = olen = 0 ;

  code = getreply() ;
  if (!code) { said(&lasterr, ": no greeting: ", 0) ; cat(&lasterr, why) ; close_conn() ; return 0 ; }
  if (code / 100 != 2) { said(&lasterr, " greeted with: ", 1) ; session_quit() ; return 0 ; }

  r = hello() ;
  if (!r) goto lost ;
  if (r < 0) { said(&lasterr, " said after HELO: ", 1) ; session_quit() ; return 0 ; }

  if (tlslevel != SMTPROUTE_TLS_NONE && !notls)
  {
    int required = tlslevel >= SMTPROUTE_TLS_ENCRYPT ;
    if (tlslevel == SMTPROUTE_TLS_VERIFY && !(name && *name))
    {
      said(&lasterr, ": tls=verify needs a host name to check the certificate against, and this address has none", 0) ;
      session_quit() ;
      return 0 ;
    }
    if (!ext_starttls)
    {
      if (required)
      {
        said(&lasterr, " does not offer STARTTLS, which the route requires (", 0) ;
        cat(&lasterr, levelname()) ;
        cat(&lasterr, ")") ;
        session_quit() ;
        return 0 ;
      }
    }
    else
    {
      r = starttls(name) ;
      if (r < 0)
      {
        if (required) return 0 ;
        /* as Postfix's "may": the same address again, in clear text */
        close_conn() ;
        return -1 ;
      }
      if (!r && required)
      {
        said(&lasterr, " said after STARTTLS: ", 1) ;
        session_quit() ;
        return 0 ;
      }
      if (r)
      {
        /* RFC 3207 4.2: forget what the server said before; EHLO again */
        r = hello() ;
        if (!r) goto lost ;
        if (r < 0) { said(&lasterr, " said after HELO: ", 1) ; session_quit() ; return 0 ; }
      }
    }
  }

  if (hasauth && tls.pid && (ext_authplain || ext_authlogin))
  {
    r = authenticate() ;
    if (r < 0) goto lost ;
    if (!r) { session_quit() ; return 0 ; }
  }

  if (ext_size && ext_sizemax && wiresize > ext_sizemax)
  {
    mtext.len = 0 ;
    catb(&mtext, label.s, label.len) ;
    cat(&mtext, ": the message is too large (") ;
    catu(&mtext, wiresize) ;
    cat(&mtext, " bytes, the server's SIZE limit is ") ;
    catu(&mtext, ext_sizemax) ;
    cat(&mtext, ")") ;
    finish('D') ;
  }
  if (addr8bit && !ext_smtputf8)
    fail('D', label.s, ": the server does not support SMTPUTF8, which the non-ASCII addresses need", 0) ;
  transaction() ;

 lost:
  said(&lasterr, ": ", 0) ;
  cat(&lasterr, why) ;
  close_conn() ;
  return 0 ;
}

/* ---- where to connect ---- */

typedef struct target_s target ;
struct target_s
{
  ip46 ip ;
  uint16_t port ;
  size_t name ;   /* offset in names */
} ;
static target tg[TARGET_MAX] ;
static unsigned int ntg = 0 ;
static stralloc names = STRALLOC_ZERO ;
static dns_mx mx[MX_MAX] ;

static void addip (ip46 const *ip, uint16_t port, size_t name)
{
  for (unsigned int i = 0 ; i < ntg ; i++)
    if (tg[i].port == port && tg[i].ip.is6 == ip->is6 && !memcmp(tg[i].ip.ip, ip->ip, ip->is6 ? 16 : 4)) return ;
  if (ntg >= TARGET_MAX) return ;
  tg[ntg].ip = *ip ;
  tg[ntg].port = port ;
  tg[ntg].name = name ;
  ntg++ ;
}

/* The A/AAAA addresses of host (absolute: a dot is added when dot).
   Returns 1 when some were added, 0 when the host has none, -1 on a
   temporary failure. */
static int addhost (char const *host, size_t len, int dot, uint16_t port)
{
  struct addrinfo hints, *res, *p ;
  char portfmt[UINT16_FMT] ;
  size_t nameoff = names.len ;
  unsigned int count = 0 ;
  int r ;
  catb(&names, host, len) ;
  if (!stralloc_0(&names)) die_nomem() ;
  {
    stralloc q = STRALLOC_ZERO ;
    catb(&q, host, len) ;
    if (dot) cat(&q, ".") ;
    if (!stralloc_0(&q)) die_nomem() ;
    portfmt[uint16_fmt(portfmt, port)] = 0 ;
    memset(&hints, 0, sizeof hints) ;
    hints.ai_family = AF_UNSPEC ;
    hints.ai_socktype = SOCK_STREAM ;
    hints.ai_protocol = IPPROTO_TCP ;
    hints.ai_flags = AI_NUMERICSERV ;
    r = getaddrinfo(q.s, portfmt, &hints, &res) ;
    stralloc_free(&q) ;
  }
  if (r)
  {
    if (r == EAI_NONAME
#ifdef EAI_NODATA
     || r == EAI_NODATA
#endif
#ifdef EAI_ADDRFAMILY
     || r == EAI_ADDRFAMILY
#endif
       ) return 0 ;
    if (r == EAI_MEMORY) die_nomem() ;
    return -1 ;
  }
  for (p = res ; p && count < ADDR_PER_HOST ; p = p->ai_next)
  {
    ip46 ip ;
    if (p->ai_family == AF_INET && p->ai_addrlen >= sizeof(struct sockaddr_in))
      ip46_from_ip4(&ip, (char const *)&((struct sockaddr_in *)p->ai_addr)->sin_addr) ;
    else if (p->ai_family == AF_INET6 && p->ai_addrlen >= sizeof(struct sockaddr_in6))
      ip46_from_ip6(&ip, (char const *)&((struct sockaddr_in6 *)p->ai_addr)->sin6_addr) ;
    else continue ;
    addip(&ip, port, nameoff) ;
    count++ ;
  }
  freeaddrinfo(res) ;
  return count ? 1 : 0 ;
}

static int validhostname (char const *s, size_t len)
{
  if (!len || len > 253) return 0 ;
  for (size_t i = 0 ; i < len ; i++)
  {
    char c = s[i] ;
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) return 0 ;
  }
  return 1 ;
}

/* The credentials of auth=label, from control/smtpauth: lines
   "label:user:password" (the password is the rest of the line). */
static void loadauth (char const *lab, size_t len)
{
  stralloc lines = STRALLOC_ZERO ;
  int r = control_readlines(&lines, "smtpauth", SMTPAUTH_MAX) ;
  if (r < 0) badcontrol("smtpauth") ;
  for (size_t i = 0 ; r && i < lines.len ; i += strlen(lines.s + i) + 1)
  {
    char const *l = lines.s + i ;
    size_t n = strlen(l) ;
    char const *u, *p ;
    if (n <= len || memcmp(l, lab, len) || l[len] != ':') continue ;
    u = l + len + 1 ;
    p = memchr(u, ':', l + n - u) ;
    if (!p) { byte_zzero(lines.s, lines.len) ; fail('Z', "control/smtpauth: no password in the line of ", lab, " (label:user:password)") ; }
    catb(&authuser, u, p - u) ;
    catb(&authpass, p + 1, l + n - p - 1) ;
    hasauth = 1 ;
    break ;
  }
  byte_zzero(lines.s, lines.len) ;
  stralloc_free(&lines) ;
  if (!hasauth) fail('Z', "control/smtpauth: no credentials for the route's auth=", lab, 0) ;
}

/* The route's settings (smtproutes.h) into the globals above. */
static void routesettings (smtproute const *rt)
{
  tlslevel = rt->tls ;
  if (tlslevel == SMTPROUTE_TLS_VERIFY)
  {
    if (rt->ca) catb(&cafile, rt->ca, rt->calen) ;
    else cat(&cafile, CABUNDLE) ;
    if (!stralloc_0(&cafile)) die_nomem() ;
  }
  if (rt->auth)
  {
    stralloc lab = STRALLOC_ZERO ;
    catb(&lab, rt->auth, rt->authlen) ;
    if (!stralloc_0(&lab)) die_nomem() ;
    loadauth(lab.s, rt->authlen) ;
    stralloc_free(&lab) ;
  }
}

static void route (char const *domarg)
{
  stralloc dom = STRALLOC_ZERO ;
  stralloc routes = STRALLOC_ZERO ;
  smtproute rt ;
  int islit = 0 ;
  uint16_t port = 25 ;
  ip46 lit ;

  cat(&dom, domarg) ;
  if (dom.len > 1 && dom.s[dom.len - 1] == '.' && dom.s[0] != '[') dom.len-- ;
  case_lowerb(dom.s, dom.len) ;
  if (!stralloc_0(&dom)) die_nomem() ;
  dom.len-- ;
  if (dom.len && dom.s[0] == '[')
  {
    char tmp[64] ;
    size_t k = dom.len ;
    if (k + 8 > sizeof tmp) fail('D', "invalid address literal: ", domarg, 0) ;
    memcpy(tmp, "x:", 2) ;
    memcpy(tmp + 2, dom.s, k) ;
    {
      char const *d ; size_t dl ;
      if (!smtproute_parse(tmp, k + 2, &d, &dl, &rt) || !rt.is_ip || rt.hostlen != k)
        fail('D', "invalid address literal: ", domarg, 0) ;
    }
    /* an IPv6 literal must say "IPv6:" (RFC 5321 4.1.3) */
    if (rt.is6 && (k < 6 || case_diffb(dom.s + 1, 5, "ipv6:"))) fail('D', "invalid address literal: ", domarg, 0) ;
    ip46_from_ip(&lit, rt.ip, rt.is6) ;
    islit = 1 ;
  }
  else if (!validhostname(dom.s, dom.len)) fail('D', "invalid domain name: ", domarg, 0) ;

  {
    int r = control_readlines(&routes, "smtproutes", SMTPROUTES_MAX) ;
    char const *bad ;
    if (r < 0) badcontrol("smtproutes") ;
    r = r ? smtproutes_find(routes.s, routes.len, dom.s, dom.len, &rt, &bad) : 0 ;
    if (r < 0) fail('Z', "control/smtproutes: syntax error in line: ", bad, 0) ;
    if (r)
    {
      routesettings(&rt) ;
      if (rt.port) port = rt.port ;
      if (rt.is_ip)
      {
        ip46 ip ;
        size_t off = names.len ;
        if (!stralloc_0(&names)) die_nomem() ;
        ip46_from_ip(&ip, rt.ip, rt.is6) ;
        addip(&ip, port, off) ;
        return ;
      }
      if (rt.hostlen)
      {
        int k = addhost(rt.host, rt.hostlen, 0, port) ;
        if (k < 0) fail('Z', "temporary failure looking up the address of the smtproutes relay for ", dom.s, 0) ;
        if (!k) fail('Z', "the smtproutes relay for ", dom.s, " has no address") ;
        return ;
      }
    }
  }

  if (islit)
  {
    size_t off = names.len ;
    if (!stralloc_0(&names)) die_nomem() ;
    addip(&lit, port, off) ;
    return ;
  }

  /* MX records, RFC 5321 5.1 */
  {
    static unsigned char ans[65536] ;
    unsigned int total, i ;
    int n, r, temp = 0, any = 0 ;
    {
      stralloc q = STRALLOC_ZERO ;
      catb(&q, dom.s, dom.len) ;
      cat(&q, ".") ;
      if (!stralloc_0(&q)) die_nomem() ;
      n = res_query(q.s, ns_c_in, ns_t_mx, ans, sizeof ans) ;
      stralloc_free(&q) ;
    }
    if (n < 0)
    {
      switch (h_errno)
      {
        case HOST_NOT_FOUND : fail('D', "domain ", dom.s, " does not exist (DNS: no such domain)") ;
        case NO_DATA : n = 0 ; break ;  /* no MX: the implicit MX below */
        default : fail('Z', "temporary DNS failure looking up the MX records of ", dom.s, 0) ;
      }
    }
    if (n > 0)
    {
      n = dns_mx_parse(ans, n > (int)sizeof ans ? sizeof ans : (size_t)n, mx, MX_MAX, &total) ;
      if (n < 0) fail('Z', "malformed DNS answer for the MX records of ", dom.s, 0) ;
    }
    if (!n)
    {
      /* the implicit MX: the domain's own addresses */
      r = addhost(dom.s, dom.len, 1, port) ;
      if (r < 0) fail('Z', "temporary DNS failure looking up the address of ", dom.s, 0) ;
      if (!r) fail('D', "domain ", dom.s, " has no MX record and no address") ;
      return ;
    }
    for (i = 0 ; i < (unsigned int)n ; i++)
      if (!mx[i].name[0]) fail('D', "domain ", dom.s, " does not accept mail (null MX, RFC 7505)") ;
    dns_mx_sort(mx, n) ;
    for (i = 0 ; i < (unsigned int)n ; i++)
    {
      if (!validhostname(mx[i].name, strlen(mx[i].name))) continue ;
      r = addhost(mx[i].name, strlen(mx[i].name), 1, port) ;
      if (r < 0) temp = 1 ;
      else if (r) any = 1 ;
    }
    if (!any)
    {
      if (temp) fail('Z', "temporary DNS failure looking up the addresses of the MX hosts of ", dom.s, 0) ;
      fail('D', "no MX host of ", dom.s, " has an address") ;
    }
    (void)total ;
  }
  stralloc_free(&routes) ;
}

/* ---- main ---- */

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
