/* results.c: postie-remote's recipients and its result lines on stdout,
   one per recipient and one for the message (doc/remote-results.md). */

#include <unistd.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "remote.h"

#define TEXT_MAX 998                /* result text: line + letter + LF <= 1000 */

char const *sender ;
char const *const *rcpt ;
unsigned int nrcpt ;
char *rstat ;
stralloc *rtext ;
stralloc mtext = STRALLOC_ZERO ;
static stralloc outbuf = STRALLOC_ZERO ;

void die_nomem (void)
{
  strerr_diefu1sys(111, "allocate") ;
}

void cat (stralloc *sa, char const *s)
{
  if (!stralloc_cats(sa, s)) die_nomem() ;
}

void catb (stralloc *sa, char const *s, size_t n)
{
  if (!stralloc_catb(sa, s, n)) die_nomem() ;
}

void catu (stralloc *sa, uint64_t u)
{
  char fmt[UINT64_FMT] ;
  catb(sa, fmt, uint64_fmt(fmt, u)) ;
}

void copy (stralloc *to, stralloc const *from)
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

/* The end: print every line and exit. When the message line is D or Z,
   every recipient takes it (the caller would do so anyway; writing it
   keeps the lines self-explanatory). */
void finish (char code)
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
void fail (char code, char const *a, char const *b, char const *c)
{
  mtext.len = 0 ;
  cat(&mtext, a) ;
  if (b) cat(&mtext, b) ;
  if (c) cat(&mtext, c) ;
  finish(code) ;
}

char codeletter (int code)
{
  return code >= 200 && code < 300 ? 'K' : code >= 500 && code < 600 ? 'D' : 'Z' ;
}
