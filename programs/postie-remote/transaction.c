/* transaction.c: postie-remote's mail transaction, MAIL, RCPT... and
   DATA (pipelined when the server offers it), then the message. */

#include <stdlib.h>
#include <string.h>
#include "rfc5322.h"
#include "remote.h"

#define PIPELINE_BATCH 100          /* commands sent before reading replies */

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

/* MAIL FROM (which == nrcpt) or RCPT TO (which < nrcpt), without CRLF */
static void envelope_command (stralloc *c, unsigned int which)
{
  if (which == nrcpt)
  {
    cat(c, "MAIL FROM:<") ; catpath(c, sender) ; cat(c, ">") ;
    if (ext_size) { cat(c, " SIZE=") ; catu(c, wiresize) ; }
    if (msg8bit && ext_8bitmime) cat(c, " BODY=8BITMIME") ;
    if (addr8bit) cat(c, " SMTPUTF8") ;
  }
  else { cat(c, "RCPT TO:<") ; catpath(c, rcpt[which]) ; cat(c, ">") ; }
}

/* The server's code after DATA, some recipient accepted: the message,
   then its reply; never returns. */
static void message_send (int code) gccattr_noreturn ;
static void message_send (int code)
{
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

/* MAIL, RCPT..., DATA, the message; never returns. */
void transaction (void)
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
        if (which <= nrcpt) envelope_command(&c, which) ;
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
      if (mailcode / 100 == 2 && naccepted) message_send(code) ;
      /* pipelined DATA nobody wants: end it empty if the server took it */
      if (code == 354) { if (oputs(".\r\n")) getreply() ; }
      break ;
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
