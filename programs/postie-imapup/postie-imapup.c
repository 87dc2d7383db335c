/* postie-imapup: IMAP before login (RFC 3501 "not authenticated" state),
   the role postie-popup has for POP3:

     postie-imapup hostname checkpassword [args...]

   e.g. postie-imapup mail.example.org postie-checkpassword postie-imapd

   Commands: CAPABILITY, NOOP, LOGOUT, ID, STARTTLS (RFC 2595, through
   UCSPI-TLS), LOGIN (atoms, quoted strings, literals, LITERAL+), and
   AUTHENTICATE PLAIN (RFC 4616; SASL-IR, RFC 4959, or the continuation).
   A login runs the checkpassword chain with the client on fd 0 and fd 1
   (the UCSPI-TLS pipes after STARTTLS) and IMAPLOGINTAG set to the tag
   of the command, which the session program (postie-imapd) answers with
   its tagged OK. A login needs TLS unless AUTHCLEARTEXT is set (without
   it, CAPABILITY says LOGINDISABLED before TLS).

   Input is read one byte at a time, so nothing the client sent after the
   login (pipelined commands) is lost when the child takes over, and
   nothing sent after STARTTLS is read before the handshake. Lines and
   literals are bounded. */

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <skalibs/bytestr.h>
#include <skalibs/djbunix.h>
#include <skalibs/iopause.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>
#include "imap_literal.h"
#include "postie.h"
#include "prelogin.h"
#include "sasl.h"
#include "timedio.h"
#include "ucspitls.h"

#define USAGE "postie-imapup hostname checkpassword [args...]"

#define LINE_MAX 1024       /* a command line before login, CRLF included */
#define TAG_MAX 64
#define SASL_LINE_MAX 1024  /* an AUTHENTICATE PLAIN response */
#define USER_MAX 255
#define PASS_MAX 255

static prelogin lim = { .timeout = 1800, .faildelay = 2, .maxbad = 10, .maxfail = 3, .logintime = 120, .maxcmds = 30 } ;
static unsigned long nbad = 0 ;
static unsigned long nfail = 0 ;
static unsigned long ncmds = 0 ;
static tain loginend ;

static char const *hostname ;
static char const *const *cpargv ;
static ucspitls tls ;
static int authcleartext = 0 ;
static char tag[TAG_MAX + 1] ;

static void out (char const *s) { prelogin_out(&lim, s) ; }

/* "TAG text\r\n", in one write: a client reading a reply with one
   read must not take its end for the next one. */
static void tagged (char const *s)
{
  char buf[TAG_MAX + 200] ;
  size_t t = strlen(tag), n = strlen(s) ;
  if (n > sizeof buf - t - 4) n = sizeof buf - t - 4 ;
  memcpy(buf, tag, t) ; buf[t] = ' ' ;
  memcpy(buf + t + 1, s, n) ;
  memcpy(buf + t + 1 + n, "\r\n", 3) ;
  out(buf) ;
}

static void bye (char const *s, int e)
{
  char buf[200] ;
  size_t n = strlen(s) ;
  if (n > sizeof buf - 9) n = sizeof buf - 9 ;
  memcpy(buf, "* BYE ", 6) ;
  memcpy(buf + 6, s, n) ;
  memcpy(buf + 6 + n, "\r\n", 3) ;
  out(buf) ;
  _exit(e) ;
}

static void die_temp (void) { bye("[UNAVAILABLE] temporary failure", 111) ; }

static void bad (char const *s)
{
  tagged(s) ;
  if (++nbad >= lim.maxbad) bye("too many bad commands", 0) ;
}

static int canlogin (void) { return tls.active || authcleartext ; }

static void capabilities (void)
{
  out("IMAP4rev1 LITERAL+ SASL-IR ID") ;
  if (ucspitls_available(&tls)) out(" STARTTLS") ;
  out(canlogin() ? " AUTH=PLAIN" : " LOGINDISABLED") ;
}

/* Run the checkpassword chain. Returns only after a bad login. */
static void login (char const *name, size_t namelen, char const *pw, size_t pwlen)
{
  int r ;
  if (setenv("IMAPLOGINTAG", tag, 1) < 0) die_temp() ;
  r = prelogin_login(&lim, &nfail, cpargv, hostname, &tls, name, namelen, pw, pwlen) ;
  unsetenv("IMAPLOGINTAG") ;
  if (r < 0) die_temp() ;
  tagged("NO [AUTHENTICATIONFAILED] authentication failed") ;
  if (r > 1) bye("too many failed logins", 0) ;
}

static tain *deadline_now (tain *d, int *whole)
{
  tain_now_g() ;
  *whole = prelogin_deadline(&lim, &loginend, d) ;
  return d ;
}

static void timed_out (int whole)
{
  bye(whole ? "too long without logging in, closing" : "autologout: idle for too long", 0) ;
}

/* Read a line, strip its CRLF (or LF). Returns its length, or -1 for an
   overlong one (already answered). Exits at end of input or timeout. */
static ssize_t readline (char *line, size_t max)
{
  tain deadline ;
  size_t len ;
  int whole ;
  int r ;
  deadline_now(&deadline, &whole) ;
  r = timedio_getline(&prelogin_io, line, max, &len, &deadline) ;
  if (r == -2)
  {
    out("* BAD line too long\r\n") ;
    if (++nbad >= lim.maxbad) bye("too many bad commands", 0) ;
    return -1 ;
  }
  if (r == -1 && errno == ETIMEDOUT) timed_out(whole) ;
  if (r <= 0) _exit(0) ;
  len-- ;
  if (len && line[len-1] == '\r') len-- ;
  line[len] = 0 ;
  return len ;
}

/* A command that cannot be taken (bad syntax, wrong state): answered
   BAD. If the line announced a literal the client will send without
   waiting (LITERAL+), the session cannot find the next command again and
   ends. */
static void reject (char const *line, size_t len, char const *s)
{
  size_t n ;
  int sync ;
  int r = imap_literal_at_end(line, len, &n, &sync) ;
  if (r < 0 || (r > 0 && !sync))
  {
    tagged(s) ;
    bye("cannot skip a non-synchronizing literal", 0) ;
  }
  bad(s) ;
}

/* Parse one astring (atom, quoted string, or literal) from *pp, a
   position in line (whose length is *len), into o (at most omax bytes,
   NUL-terminated; a NUL inside is refused). A literal ends the line: it
   is read, then the rest of the command is read into line and *pp points
   at its start. Returns 1, 0 for bad syntax (nothing answered), -1 when
   the command was already answered (literal too big). */
static int astring (char *line, size_t *len, char **pp, char *o, size_t omax, size_t *olen)
{
  char *p = *pp ;
  size_t n = 0 ;
  if (*p == '"')
  {
    for (p++ ; *p && *p != '"' ; p++)
    {
      if (*p == '\\') { p++ ; if (*p != '"' && *p != '\\') return 0 ; }
      if (n >= omax) return 0 ;
      o[n++] = *p ;
    }
    if (*p != '"') return 0 ;
    p++ ;
  }
  else if (*p == '{')
  {
    tain deadline ;
    size_t lit ;
    int sync, whole, r ;
    ssize_t l ;
    r = imap_literal_at_end(line, *len, &lit, &sync) ;
    if (!r || strrchr(line, '{') != p) return 0 ;
    if (r < 0 || lit > omax)
    {
      if (r > 0 && sync) { bad("BAD literal too big") ; return -1 ; }
      tagged("BAD literal too big") ;
      bye("cannot skip a non-synchronizing literal", 0) ;
    }
    if (sync) out("+ Ready for literal data\r\n") ;
    r = timedio_get(&prelogin_io, o, lit, deadline_now(&deadline, &whole)) ;
    if (r < 0 && errno == ETIMEDOUT) timed_out(whole) ;
    if (r <= 0) _exit(0) ;
    if (memchr(o, 0, lit)) { memset(o, 0, lit) ; n = 0 ; o[0] = 0 ; }
    else n = lit ;
    l = readline(line, LINE_MAX) ;
    if (l < 0) { memset(o, 0, omax) ; return -1 ; }
    *len = l ;
    if (!n && lit) return 0 ;
    p = line ;
  }
  else
  {
    /* ASTRING-CHAR: any CHAR except ( ) { SP CTL % * " \ (] allowed) */
    for (; *p && *p != ' ' ; p++)
    {
      unsigned char c = *p ;
      if (c < 0x21 || c > 0x7e || strchr("(){%*\"\\", c)) return 0 ;
      if (n >= omax) return 0 ;
      o[n++] = c ;
    }
    if (!n) return 0 ;
  }
  o[n] = 0 ;
  *olen = n ;
  *pp = p ;
  return 1 ;
}

static void do_login (char *line, size_t len, char *args)
{
  char user[USER_MAX + 1] ;
  char pw[PASS_MAX + 1] ;
  size_t ulen, pwlen ;
  char *p = args ;
  int r ;
  if (!canlogin())
  {
    reject(line, len, "NO [PRIVACYREQUIRED] LOGIN only over TLS: use STARTTLS first") ;
    return ;
  }
  if (!p) { reject(line, len, "BAD syntax: LOGIN user password") ; return ; }
  r = astring(line, &len, &p, user, USER_MAX, &ulen) ;
  if (r < 0) return ;
  if (!r || *p != ' ') { reject(line, len, "BAD syntax: LOGIN user password") ; return ; }
  p++ ;
  r = astring(line, &len, &p, pw, PASS_MAX, &pwlen) ;
  if (r < 0) return ;
  if (!r || *p) { memset(pw, 0, sizeof pw) ; reject(line, len, "BAD syntax: LOGIN user password") ; return ; }
  login(user, ulen, pw, pwlen) ;
  memset(pw, 0, sizeof pw) ;
}

static void do_authenticate (char *line, size_t len, char *args)
{
  char resp[SASL_LINE_MAX + 1] ;
  char dec[SASL_LINE_MAX] ;
  char const *u, *pw ;
  char const *r64 ;
  size_t mlen, ulen, pwlen ;
  int r ;
  if (!args) { reject(line, len, "BAD syntax: AUTHENTICATE mechanism") ; return ; }
  mlen = strcspn(args, " ") ;
  if (mlen != 5 || case_diffb(args, 5, "PLAIN")) { reject(line, len, "NO unsupported mechanism") ; return ; }
  if (!canlogin())
  {
    reject(line, len, "NO [PRIVACYREQUIRED] authentication only over TLS: use STARTTLS first") ;
    return ;
  }
  {
    /* the initial response (RFC 4959) is an atom: a literal announced
       here, the client may send it unasked (LITERAL+), is refused with
       reject(), which ends the session rather than read it as commands */
    size_t ln ; int sy ;
    if (imap_literal_at_end(line, len, &ln, &sy)) { reject(line, len, "BAD syntax: AUTHENTICATE PLAIN [initial-response], no literal") ; return ; }
  }
  if (args[mlen]) r64 = args + mlen + 1 ;
  else
  {
    ssize_t l ;
    out("+ \r\n") ;
    l = readline(resp, SASL_LINE_MAX) ;
    if (l < 0) return ;
    r64 = resp ;
  }
  if (!strcmp(r64, "*")) { bad("BAD authentication cancelled") ; return ; }
  r = sasl_plain_decode(r64, dec, sizeof dec, &u, &ulen, &pw, &pwlen) ;
  byte_zzero(resp, sizeof resp) ;
  if (r == -2) { bad("BAD invalid base64") ; return ; }
  if (r > 0 && (!ulen || ulen > USER_MAX)) { byte_zzero(dec, sizeof dec) ; r = 0 ; }  /* as malformed */
  if (r < 0)
  {
    prelogin_pause(lim.faildelay) ;
    tagged("NO [AUTHORIZATIONFAILED] authorization identity not allowed") ;
    return ;
  }
  if (!r) { bad("BAD malformed PLAIN response") ; return ; }
  login(u, ulen, pw, pwlen) ;
  byte_zzero(dec, sizeof dec) ;
}

/* STARTTLS: OK in clear, then the handshake; nothing the client sent
   after the command has been read (input is read byte by byte). */
static void starttls (char *line, size_t len, char const *args)
{
  if (args) { reject(line, len, "BAD syntax: STARTTLS") ; return ; }
  if (tls.active) { bad("BAD TLS already active") ; return ; }
  if (!ucspitls_available(&tls)) { tagged("NO [UNAVAILABLE] TLS not available") ; return ; }
  tagged("OK Begin TLS negotiation now") ;
  prelogin_starttls(&lim, &tls) ;
}

static int cmdis (char const *s, size_t n, char const *cmd)
{
  return strlen(cmd) == n && !case_diffb(s, n, cmd) ;
}

/* tag: 1 to TAG_MAX ASTRING-CHARs other than '+' (RFC 3501 "tag") */
static size_t scantag (char const *s)
{
  size_t i = 0 ;
  for (; s[i] && s[i] != ' ' ; i++)
  {
    unsigned char c = s[i] ;
    if (c < 0x21 || c > 0x7e || strchr("(){%*\"\\+", c)) return 0 ;
  }
  return i <= TAG_MAX ? i : 0 ;
}

/* Over 80 lines: the start, then the pre-login command loop, one
   dispatch line per command. */
int main (int argc, char const *const *argv)
{
  char line[LINE_MAX + 1] ;
  PROG = "postie-imapup" ;
  if (argc < 3) strerr_dieusage(100, USAGE) ;
  hostname = argv[1] ;
  cpargv = argv + 2 ;
  authcleartext = !!getenv("AUTHCLEARTEXT") ;
  unsetenv("IMAPLOGINTAG") ;
  if (!prelogin_start(&lim, "imap", &tls, &loginend)) die_temp() ;
  {
    /* One write, as postie-popup's greeting. */
    char greet[600] ;
    size_t hlen = strlen(hostname), n = 0 ;
    int cl = canlogin() ;
    int st = ucspitls_available(&tls) ;
    if (hlen > 255) hlen = 255 ;
    memcpy(greet, "* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID", 46) ; n = 46 ;
    if (st) { memcpy(greet + n, " STARTTLS", 9) ; n += 9 ; }
    if (cl) { memcpy(greet + n, " AUTH=PLAIN] ", 13) ; n += 13 ; }
    else { memcpy(greet + n, " LOGINDISABLED] ", 16) ; n += 16 ; }
    memcpy(greet + n, hostname, hlen) ; n += hlen ;
    memcpy(greet + n, " IMAP4rev1 server ready\r\n", 26) ;
    out(greet) ;
  }
  strcpy(tag, "*") ;
  for (;;)
  {
    ssize_t len ;
    size_t tlen, cmdlen ;
    char *cmd, *args ;
    tain_now_g() ;
    if (!tain_less(&STAMP, &loginend)) bye("too long without logging in, closing", 0) ;
    if (++ncmds > lim.maxcmds) bye("too many commands without logging in, closing", 0) ;
    strcpy(tag, "*") ;
    len = readline(line, LINE_MAX) ;
    if (len < 0) continue ;
    if ((size_t)len != strlen(line)) { reject(line, len, "BAD NUL byte in command") ; continue ; }
    tlen = scantag(line) ;
    if (!tlen || line[tlen] != ' ') { reject(line, len, "BAD syntax: tag command") ; continue ; }
    memcpy(tag, line, tlen) ; tag[tlen] = 0 ;
    cmd = line + tlen + 1 ;
    cmdlen = strcspn(cmd, " ") ;
    args = cmd[cmdlen] ? cmd + cmdlen + 1 : 0 ;

    if (cmdis(cmd, cmdlen, "CAPABILITY"))
    {
      if (args) { reject(line, len, "BAD syntax: CAPABILITY") ; continue ; }
      out("* CAPABILITY ") ; capabilities() ; out("\r\n") ;
      tagged("OK CAPABILITY completed") ;
    }
    else if (cmdis(cmd, cmdlen, "NOOP"))
    {
      if (args) { reject(line, len, "BAD syntax: NOOP") ; continue ; }
      tagged("OK NOOP completed") ;
    }
    else if (cmdis(cmd, cmdlen, "LOGOUT"))
    {
      if (args) { reject(line, len, "BAD syntax: LOGOUT") ; continue ; }
      out("* BYE logging out\r\n") ;
      tagged("OK LOGOUT completed") ;
      return 0 ;
    }
    else if (cmdis(cmd, cmdlen, "ID"))
    {
      /* RFC 2971: what the client says is not kept */
      if (!args) { reject(line, len, "BAD syntax: ID parameters") ; continue ; }
      {
        size_t n ; int sync ;
        if (imap_literal_at_end(line, len, &n, &sync)) { reject(line, len, "BAD no literals in ID here") ; continue ; }
      }
      out("* ID (\"name\" \"postie\")\r\n") ;
      tagged("OK ID completed") ;
    }
    else if (cmdis(cmd, cmdlen, "STARTTLS")) starttls(line, len, args) ;
    else if (cmdis(cmd, cmdlen, "LOGIN")) do_login(line, len, args) ;
    else if (cmdis(cmd, cmdlen, "AUTHENTICATE")) do_authenticate(line, len, args) ;
    else if (cmdis(cmd, cmdlen, "SELECT") || cmdis(cmd, cmdlen, "EXAMINE") || cmdis(cmd, cmdlen, "LIST")
          || cmdis(cmd, cmdlen, "LSUB") || cmdis(cmd, cmdlen, "STATUS") || cmdis(cmd, cmdlen, "FETCH")
          || cmdis(cmd, cmdlen, "UID") || cmdis(cmd, cmdlen, "APPEND") || cmdis(cmd, cmdlen, "CREATE")
          || cmdis(cmd, cmdlen, "ENABLE") || cmdis(cmd, cmdlen, "NAMESPACE") || cmdis(cmd, cmdlen, "IDLE"))
      reject(line, len, "BAD log in first") ;
    else reject(line, len, "BAD unknown command") ;
    memset(line, 0, sizeof line) ;
  }
}
