/* postie-local: deliver one message to one local recipient.

   postie-local USER HOME LOCAL EXT DOMAIN SENDER DEFAULTDELIVERY

   Runs as the recipient (never as root), the message on fd 0 (a seekable
   regular file). Finds the recipient's instructions file (HOME/.postie,
   HOME/.postie-EXT, the -default files), checks it whole, then carries
   it out line by line: Maildir, mbox, |program; the &forwards go last, in
   one message through the queue. Exit 0 delivered, 100 permanent failure,
   111 temporary failure, with one line on stdout that says what happened.
   Contract: doc/postie-local.md; the instructions: doc/dot-postie.md. */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <skalibs/bytestr.h>
#include <skalibs/djbunix.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "clock_once.h"
#include "postie.h"
#include "queue.h"
#include "local.h"

#define USAGE "postie-local USER HOME LOCAL EXT DOMAIN SENDER DEFAULTDELIVERY"

/* Settings: control/<name>, with these defaults (doc/postie-local.md). */
#define FILEMAX_DEFAULT 65536UL        /* localfilemax: instructions file bytes */
#define FORWARDMAX_DEFAULT 100UL       /* localforwardmax: forwards per file */
#define HEADERMAX_DEFAULT 1048576UL    /* localheadermax: header bytes scanned */
#define PROGTIMEOUT_DEFAULT 3600UL     /* localprogtimeout: seconds per program */
#define LOCKTIMEOUT_DEFAULT 120UL      /* locallocktimeout: seconds for an mbox lock */
#define ME_MAX 255

char const *PROG = "postie-local" ;
local_ctx ctx = { .rcptlc = STRALLOC_ZERO, .rpline = STRALLOC_ZERO, .dtline = STRALLOC_ZERO, .ufline = STRALLOC_ZERO } ;

static unsigned long filemax, forwardmax, headermax ;
static stralloc me = STRALLOC_ZERO ;


static int printable (char const *s)
{
  for (; *s ; s++) if ((unsigned char)*s < 32 || *s == 127) return 0 ;
  return 1 ;
}

static void readsetting (unsigned long *u, char const *name, unsigned long def)
{
  if (control_readulong(u, name, def) < 0) temp("unable to read control/", name, ": ", control_strerror()) ;
}

/* The settings, from the instance. The host part of Maildir names comes
   from control/me (default localhost), with '/' and ':' written \057 and
   \072 as the Maildir specification asks, and blanks or control bytes
   as '_'. */
static void settings (void)
{
  char const *home = postie_home() ;
  stralloc raw = STRALLOC_ZERO ;
  size_t i ;
  if (chdir(home) < 0) tempsys("unable to enter the instance directory ", home) ;
  readsetting(&filemax, "localfilemax", FILEMAX_DEFAULT) ;
  readsetting(&forwardmax, "localforwardmax", FORWARDMAX_DEFAULT) ;
  readsetting(&headermax, "localheadermax", HEADERMAX_DEFAULT) ;
  readsetting(&ctx.progtimeout, "localprogtimeout", PROGTIMEOUT_DEFAULT) ;
  readsetting(&ctx.locktimeout, "locallocktimeout", LOCKTIMEOUT_DEFAULT) ;
  if (!ctx.progtimeout) ctx.progtimeout = PROGTIMEOUT_DEFAULT ;
  if (!ctx.locktimeout) ctx.locktimeout = LOCKTIMEOUT_DEFAULT ;
  if (control_readline(&raw, "me", "localhost", ME_MAX) < 0) tempsys("unable to read control/me") ;
  if (!raw.s[0] && (!stralloc_copys(&raw, "localhost") || !stralloc_0(&raw))) die_nomem() ;
  for (i = 0 ; raw.s[i] ; i++)
  {
    char c = raw.s[i] ;
    int ok ;
    if (c == '/') ok = stralloc_cats(&me, "\\057") ;
    else if (c == ':') ok = stralloc_cats(&me, "\\072") ;
    else if ((unsigned char)c <= 32 || c == 127) ok = stralloc_catb(&me, "_", 1) ;
    else ok = stralloc_catb(&me, &c, 1) ;
    if (!ok) die_nomem() ;
  }
  if (!stralloc_0(&me)) die_nomem() ;
  ctx.me = me.s ;
  stralloc_free(&raw) ;
}

/* A Delivered-To field's value, unfolded: ours means a loop. */
static void loopcheck (stralloc *val)
{
  size_t v = 0, end = val->len ;
  while (v < end && (val->s[v] == ' ' || val->s[v] == '\t' || val->s[v] == '\r')) v++ ;
  while (end > v && (val->s[end - 1] == ' ' || val->s[end - 1] == '\t' || val->s[end - 1] == '\r')) end-- ;
  if (end - v == ctx.rcptlc.len - 1 && case_equalb(val->s + v, end - v, ctx.rcptlc.s))
    perm("this message is looping: it already has my Delivered-To line (", ctx.rcptlc.s, ")") ;
}

/* The header, at most headermax bytes of it: its line ends (CRLF if the
   first line ends so), and our own Delivered-To line, which means a loop.
   The field is read as RFC 5322 writes it, so that software that rewrites
   headers on the way back cannot hide it: any case, blanks before the
   colon, the value folded over several lines. */
static void scanheader (off_t size)
{
  size_t n = size < 0 ? 0 : (uint64_t)size < headermax ? (size_t)size : (size_t)headermax ;
  size_t got = 0, i = 0 ;
  stralloc val = STRALLOC_ZERO ;
  int indt = 0 ;  /* the lines read are a Delivered-To field's, its value in val */
  char *buf ;
  char *nl ;
  if (!n) return ;
  buf = malloc(n) ;
  if (!buf) die_nomem() ;
  while (got < n)
  {
    ssize_t r = pread(0, buf + got, n - got, (off_t)got) ;
    if (r < 0) { if (errno == EINTR) continue ; tempsys("unable to read the message") ; }
    if (!r) break ;
    got += r ;
  }
  nl = memchr(buf, '\n', got) ;
  ctx.crlf = nl && nl > buf && nl[-1] == '\r' ;
  while (i < got)
  {
    size_t end, k ;
    nl = memchr(buf + i, '\n', got - i) ;
    if (!nl) break ;
    end = nl - buf ;
    if (end > i && buf[end - 1] == '\r') end-- ;
    if (end == i) break ;  /* the empty line: end of the header */
    if (buf[i] == ' ' || buf[i] == '\t')
    {
      if (indt && !stralloc_catb(&val, buf + i, end - i)) die_nomem() ;
    }
    else
    {
      if (indt) loopcheck(&val) ;
      indt = 0 ;
      if (end - i >= 13 && case_startb(buf + i, end - i, "delivered-to"))
      {
        k = i + 12 ;
        while (k < end && (buf[k] == ' ' || buf[k] == '\t')) k++ ;
        if (k < end && buf[k] == ':')
        {
          indt = 1 ;
          if (!stralloc_copyb(&val, buf + k + 1, end - k - 1)) die_nomem() ;
        }
      }
    }
    i = (nl - buf) + 1 ;
  }
  if (indt) loopcheck(&val) ;
  stralloc_free(&val) ;
  free(buf) ;
}

static void makelines (void)
{
  char const *eol = ctx.crlf ? "\r\n" : "\n" ;
  if (!stralloc_cats(&ctx.rpline, "Return-Path: <") || !stralloc_cats(&ctx.rpline, ctx.sender)
   || !stralloc_cats(&ctx.rpline, ">") || !stralloc_cats(&ctx.rpline, eol) || !stralloc_0(&ctx.rpline)) die_nomem() ;
  ctx.rpline.len-- ;
  if (!stralloc_cats(&ctx.dtline, "Delivered-To: ") || !stralloc_cats(&ctx.dtline, ctx.rcptlc.s)
   || !stralloc_cats(&ctx.dtline, eol) || !stralloc_0(&ctx.dtline)) die_nomem() ;
  ctx.dtline.len-- ;
  {
    struct timespec now ;
    if (clock_once(&now) < 0) now.tv_sec = (time_t)-1 ;  /* as time(0) */
    local_ufline(&ctx.ufline, ctx.sender, now.tv_sec) ;
  }
}

/* An instructions file: 1 with its contents in sa, 0 if it does not exist.
   It must be a regular file, not writable by others, at most filemax
   bytes; anything else is a temporary failure, so that mail waits while
   the user fixes it. */
static int readinstr (char const *name, stralloc *sa)
{
  struct stat st ;
  char fmt[ULONG_FMT] ;
  int fd = open(name, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC) ;
  if (fd < 0)
  {
    if (errno == ENOENT || errno == ENAMETOOLONG) return 0 ;  /* a long EXT has no file */
    tempsys("unable to open ", name) ;
  }
  fmt[ulong_fmt(fmt, filemax)] = 0 ;
  if (fstat(fd, &st) < 0) tempsys("unable to stat ", name) ;
  if (!S_ISREG(st.st_mode)) temp(name, " is not a regular file") ;
  if (st.st_mode & S_IWOTH) temp(name, " is writable by anyone: refusing to follow it") ;
  if ((uint64_t)st.st_size > filemax) temp(name, " is larger than ", fmt, " bytes (control/localfilemax)") ;
  sa->len = 0 ;
  if (!stralloc_ready(sa, (size_t)st.st_size + 1)) die_nomem() ;
  for (;;)
  {
    ssize_t r ;
    if (!stralloc_readyplus(sa, 4096)) die_nomem() ;
    r = read(fd, sa->s + sa->len, 4096) ;
    if (r < 0) { if (errno == EINTR) continue ; tempsys("unable to read ", name) ; }
    if (!r) break ;
    sa->len += r ;
    if (sa->len > filemax) temp(name, " is larger than ", fmt, " bytes (control/localfilemax)") ;
  }
  close(fd) ;
  return 1 ;
}

/* The lookup (doc/dot-postie.md): without EXT, .postie. With EXT (say
   a-b-c): .postie-a-b-c, .postie-a-b-default, .postie-a-default,
   .postie-default; the first that exists wins, and DEFAULT is the part of
   EXT its "default" stands for. Without any file for an EXT, the user's own
   .postie applies, as for the bare address (plus-addressing works with no
   setup; a user who wants to refuse extensions writes a .postie-default).
   Returns 1 (found, *name set), 0 (no file: the default delivery). */
static int lookup (stralloc *sa, stralloc *name)
{
  size_t extlen = strlen(ctx.ext) ;
  size_t i ;
  name->len = 0 ;
  if (!extlen)
  {
    if (!stralloc_copys(name, ".postie") || !stralloc_0(name)) die_nomem() ;
    return readinstr(name->s, sa) ;
  }
  if (!stralloc_copys(name, ".postie-") || !stralloc_cats(name, ctx.ext) || !stralloc_0(name)) die_nomem() ;
  if (readinstr(name->s, sa)) return 1 ;
  for (i = extlen ; i-- ;)
  {
    if (ctx.ext[i] != '-') continue ;
    name->len = 0 ;
    if (!stralloc_copys(name, ".postie-") || !stralloc_catb(name, ctx.ext, i)
     || !stralloc_cats(name, "-default") || !stralloc_0(name)) die_nomem() ;
    if (readinstr(name->s, sa)) { ctx.deflt = ctx.ext + i + 1 ; return 1 ; }
  }
  if (!stralloc_copys(name, ".postie-default") || !stralloc_0(name)) die_nomem() ;
  if (readinstr(name->s, sa)) { ctx.deflt = ctx.ext ; return 1 ; }
  if (!stralloc_copys(name, ".postie") || !stralloc_0(name)) die_nomem() ;
  return readinstr(name->s, sa) ;
}

/* The whole file is checked before anything is delivered: a mistake on
   line 9 must not leave lines 1 to 8 done. Each instruction goes into
   instr as a type byte (M maildir, B mbox, P program, F forward) and its
   text, NUL-terminated; a forward address without '@' gets @DOMAIN. */
static void parse (char const *file, stralloc *sa, stralloc *instr, unsigned long *nfwd)
{
  size_t i = 0 ;
  unsigned int lineno = 0 ;
  char fmt[UINT_FMT] ;
  while (i < sa->len)
  {
    size_t start = i, end ;
    char const *nl = memchr(sa->s + i, '\n', sa->len - i) ;
    end = nl ? (size_t)(nl - sa->s) : sa->len ;
    i = end + 1 ;
    lineno++ ;
    fmt[uint_fmt(fmt, lineno)] = 0 ;
    while (start < end && (sa->s[start] == ' ' || sa->s[start] == '\t')) start++ ;
    while (end > start && (sa->s[end - 1] == ' ' || sa->s[end - 1] == '\t' || sa->s[end - 1] == '\r')) end-- ;
    if (start == end || sa->s[start] == '#') continue ;
    if (memchr(sa->s + start, 0, end - start)) temp(file, " line ", fmt, ": contains a NUL byte") ;
    switch (sa->s[start])
    {
      case '|' :
        start++ ;
        while (start < end && (sa->s[start] == ' ' || sa->s[start] == '\t')) start++ ;
        if (start == end) temp(file, " line ", fmt, ": a program line without a command") ;
        if (!stralloc_catb(instr, "P", 1) || !stralloc_catb(instr, sa->s + start, end - start) || !stralloc_0(instr)) die_nomem() ;
        break ;
      case '/' :
      case '.' :
        if (!stralloc_catb(instr, sa->s[end - 1] == '/' ? "M" : "B", 1)
         || !stralloc_catb(instr, sa->s + start, end - start) || !stralloc_0(instr)) die_nomem() ;
        break ;
      default :
      {
        size_t k, at = 0 ;
        if (sa->s[start] == '&')
        {
          start++ ;
          while (start < end && (sa->s[start] == ' ' || sa->s[start] == '\t')) start++ ;
        }
        if (start == end) temp(file, " line ", fmt, ": a forward without an address") ;
        for (k = start ; k < end ; k++)
        {
          unsigned char c = sa->s[k] ;
          if (c < 32 || c == 127 || c == ' ' || c == '\t') temp(file, " line ", fmt, ": a blank or control character in a forward address") ;
          if (c == '@') at = 1 ;
        }
        if (++*nfwd > forwardmax)
        {
          char mfmt[ULONG_FMT] ;
          mfmt[ulong_fmt(mfmt, forwardmax)] = 0 ;
          temp(file, ": more than ", mfmt, " forwards (control/localforwardmax)") ;
        }
        k = instr->len ;
        if (!stralloc_catb(instr, "F", 1) || !stralloc_catb(instr, sa->s + start, end - start)) die_nomem() ;
        if (!at && (!stralloc_catb(instr, "@", 1) || !stralloc_cats(instr, ctx.domain))) die_nomem() ;
        if (instr->len - k - 1 > QUEUE_ADDR_MAX) temp(file, " line ", fmt, ": a forward address longer than 1000 bytes") ;
        if (!stralloc_0(instr)) die_nomem() ;
        break ;
      }
    }
  }
}

/* Over 80 lines: the delivery's context read from the arguments in
   order (qmail-local's), then the instructions run. */
int main (int argc, char const *const *argv)
{
  stralloc file = STRALLOC_ZERO ;
  stralloc name = STRALLOC_ZERO ;
  stralloc instr = STRALLOC_ZERO ;
  stralloc fwd = STRALLOC_ZERO ;
  stralloc ext = STRALLOC_ZERO ;
  stralloc recipient = STRALLOC_ZERO ;
  unsigned long nfwd = 0 ;
  struct stat st ;

  /* fds 0, 1, 2 must be open (on /dev/null if they are not): the
     result goes to 1, and a pipe must never land on them. */
  if (!fd_sanitize()) _exit(LOCAL_TEMP) ;
  signal(SIGPIPE, SIG_IGN) ;
  signal(SIGXFSZ, SIG_IGN) ;  /* past RLIMIT_FSIZE, write fails with EFBIG */
  umask(077) ;

  if (!getuid() || !geteuid()) temp("refusing to deliver as root: postie-local runs as the recipient") ;
  if (argc != 8) temp("usage: " USAGE) ;
  ctx.user = argv[1] ;
  ctx.home = argv[2] ;
  ctx.local = argv[3] ;
  ctx.domain = argv[5] ;
  ctx.sender = argv[6] ;
  ctx.defaultdelivery = argv[7] ;
  if (!*ctx.user || !printable(ctx.user)) temp("bad USER argument") ;
  if (ctx.home[0] != '/' || !printable(ctx.home)) temp("bad HOME argument: not an absolute path") ;
  if (!*ctx.local || !printable(ctx.local) || strlen(ctx.local) > QUEUE_ADDR_MAX) temp("bad LOCAL argument") ;
  if (!printable(ctx.domain) || strlen(ctx.domain) > QUEUE_ADDR_MAX) temp("bad DOMAIN argument") ;
  if (!printable(ctx.sender) || strlen(ctx.sender) > QUEUE_ADDR_MAX) temp("bad SENDER argument") ;
  if (!printable(argv[4])) temp("bad EXT argument") ;
  if (!printable(ctx.defaultdelivery)) temp("bad DEFAULTDELIVERY argument") ;

  if (!stralloc_copys(&recipient, ctx.local) || !stralloc_catb(&recipient, "@", 1)
   || !stralloc_cats(&recipient, ctx.domain) || !stralloc_0(&recipient)) die_nomem() ;
  ctx.recipient = recipient.s ;
  if (!stralloc_copy(&ctx.rcptlc, &recipient)) die_nomem() ;
  case_lowerb(ctx.rcptlc.s, ctx.rcptlc.len) ;

  if (!stralloc_copys(&ext, argv[4]) || !stralloc_0(&ext)) die_nomem() ;
  case_lowerb(ext.s, ext.len) ;
  ctx.ext = ext.s ;
  if (strchr(ctx.ext, '/') || ctx.ext[0] == '.')
    perm("no such address: ", ctx.recipient, " (an extension may not contain '/' or start with '.')") ;

  settings() ;

  if (chdir(ctx.home) < 0) tempsys("unable to enter the home directory ", ctx.home) ;
  if (stat(".", &st) < 0) tempsys("unable to stat the home directory ", ctx.home) ;
  if (st.st_mode & S_IWOTH) temp("home directory ", ctx.home, " is writable by anyone: refusing to deliver there") ;
  if (st.st_mode & S_ISVTX) temp("home directory ", ctx.home, " is sticky: the user is editing the instructions") ;

  if (fstat(0, &st) < 0) tempsys("unable to stat the message") ;
  if (!S_ISREG(st.st_mode)) temp("the message on fd 0 is not a regular file") ;
  scanheader(st.st_size) ;
  makelines() ;

  if (lookup(&file, &name)) parse(name.s, &file, &instr, &nfwd) ;
  stralloc_free(&file) ;

  if (!instr.len)
  {
    /* no file, or one without instructions: the default delivery, which
       may create its Maildir */
    char const *d = *ctx.defaultdelivery ? ctx.defaultdelivery : "./Maildir/" ;
    if (d[strlen(d) - 1] == '/') deliver_maildir(d, 1) ;
    else deliver_mbox(d) ;
    local_success() ;
  }

  {
    size_t i = 0 ;
    while (i < instr.len)
    {
      char const *s = instr.s + i + 1 ;
      char type = instr.s[i] ;
      i += strlen(instr.s + i) + 1 ;
      if (type == 'M') deliver_maildir(s, 0) ;
      else if (type == 'B') deliver_mbox(s) ;
      else if (type == 'F')
      {
        /* collected, and sent last in one message: only if every other
           instruction succeeded, and only those before a program's 99 */
        if (!stralloc_catb(&fwd, s, strlen(s) + 1)) die_nomem() ;
      }
      else if (deliver_program(s) == 99) break ;
    }
  }
  if (fwd.len) deliver_forward(fwd.s, fwd.len) ;
  local_success() ;
}
