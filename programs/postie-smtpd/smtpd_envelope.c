/* postie-smtpd's MAIL and RCPT (RFC 5321 4.1.1.2, 4.1.1.3): the envelope
   of a transaction, every address and parameter checked before any is
   believed; relaying only for a RELAYCLIENT or a login. */

#include <string.h>
#include <strings.h>
#include <skalibs/stralloc.h>
#include <skalibs/types.h>
#include "postie.h"
#include "smtpd.h"

static stralloc addr = STRALLOC_ZERO ;  /* the address being parsed */

static int keyis (char const *s, size_t n, char const *key)
{
  return n == strlen(key) && !strncasecmp(s, key, n) ;
}

/* MAIL's ESMTP parameters (plen bytes at p, after the address), each
   checked before any is believed: 1 ok (*smtputf8 set when SMTPUTF8 was
   given), 0 the reply is sent. */
static int mail_params (char const *p, size_t plen, int *smtputf8)
{
  int seensize = 0, seenbody = 0, seenutf8 = 0, seenauth = 0 ;
  while (plen)
  {
    size_t n = 0, klen, vlen ;
    char const *v ;
    while (plen && *p == ' ') { p++ ; plen-- ; }
    while (n < plen && p[n] != ' ') n++ ;
    if (!n) break ;
    if (session.helostate != 2) { err("555 5.5.4 Parameters need EHLO\r\n") ; return 0 ; }
    if (!param_split(p, n, &klen, &v, &vlen)) { err("501 5.5.4 Bad parameter syntax\r\n") ; return 0 ; }
    if (keyis(p, klen, "SIZE"))
    {
      uint64_t size = 0 ;
      size_t i ;
      if (seensize++) { err("501 5.5.4 Duplicate SIZE parameter\r\n") ; return 0 ; }
      if (!v) { err("501 5.5.4 Bad SIZE value\r\n") ; return 0 ; }
      for (i = 0 ; i < vlen ; i++)
      {
        if (v[i] < '0' || v[i] > '9') { err("501 5.5.4 Bad SIZE value\r\n") ; return 0 ; }
        if (size > (UINT64_MAX - 9) / 10) size = UINT64_MAX ;
        else size = size * 10 + (v[i] - '0') ;
      }
      if (vlen > 20) size = UINT64_MAX ;
      if (settings.databytes && size > settings.databytes)
      {
        err("552 5.3.4 Message size exceeds fixed maximum message size\r\n") ;
        return 0 ;
      }
    }
    else if (keyis(p, klen, "BODY"))
    {
      if (seenbody++) { err("501 5.5.4 Duplicate BODY parameter\r\n") ; return 0 ; }
      if (!v || !(keyis(v, vlen, "7BIT") || keyis(v, vlen, "8BITMIME")))
      { err("501 5.5.4 Bad BODY value (7BIT or 8BITMIME)\r\n") ; return 0 ; }
    }
    else if (keyis(p, klen, "SMTPUTF8"))
    {
      if (seenutf8++) { err("501 5.5.4 Duplicate SMTPUTF8 parameter\r\n") ; return 0 ; }
      if (v) { err("501 5.5.4 SMTPUTF8 takes no value\r\n") ; return 0 ; }
    }
    else if (keyis(p, klen, "AUTH") && session.authoffer)
    {
      /* RFC 4954 5: we do not trust the client's claim; accepted and
         ignored, as AUTH=<> would be. */
      if (seenauth++) { err("501 5.5.4 Duplicate AUTH parameter\r\n") ; return 0 ; }
      if (!v) { err("501 5.5.4 Bad AUTH value\r\n") ; return 0 ; }
    }
    else { err("555 5.5.4 Unsupported parameter\r\n") ; return 0 ; }
    p += n ;
    plen -= n ;
  }
  *smtputf8 = seenutf8 ;
  return 1 ;
}

/* SENDERLOGIN=match: the sender in addr must be one of the login's own
   addresses. 1 it is, 0 the reply is sent. */
static int sender_allowed (void)
{
  int r = sender_owned(session.authuser, addr.s, addr.len) ;
  if (r < 0) { out("451 4.3.0 Unable to check the sender address, try again later\r\n") ; return 0 ; }
  if (!r)
  {
    logstart("refused") ;
    logstr(" ip=") ; logstr(session.remoteip) ;
    logstr(" auth=") ; logstr(session.authuser) ;
    logstr(" from=<") ; logbytes(addr.s, addr.len) ; logstr(">") ;
    logstr(" reason=sender address not owned by the login") ;
    logend() ;
    {
      static char const a[] = "553 5.7.1 Sender address rejected: not owned by user " ;
      static char const b[] = " (use one of your own addresses)\r\n" ;
      char rep[sizeof a + sizeof session.authshow + sizeof b] ;
      size_t n = strlen(session.authshow) ;
      memcpy(rep, a, sizeof a - 1) ;
      memcpy(rep + sizeof a - 1, session.authshow, n) ;
      memcpy(rep + sizeof a - 1 + n, b, sizeof b) ;
      err(rep) ;
    }
    return 0 ;
  }
  return 1 ;
}

void smtp_mail (char const *arg)
{
  char const *p = afterkey(arg, "FROM:") ;
  size_t used, at, plen ;
  int r, smtputf8 = 0 ;
  if (!session.helostate) { err("503 5.5.1 Send EHLO first\r\n") ; return ; }
  if (session.authrequired && !session.authed) { err("530 5.7.0 Authentication required\r\n") ; return ; }
  if (transaction.havemail) { err("503 5.5.1 Nested MAIL command\r\n") ; return ; }
  if (!p) { err("501 5.5.4 Syntax: MAIL FROM:<address>\r\n") ; return ; }
  plen = strlen(p) ;
  r = addr_parse(p, plen, ADDR_NULLOK | ADDR_UTF8, &addr, &used, &at) ;
  if (r < 0) die_nomem() ;
  if (!r) { err("501 5.1.7 Bad sender address syntax\r\n") ; return ; }
  p += used ;
  plen -= used ;
  if (plen && *p != ' ') { err("501 5.1.7 Bad sender address syntax\r\n") ; return ; }
  if (!mail_params(p, plen, &smtputf8)) return ;
  if (addr.len && !smtputf8)
  {
    size_t i ;
    for (i = 0 ; i < addr.len ; i++) if ((unsigned char)addr.s[i] >= 0x80) break ;
    if (i < addr.len) { err("553 5.6.7 Non-ASCII address needs SMTPUTF8\r\n") ; return ; }
  }
  if (session.authed && session.senderlogin && addr.len && !sender_allowed()) return ;
  if (!stralloc_copyb(&transaction.sender, addr.s, addr.len) || !stralloc_0(&transaction.sender)) die_nomem() ;
  transaction.sender.len-- ;
  transaction.smtputf8 = smtputf8 ;
  transaction.havemail = 1 ;
  transaction.rcpts.len = 0 ;
  transaction.nrcpt = 0 ;
  out("250 2.1.0 Ok\r\n") ;
}

/* 1 if this address is in the transaction's envelope already. */
static int rcpt_listed (char const *a, size_t n)
{
  size_t i = 0 ;
  while (i < transaction.rcpts.len)
  {
    size_t k = strlen(transaction.rcpts.s + i + 1) ;
    if (k == n && !memcmp(transaction.rcpts.s + i + 1, a, n)) return 1 ;
    i += k + 2 ;
  }
  return 0 ;
}

void smtp_rcpt (char const *arg)
{
  char const *p = afterkey(arg, "TO:") ;
  size_t used, at, plen ;
  int r ;
  if (!transaction.havemail) { err("503 5.5.1 Need MAIL before RCPT\r\n") ; return ; }
  if (!p) { err("501 5.5.4 Syntax: RCPT TO:<address>\r\n") ; return ; }
  if (transaction.nrcpt >= settings.maxrcpt) { junk() ; out("452 4.5.3 Too many recipients\r\n") ; return ; }
  plen = strlen(p) ;
  r = addr_parse(p, plen, ADDR_POSTMASTER | (transaction.smtputf8 ? ADDR_UTF8 : 0), &addr, &used, &at) ;
  if (r < 0) die_nomem() ;
  if (r == 2) { err("553 5.6.7 Non-ASCII address needs SMTPUTF8\r\n") ; return ; }
  if (!r) { err("501 5.1.3 Bad recipient address syntax\r\n") ; return ; }
  p += used ;
  while (*p == ' ') p++ ;
  if (*p) { err("555 5.5.4 Unsupported parameter\r\n") ; return ; }
  if (at == addr.len)
  {
    /* <postmaster> (RFC 5321 4.5.1): always accepted, for us. */
    if (!stralloc_cats(&addr, "@") || !stralloc_cats(&addr, settings.me.s) || !stralloc_0(&addr)) die_nomem() ;
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
    if (!ours && !session.relayclient && !session.authed)
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
      if (r < 0 && session.localuid[0]) r = 1 ;
      if (r < 0) { out("451 4.3.0 Unable to check the recipient, try again later\r\n") ; return ; }
      if (!r) { err("550 5.1.1 No such user here\r\n") ; return ; }
    }
  }
  /* The same recipient again (addr_parse lowercased the domain, so a
     byte comparison is case-insensitive on the domain only): accepted,
     but not a second time in the envelope, so it is delivered once. */
  if (rcpt_listed(addr.s, addr.len)) { junk() ; out("250 2.1.5 Ok (duplicate recipient, delivered once)\r\n") ; return ; }
  if (!stralloc_catb(&transaction.rcpts, "T", 1) || !stralloc_catb(&transaction.rcpts, addr.s, addr.len + 1)) die_nomem() ;
  transaction.nrcpt++ ;
  out("250 2.1.5 Ok\r\n") ;
}

