/* logline.c: one sanitized log line on stderr (logline.h). */
#include <stdlib.h>
#include <string.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/types.h>
#include "logline.h"

void logline_catb (logline *l, char const *s, size_t n)
{
  for (size_t i = 0 ; i < n && l->n < LOGLINE_MAX - 1 ; i++)
    l->buf[l->n++] = (unsigned char)s[i] < 32 || s[i] == 127 ? '?' : s[i] ;
}

void logline_cat (logline *l, char const *s)
{
  logline_catb(l, s, strlen(s)) ;
}

void logline_start (logline *l, char const *prog)
{
  l->n = 0 ;
  logline_cat(l, prog) ;
  logline_cat(l, ": ") ;
}

void logline_num (logline *l, uint64_t u)
{
  char fmt[UINT64_FMT] ;
  logline_catb(l, fmt, uint64_fmt(fmt, u)) ;
}

void logline_env (logline *l, char const *key, char const *var)
{
  char const *x = getenv(var) ;
  logline_cat(l, " ") ;
  logline_cat(l, key) ;
  logline_cat(l, "=") ;
  logline_cat(l, x && *x ? x : "-") ;
}

/* One write(2) per line, never skalibs' buffer on fd 2: several
   processes (a service's sessions) share one log pipe, and a line written
   whole, under PIPE_BUF, is never cut into by another's. */
void logline_end (logline *l)
{
  l->buf[l->n++] = '\n' ;
  allwrite(2, l->buf, l->n) ;
  l->n = 0 ;
}
