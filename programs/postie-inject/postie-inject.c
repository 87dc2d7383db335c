/* postie-inject: local mail injection, for MUAs, scripts and cron.
   Reads a message on fd 0, reads and checks its header (RFC 5322), adds
   Date, Message-ID and From when they are missing, removes Bcc, finds the
   recipients (arguments, and with -t the To/Cc/Bcc fields), and hands the
   message and its envelope to the queue program (POSTIE_QUEUE, default
   postie-queue): message on its fd 0, envelope on its fd 1 (doc/envelope.md).
   Exit codes are sendmail's (sysexits.h): doc/postie-inject.md. */

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/buffer.h>
#include <skalibs/djbunix.h>
#include <skalibs/random.h>
#include <skalibs/sgetopt.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "postie.h"
#include "queue.h"
#include "postie_queue.h"
#include "rfc5322.h"

#define USAGE "postie-inject [ -t ] [ -i ] [ -f sender ] [ -F fullname ] [ -- ] [ recipient ... ]"
#define dieusage() strerr_dieusage(EX_USAGE, USAGE)

#define LINEMAX_DEFAULT 998UL
#define HEADERMAX_DEFAULT 1048576UL
#define NAME_MAX_LEN 1000
#define SETTING_MAX (1UL << 30)  /* no header of a gigabyte */

char const *PROG = "postie-inject" ;

static void die_nomem (void) { strerr_dief(EX_OSERR, "out of memory") ; }
static void die_read (void) { strerr_diefusys(EX_IOERR, "read the message") ; }
static void die_control (char const *name) { strerr_diefu(EX_CONFIG, "read control/", name, ": ", control_strerror()) ; }

static int tflag = 0, iflag = 0 ;
static unsigned long linemax, headermax ;
static stralloc defaultdomain = STRALLOC_ZERO ;
static stralloc idhost = STRALLOC_ZERO ;
static stralloc sender = STRALLOC_ZERO ;      /* envelope sender, "" = null */
static stralloc fromaddr = STRALLOC_ZERO ;    /* for an added From: */
static char const *fullname = 0 ;

/* Input: fd 0 through one buffer. */
static char ibuf[65536] ;
static size_t ipos = 0, ilen = 0 ;
static int ieof = 0 ;

static int ifill (void)
{
  ssize_t r ;
  if (ipos < ilen) return 1 ;
  if (ieof) return 0 ;
  r = fd_read(0, ibuf, sizeof ibuf) ;
  if (r < 0) die_read() ;
  if (!r) { ieof = 1 ; return 0 ; }
  ipos = 0 ; ilen = (size_t)r ;
  return 1 ;
}

/* Appends the next line to sa, LF included, at most max bytes.
   1: a whole line; 2: max bytes and no LF yet; 0: end of input (what
   there was of a last line without LF is appended). */
static int getline_bounded (stralloc *sa, size_t max)
{
  size_t n = 0 ;
  for (;;)
  {
    char *nl ;
    size_t take ;
    if (!ifill()) return 0 ;
    nl = memchr(ibuf + ipos, '\n', ilen - ipos) ;
    take = nl ? (size_t)(nl - (ibuf + ipos)) + 1 : ilen - ipos ;
    if (take > max - n) { take = max - n ; nl = 0 ; }
    if (!stralloc_catb(sa, ibuf + ipos, take)) die_nomem() ;
    ipos += take ; n += take ;
    if (nl) return 1 ;
    if (n >= max) return 2 ;
  }
}

/* Settings and defaults. */

static int badname (char const *s, int allowspace)
{
  for (; *s ; s++)
  {
    unsigned char c = *s ;
    if (c < 32 || c == 127) return 1 ;
    if (!allowspace && (c == ' ' || c == '@' || c == '<' || c == '>' || c == '(' || c == ')' || c == ',' || c == ';' || c == ':' || c == '"' || c == '\\')) return 1 ;
  }
  return 0 ;
}

static void readcontrols (void)
{
  char const *s ;
  if (control_readulong(&linemax, "injectlinemax", LINEMAX_DEFAULT) < 0) die_control("injectlinemax") ;
  if (control_readulong(&headermax, "injectheadermax", HEADERMAX_DEFAULT) < 0) die_control("injectheadermax") ;
  if (linemax < 78) linemax = 78 ;
  if (linemax > SETTING_MAX) linemax = SETTING_MAX ;
  if (headermax < linemax) headermax = linemax ;
  if (headermax > SETTING_MAX) headermax = SETTING_MAX ;

  s = getenv("POSTIE_DEFAULTDOMAIN") ;
  if (s && *s) { if (!stralloc_copys(&defaultdomain, s) || !stralloc_0(&defaultdomain)) die_nomem() ; }
  else
  {
    int r = control_readline(&defaultdomain, "defaultdomain", 0, 255) ;
    if (r < 0) die_control("defaultdomain") ;
    if (!r || defaultdomain.len <= 1)
    {
      /* control/me is required: qualifying addresses with a made-up
         "localhost" would send the mail somewhere else. */
      r = control_readline(&defaultdomain, "me", 0, 255) ;
      if (r <= 0) { if (!r) errno = ENOENT ; die_control("me") ; }
      if (defaultdomain.len <= 1 && (!stralloc_copys(&defaultdomain, "localhost") || !stralloc_0(&defaultdomain))) die_nomem() ;
    }
  }
  if (badname(defaultdomain.s, 0) || defaultdomain.len > 256)
    strerr_dief(EX_CONFIG, "invalid default domain (POSTIE_DEFAULTDOMAIN, control/defaultdomain or control/me): ", defaultdomain.s) ;

  {
    int r = control_readline(&idhost, "idhost", 0, 255) ;
    if (r < 0) die_control("idhost") ;
    if (!r || idhost.len <= 1)
    {
      r = control_readline(&idhost, "me", 0, 255) ;
      if (r < 0) die_control("me") ;
      if (!r || idhost.len <= 1) { if (!stralloc_copy(&idhost, &defaultdomain)) die_nomem() ; }
    }
    if (badname(idhost.s, 0)) strerr_dief(EX_CONFIG, "invalid control/idhost or control/me: ", idhost.s) ;
  }
}

/* The user's own address: POSTIE_USER (else the login name of the real
   uid) @ POSTIE_HOST (else the default domain), into sa, NUL-terminated. */
static void defaultaddr (stralloc *sa)
{
  char const *user = getenv("POSTIE_USER") ;
  char const *host = getenv("POSTIE_HOST") ;
  if (!user || !*user)
  {
    struct passwd *pw ;
    errno = 0 ;
    pw = getpwuid(getuid()) ;
    if (!pw)
    {
      char fmt[UINT_FMT] ;
      fmt[uint_fmt(fmt, getuid())] = 0 ;
      if (errno) strerr_diefusys(EX_NOUSER, "find the login name of uid ", fmt) ;
      strerr_dief(EX_NOUSER, "no login name for uid ", fmt, ": set POSTIE_USER") ;
    }
    user = pw->pw_name ;
  }
  else if (badname(user, 1) || strlen(user) > 64) strerr_dief(EX_CONFIG, "invalid POSTIE_USER: ", user) ;
  if (!host || !*host) host = defaultdomain.s ;
  else if (badname(host, 0) || strlen(host) > 255) strerr_dief(EX_CONFIG, "invalid POSTIE_HOST: ", host) ;
  sa->len = 0 ;
  if (!stralloc_cats(sa, user) || !stralloc_catb(sa, "@", 1) || !stralloc_cats(sa, host) || !stralloc_0(sa)) die_nomem() ;
}

/* Addresses: parsed mailbox records (group, display, local, domain) to
   envelope addresses local@domain, the default domain for a bare name. */

static size_t lineno (size_t pos) ;

/* hdroff: where s starts in the header, or NOTHEADER for an argument. */
#define NOTHEADER ((size_t)-1)
static void addrerror (char const *where, rfc5322_error const *e, size_t hdroff, int code)
{
  char fmt[SIZE_FMT] ;
  if (hdroff == NOTHEADER)
  {
    fmt[size_fmt(fmt, e->pos + 1)] = 0 ;
    strerr_dief(code, where, e->what, " (at byte ", fmt, ")") ;
  }
  fmt[size_fmt(fmt, lineno(hdroff + e->pos))] = 0 ;
  strerr_dief(code, where, e->what, " (line ", fmt, " of the header)") ;
}

/* Appends each mailbox of the n records in recs as local@domain\0 to
   out. */
static void records_to_addrs (char const *recs, size_t n, stralloc *out, char const *where, int code)
{
  size_t i = 0 ;
  while (n--)
  {
    char const *local, *domain ;
    size_t start = out->len ;
    i += strlen(recs + i) + 1 ;  /* group */
    i += strlen(recs + i) + 1 ;  /* display */
    local = recs + i ; i += strlen(local) + 1 ;
    domain = recs + i ; i += strlen(domain) + 1 ;
    if (!*local) strerr_dief(code, where, "empty local part in address @", domain) ;
    {
      char const *c ;
      for (c = local ; *c ; c++)
        if (*c == '\t') strerr_dief(code, where, "tab in the local part of an address") ;
    }
    if (!stralloc_cats(out, local) || !stralloc_catb(out, "@", 1)
     || !stralloc_cats(out, *domain ? domain : defaultdomain.s)) die_nomem() ;
    if (out->len - start > QUEUE_ADDR_MAX) strerr_dief(code, where, "address longer than 1000 bytes") ;
    if (!stralloc_0(out)) die_nomem() ;
  }
}

/* Parses an address list s[0, len) and appends its addresses to out. */
static void addrlist (char const *s, size_t len, stralloc *out, char const *where, size_t hdroff, int code)
{
  stralloc recs = STRALLOC_ZERO ;
  size_t n = 0 ;
  rfc5322_error e = RFC5322_ERROR_ZERO ;
  int r = rfc5322_addrlist(s, len, RFC5322_BARE, &recs, &n, &e) ;
  if (r < 0) die_nomem() ;
  if (!r) addrerror(where, &e, hdroff, code) ;
  records_to_addrs(recs.s, n, out, where, code) ;
  stralloc_free(&recs) ;
}

static void setsender (char const *s)
{
  stralloc recs = STRALLOC_ZERO ;
  size_t n = 0 ;
  rfc5322_error e = RFC5322_ERROR_ZERO ;
  int r ;
  sender.len = 0 ;
  if (!*s || !strcmp(s, "<>")) { if (!stralloc_0(&sender)) die_nomem() ; return ; }
  r = rfc5322_addrlist(s, strlen(s), RFC5322_BARE, &recs, &n, &e) ;
  if (r < 0) die_nomem() ;
  if (!r) addrerror("invalid sender address: ", &e, NOTHEADER, EX_USAGE) ;
  if (n != 1 || *recs.s) strerr_dief(EX_USAGE, "invalid sender address: it must be one address: ", s) ;
  records_to_addrs(recs.s, 1, &sender, "invalid sender address: ", EX_USAGE) ;
  stralloc_free(&recs) ;
}

/* The header. */

#define F_DROP 0x1

typedef struct field_s field ;
struct field_s
{
  rfc5322_field f ;
  unsigned int flags ;
} ;

static stralloc hdr = STRALLOC_ZERO ;  /* the header as read, then the first body line */
static size_t hlen = 0 ;               /* the header's part of hdr */
static size_t bodystart = 0 ;          /* where the first body line starts in hdr */
static int ended = 0 ;                 /* a "." line ended the message */

static int isdotline (char const *s, size_t len)
{
  return (len == 1 && s[0] == '.') || (len == 2 && !memcmp(s, ".\n", 2)) || (len == 3 && !memcmp(s, ".\r\n", 3)) ;
}

/* Reads header lines until the blank line, the end of input, or a line
   that is neither a field nor the continuation of one (the body then
   starts with that line, as sendmail does). */
static void readheader (void)
{
  char fmt[ULONG_FMT] ;
  size_t fromline = 0 ;
  for (;;)
  {
    size_t start = hdr.len, len, clen ;
    char const *line ;
    int r = getline_bounded(&hdr, linemax + 2) ;
    line = hdr.s + start ;
    len = hdr.len - start ;
    clen = len ;
    if (r == 1) { clen-- ; if (clen && line[clen-1] == '\r') clen-- ; }
    if (fromline)
    {
      /* The line after a first line "From ...": a field makes that line
         an mbox separator, dropped as sendmail does; anything else makes
         it the body's first line. */
      fromline = 0 ;
      if (!rfc5322_field_start(line, clen)) { hlen = bodystart = 0 ; return ; }
      memmove(hdr.s, line, len) ;
      hdr.len = len ;
      start = 0 ;
      line = hdr.s ;
    }
    if (!len) { hlen = bodystart = start ; return ; }
    if (!iflag && r != 2 && isdotline(line, len)) { hdr.len = hlen = bodystart = start ; ended = 1 ; return ; }
    if (r == 1 && !clen) { hlen = start ; bodystart = hdr.len ; return ; }  /* the blank line */
    if (!start && r == 1 && len > 5 && !memcmp(line, "From ", 5) && !rfc5322_field_start(line, clen)) { fromline = 1 ; continue ; }
    if (!rfc5322_field_start(line, clen) && !(start && (line[0] == ' ' || line[0] == '\t')))
    {
      hlen = bodystart = start ;
      return ;
    }
    if (r == 2)
    {
      fmt[ulong_fmt(fmt, linemax)] = 0 ;
      strerr_dief(EX_DATAERR, "invalid header: a header line is longer than ", fmt, " bytes (control/injectlinemax)") ;
    }
    if (hdr.len > headermax)
    {
      fmt[ulong_fmt(fmt, headermax)] = 0 ;
      strerr_dief(EX_DATAERR, "invalid header: the header is larger than ", fmt, " bytes (control/injectheadermax)") ;
    }
    if (!r)
    {
      /* the input ends inside the header, in a line with no LF */
      if (!stralloc_catb(&hdr, "\n", 1)) die_nomem() ;
      hlen = bodystart = hdr.len ;
      return ;
    }
  }
}

static char const *const addrfields[] =
{
  "From", "Sender", "Reply-To", "To", "Cc", "Bcc",
  "Resent-From", "Resent-Sender", "Resent-Reply-To", "Resent-To", "Resent-Cc", "Resent-Bcc", 0
} ;

static field *fields = 0 ;
static size_t nfields = 0 ;
static int has_from = 0, has_date = 0, has_msgid = 0 ;
static int resent = 0, has_rfrom = 0, has_rdate = 0, has_rmsgid = 0 ;
static stralloc rcpt_plain = STRALLOC_ZERO ;   /* To, Cc, Bcc */
static stralloc rcpt_resent = STRALLOC_ZERO ;  /* Resent-To, -Cc, -Bcc */

static size_t lineno (size_t pos)
{
  size_t n = 1, i ;
  for (i = 0 ; i < pos && i < hlen ; i++) if (hdr.s[i] == '\n') n++ ;
  return n ;
}

static void parseheader (void)
{
  size_t pos = 0, cap = 0 ;
  for (;;)
  {
    rfc5322_field f ;
    rfc5322_error e = RFC5322_ERROR_ZERO ;
    int r = rfc5322_field_next(hdr.s, hlen, &pos, linemax, &f, &e) ;
    char const *name ;
    if (r < 0)
    {
      char fmt[SIZE_FMT] ;
      char lim[ULONG_FMT] ;
      fmt[size_fmt(fmt, lineno(e.pos))] = 0 ;
      lim[ulong_fmt(lim, linemax)] = 0 ;
      if (!strcmp(e.what, "header line too long"))
        strerr_dief(EX_DATAERR, "invalid header: line ", fmt, " is longer than ", lim, " bytes (control/injectlinemax)") ;
      strerr_dief(EX_DATAERR, "invalid header: line ", fmt, ": ", e.what) ;
    }
    if (!r) break ;
    if (nfields == cap)
    {
      field *nf ;
      cap = cap ? 2 * cap : 32 ;
      nf = realloc(fields, cap * sizeof(field)) ;
      if (!nf) die_nomem() ;
      fields = nf ;
    }
    fields[nfields].f = f ;
    fields[nfields].flags = 0 ;
    name = hdr.s + f.start ;
    if (f.namelen >= 7 && rfc5322_field_is(name, 7, "Resent-")) resent = 1 ;
    if (rfc5322_field_is(name, f.namelen, "From")) has_from = 1 ;
    else if (rfc5322_field_is(name, f.namelen, "Date")) has_date = 1 ;
    else if (rfc5322_field_is(name, f.namelen, "Message-ID")) has_msgid = 1 ;
    else if (rfc5322_field_is(name, f.namelen, "Resent-From")) has_rfrom = 1 ;
    else if (rfc5322_field_is(name, f.namelen, "Resent-Date")) has_rdate = 1 ;
    else if (rfc5322_field_is(name, f.namelen, "Resent-Message-ID")) has_rmsgid = 1 ;
    {
      char const *const *p ;
      for (p = addrfields ; *p ; p++) if (rfc5322_field_is(name, f.namelen, *p)) break ;
      if (*p)
      {
        char where[64] ;
        stralloc *dst = 0 ;
        stralloc junk = STRALLOC_ZERO ;
        size_t n = strlen(*p) ;
        memcpy(where, "invalid ", 8) ;
        memcpy(where + 8, *p, n) ;
        memcpy(where + 8 + n, " header field: ", 16) ;
        if (!strcmp(*p, "To") || !strcmp(*p, "Cc") || !strcmp(*p, "Bcc")) dst = &rcpt_plain ;
        else if (!strcmp(*p, "Resent-To") || !strcmp(*p, "Resent-Cc") || !strcmp(*p, "Resent-Bcc")) dst = &rcpt_resent ;
        addrlist(hdr.s + f.body, f.end - f.body, dst ? dst : &junk, where, f.body, EX_DATAERR) ;
        stralloc_free(&junk) ;
        if (!strcmp(*p, "Bcc") || !strcmp(*p, "Resent-Bcc")) fields[nfields].flags |= F_DROP ;
      }
    }
    nfields++ ;
  }
  if (pos != hlen) strerr_dief(EX_SOFTWARE, "internal error: header not read to its end") ;
}

/* Fields we add. */

static void catdate (stralloc *sa)
{
  char s[RFC5322_DATE_FMT] ;
  size_t n = rfc5322_date_fmt(s, time(0)) ;
  if (!n) strerr_diefusys(EX_OSERR, "read the clock") ;
  if (!stralloc_catb(sa, s, n) || !stralloc_catb(sa, "\n", 1)) die_nomem() ;
}

static void catmsgid (stralloc *sa)
{
  static char const hex[] = "0123456789abcdef" ;
  struct timespec now ;
  char s[UINT64_FMT * 3 + 40] ;
  unsigned char rnd[8] ;
  size_t n = 0, i ;
  if (clock_gettime(CLOCK_REALTIME, &now) < 0) strerr_diefusys(EX_OSERR, "read the clock") ;
  random_buf((char *)rnd, sizeof rnd) ;
  s[n++] = '<' ;
  n += uint64_fmt(s + n, (uint64_t)now.tv_sec) ;
  s[n++] = '.' ;
  n += uint64_fmt(s + n, (uint64_t)now.tv_nsec / 1000) ;
  s[n++] = '.' ;
  n += uint64_fmt(s + n, (uint64_t)getpid()) ;
  s[n++] = '.' ;
  for (i = 0 ; i < sizeof rnd ; i++) { s[n++] = hex[rnd[i] >> 4] ; s[n++] = hex[rnd[i] & 15] ; }
  s[n++] = '@' ;
  if (!stralloc_catb(sa, s, n) || !stralloc_cats(sa, idhost.s) || !stralloc_catb(sa, ">\n", 2)) die_nomem() ;
}

static void catfrom (stralloc *sa)
{
  char const *at = strrchr(fromaddr.s, '@') ;
  stralloc local = STRALLOC_ZERO ;
  if (!at) at = fromaddr.s + fromaddr.len - 1 ;
  if (!stralloc_catb(&local, fromaddr.s, at - fromaddr.s) || !stralloc_0(&local)) die_nomem() ;
  if (fullname && *fullname)
  {
    if (!rfc5322_cat_phrase(sa, fullname) || !stralloc_catb(sa, " <", 2)) die_nomem() ;
    if (!rfc5322_cat_addr(sa, local.s, *at ? at + 1 : "") || !stralloc_catb(sa, ">\n", 2)) die_nomem() ;
  }
  else if (!rfc5322_cat_addr(sa, local.s, *at ? at + 1 : "") || !stralloc_catb(sa, "\n", 1)) die_nomem() ;
  stralloc_free(&local) ;
}

/* Who injected it: the real uid, which the caller cannot choose (unlike
   POSTIE_USER, POSTIE_HOST, -f and the From field), as qmail-queue's
   "invoked by uid N". */
static void catreceived (stralloc *sa)
{
  char fmt[UINT_FMT] ;
  fmt[uint_fmt(fmt, (unsigned int)getuid())] = 0 ;
  if (!stralloc_cats(sa, "Received: (postie-inject invoked by uid ") || !stralloc_cats(sa, fmt)
   || !stralloc_cats(sa, ");\n\t")) die_nomem() ;
  catdate(sa) ;
}

/* Recipients: every address once (the domain in any case), in the order
   first seen, as the first spelling seen. */

static stralloc rcpts = STRALLOC_ZERO ;
static size_t nrcpts = 0 ;

/* Two addresses are the same recipient when their local parts are equal
   and their domains equal in any case (RFC 5321 2.4: the local part may
   be case-sensitive, the domain is not). */
static int addrcmp (char const *a, char const *b)
{
  char const *ata = strrchr(a, '@'), *atb = strrchr(b, '@') ;
  size_t la = ata ? (size_t)(ata - a) : strlen(a), lb = atb ? (size_t)(atb - b) : strlen(b) ;
  int c = memcmp(a, b, la < lb ? la : lb) ;
  if (c) return c ;
  if (la != lb) return la < lb ? -1 : 1 ;
  if (!ata || !atb) return !ata - !atb ;
  return strcasecmp(ata + 1, atb + 1) ;
}

static char const *sortbase ;
static int cmpoff (void const *a, void const *b)
{
  size_t x = *(size_t const *)a, y = *(size_t const *)b ;
  int c = addrcmp(sortbase + x, sortbase + y) ;
  return c ? c : x < y ? -1 : x > y ;
}

static void dedup (void)
{
  size_t n = 0, i, *off ;
  char *keep ;
  stralloc out = STRALLOC_ZERO ;
  for (i = 0 ; i < rcpts.len ; i += strlen(rcpts.s + i) + 1) n++ ;
  if (!n) return ;
  off = malloc(n * sizeof(size_t)) ;
  keep = malloc(rcpts.len) ;
  if (!off || !keep) die_nomem() ;
  n = 0 ;
  for (i = 0 ; i < rcpts.len ; i += strlen(rcpts.s + i) + 1) off[n++] = i ;
  sortbase = rcpts.s ;
  qsort(off, n, sizeof(size_t), &cmpoff) ;
  memset(keep, 0, rcpts.len) ;
  for (i = 0 ; i < n ; i++)
    if (!i || addrcmp(rcpts.s + off[i], rcpts.s + off[i-1])) keep[off[i]] = 1 ;
  nrcpts = 0 ;
  for (i = 0 ; i < rcpts.len ; i += strlen(rcpts.s + i) + 1)
    if (keep[i])
    {
      if (!stralloc_catb(&out, rcpts.s + i, strlen(rcpts.s + i) + 1)) die_nomem() ;
      nrcpts++ ;
    }
  free(off) ;
  free(keep) ;
  stralloc_free(&rcpts) ;
  rcpts = out ;
}

/* The queue program. */

static int mfd = -1 ;     /* the message, to the queue's fd 0 */
static int qdead = 0 ;    /* the queue stopped reading */
static char obuf[65536] ;
static buffer ob ;        /* on mfd, once the queue program runs */

/* A write to the queue program failed: a queue that stopped reading
   (EPIPE) gets nothing more, and its exit says why; anything else ends
   us. */
static void ofailed (void)
{
  if (errno != EPIPE) strerr_diefusys(EX_OSERR, "write to the queue program") ;
  qdead = 1 ;
}

static void oflush (void)
{
  if (!qdead && !buffer_flush(&ob)) ofailed() ;
}

static void oput (char const *s, size_t n)
{
  if (!qdead && buffer_put(&ob, s, n) < 0) ofailed() ;
}

/* Copies s[0, n) with CRLF made LF. */
static void oput_lf (char const *s, size_t n)
{
  size_t i = 0 ;
  while (i < n)
  {
    size_t j = i ;
    while (j < n && !(s[j] == '\r' && j + 1 < n && s[j+1] == '\n')) j++ ;
    oput(s + i, j - i) ;
    i = j + 1 ;  /* skip the CR of a CRLF */
  }
}

/* The body, as it streams: CRLF made LF; without -i, a line "." ends it. */
enum { B_BOL, B_MID, B_CR, B_DOT, B_DOTCR } ;
static int bstate = B_BOL ;

static int sawnul = 0 ;  /* a NUL byte: the message is refused */

/* Returns 1 when a "." line ended the message or a NUL byte was found
   (sawnul). */
static int body (char const *s, size_t n)
{
  size_t i ;
  for (i = 0 ; i < n ; i++)
  {
    char c = s[i] ;
    if (!c) { sawnul = 1 ; return 1 ; }
    switch (bstate)
    {
      case B_DOT :
        if (c == '\n') return 1 ;
        if (c == '\r') { bstate = B_DOTCR ; continue ; }
        oput(".", 1) ;
        bstate = B_MID ;
        break ;
      case B_DOTCR :
        if (c == '\n') return 1 ;
        oput(".", 1) ;
        bstate = B_CR ;
        break ;
      case B_BOL :
        if (c == '.' && !iflag) { bstate = B_DOT ; continue ; }
        bstate = B_MID ;
        break ;
      default : break ;
    }
    /* B_MID or B_CR */
    if (bstate == B_CR)
    {
      if (c == '\n') { oput("\n", 1) ; bstate = B_BOL ; continue ; }
      oput("\r", 1) ;
      if (c == '\r') continue ;
      bstate = B_MID ;
    }
    if (c == '\r') bstate = B_CR ;
    else if (c == '\n') { oput("\n", 1) ; bstate = B_BOL ; }
    else oput(&c, 1) ;
  }
  return 0 ;
}

static void body_end (void)
{
  /* a last line "." with no LF ends the message like ".\n" */
  if (bstate == B_DOTCR) oput(".\r", 2) ;
  else if (bstate == B_CR) oput("\r", 1) ;
}

static int qq_to_sysexit (int code)
{
  if (code == QQ_ENVELOPE) return EX_SOFTWARE ;
  if (queue_exit_permanent(code)) return EX_DATAERR ;
  return EX_TEMPFAIL ;
}

/* The fields we add: a resent block's on top, the others at the end. */
static void added_fields (stralloc *top, stralloc *end)
{
  if (resent)
  {
    if (!has_rfrom) { if (!stralloc_cats(top, "Resent-From: ")) die_nomem() ; catfrom(top) ; }
    if (!has_rdate) { if (!stralloc_cats(top, "Resent-Date: ")) die_nomem() ; catdate(top) ; }
    if (!has_rmsgid) { if (!stralloc_cats(top, "Resent-Message-ID: ")) die_nomem() ; catmsgid(top) ; }
  }
  if (!has_from) { if (!stralloc_cats(end, "From: ")) die_nomem() ; catfrom(end) ; }
  if (!has_date) { if (!stralloc_cats(end, "Date: ")) die_nomem() ; catdate(end) ; }
  if (!has_msgid) { if (!stralloc_cats(end, "Message-ID: ")) die_nomem() ; catmsgid(end) ; }
}

/* The queue program, started only now (nothing was written anywhere
   before: every error until here leaves nothing queued), given the
   message (our trace field, top, the header without Bcc, end, the blank
   line, the body) and env. Returns only when it queued the message. */
static void queue_message (stralloc const *top, stralloc const *end, stralloc const *env)
{
  int envfd = -1 ;   /* the envelope, to the queue's fd 1 */
  pid_t pid ;
  int wstat ;

  {
    postie_queue q ;
    /* our own postie-queue, next to this binary, whatever PATH holds */
    if (!postie_queue_start(&q, postie_queue_prog(), POSTIE_QUEUE_SIBLING))
      strerr_diefusys(EX_OSERR, "run the queue program ", postie_queue_prog()) ;
    pid = q.pid ; mfd = q.msgfd ; envfd = q.envfd ;
    buffer_init(&ob, &buffer_write, mfd, obuf, sizeof obuf) ;
  }

  {
    stralloc rcvd = STRALLOC_ZERO ;
    catreceived(&rcvd) ;
    oput(rcvd.s, rcvd.len) ;
    stralloc_free(&rcvd) ;
  }
  oput(top->s, top->len) ;
  {
    size_t i ;
    for (i = 0 ; i < nfields ; i++)
      if (!(fields[i].flags & F_DROP))
        oput_lf(hdr.s + fields[i].f.start, fields[i].f.next - fields[i].f.start) ;
  }
  oput(end->s, end->len) ;
  oput("\n", 1) ;
  if (!ended && !body(hdr.s + bodystart, hdr.len - bodystart))
  {
    for (;;)
    {
      char const *p ;
      size_t n ;
      if (qdead || !ifill()) { body_end() ; break ; }
      p = ibuf + ipos ;
      n = ilen - ipos ;
      ipos = ilen ;
      if (body(p, n)) break ;
    }
  }
  if (sawnul)
  {
    /* Mail cannot carry a NUL (RFC 5321 2.3.8): a next server that drops
       it could see the message end elsewhere. No envelope: the queue
       program queues nothing (doc/postie-queue.md). */
    close(mfd) ;
    close(envfd) ;
    waitpid(pid, &wstat, 0) ;
    strerr_dief(EX_DATAERR, "message refused: a NUL byte in the body (mail cannot carry it): nothing queued") ;
  }
  oflush() ;
  close(mfd) ;
  if (!qdead && allwrite(envfd, env->s, env->len) < env->len && errno != EPIPE)
    strerr_diefusys(EX_OSERR, "write the envelope to the queue program") ;
  close(envfd) ;

  if (waitpid(pid, &wstat, 0) < 0) strerr_diefusys(EX_OSERR, "wait for the queue program") ;
  if (WIFSIGNALED(wstat))
  {
    char fmt[UINT_FMT] ;
    fmt[uint_fmt(fmt, WTERMSIG(wstat))] = 0 ;
    strerr_dief(EX_TEMPFAIL, "queue program crashed (signal ", fmt, "): message not queued") ;
  }
  {
    int code = WEXITSTATUS(wstat) ;
    if (code)
    {
      char fmt[UINT_FMT] ;
      fmt[uint_fmt(fmt, (unsigned int)code)] = 0 ;
      strerr_dief(qq_to_sysexit(code), "message not queued: ", queue_exit_str(code), " (queue program exit ", fmt, ")") ;
    }
  }
}

int main (int argc, char const *const *argv)
{
  char const *fopt = 0 ;
  stralloc added_top = STRALLOC_ZERO, added_end = STRALLOC_ZERO, env = STRALLOC_ZERO ;

  if (!fd_sanitize()) strerr_diefusys(EX_OSERR, "open /dev/null on a closed fd 0, 1 or 2") ;
  signal(SIGPIPE, SIG_IGN) ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "tif:F:", &l) ;
      if (opt == -1) break ;
      switch (opt)
      {
        case 't' : tflag = 1 ; break ;
        case 'i' : iflag = 1 ; break ;
        case 'f' : fopt = l.arg ; break ;
        case 'F' : fullname = l.arg ; break ;
        default : dieusage() ;
      }
    }
    argc -= l.ind ; argv += l.ind ;
  }
  if (!argc && !tflag) strerr_dief(EX_USAGE, "no recipients: name them as arguments, or use -t") ;

  if (chdir(postie_home()) < 0) strerr_diefusys(EX_CONFIG, "enter the instance directory ", postie_home()) ;
  readcontrols() ;

  if (!fullname)
  {
    fullname = getenv("POSTIE_NAME") ;
    if (!fullname || !*fullname) fullname = getenv("NAME") ;
    if (fullname && (badname(fullname, 1) || strlen(fullname) > NAME_MAX_LEN))
      strerr_dief(EX_CONFIG, "invalid full name in POSTIE_NAME or NAME: control characters, or too long") ;
  }
  else if (badname(fullname, 1) || strlen(fullname) > NAME_MAX_LEN)
    strerr_dief(EX_USAGE, "invalid full name for -F: control characters, or too long") ;

  /* Sender and From. */
  defaultaddr(&fromaddr) ;
  if (fopt)
  {
    setsender(fopt) ;
    if (sender.len > 1 && !stralloc_copy(&fromaddr, &sender)) die_nomem() ;
  }
  else if (!stralloc_copy(&sender, &fromaddr)) die_nomem() ;

  /* Recipients from the arguments. */
  for (; *argv ; argv++) addrlist(*argv, strlen(*argv), &rcpts, "invalid recipient: ", NOTHEADER, EX_USAGE) ;

  readheader() ;
  parseheader() ;
  if (tflag)
  {
    stralloc *from = resent ? &rcpt_resent : &rcpt_plain ;
    if (!stralloc_catb(&rcpts, from->s, from->len)) die_nomem() ;
  }
  dedup() ;
  if (!nrcpts)
    strerr_dief(tflag ? EX_DATAERR : EX_USAGE, resent ? "no recipients: no address in Resent-To, Resent-Cc or Resent-Bcc, and none given as arguments"
                : "no recipients: no address in To, Cc or Bcc, and none given as arguments") ;

  added_fields(&added_top, &added_end) ;

  /* The envelope. */
  /* sender holds its address and a NUL */
  if (!postie_queue_envelope(&env, sender.s, sender.len ? sender.len - 1 : 0, rcpts.s, rcpts.len)) die_nomem() ;

  queue_message(&added_top, &added_end, &env) ;
  return 0 ;
}
