/* Fuzz target: rfc5322_addrlist (programs/lib/rfc5322_addrlist.c), the
   parser of every address header postie-inject -t reads.
   Input: one flags byte (bit 0: RFC5322_BARE), then the field body.
   Checks, on an accepted list: each mailbox is four NUL-terminated
   strings with no CR, LF or other control character; then the round
   trip: the list written back (rfc5322_cat_phrase, rfc5322_cat_addr, a
   group as "name: ...;") parses again, to the same mailboxes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include "rfc5322.h"

/* The mailboxes of out: n records of 4 strings. */
static int split (stralloc const *sa, size_t n, char const **f)
{
  size_t pos = 0 ;
  for (size_t i = 0 ; i < 4 * n ; i++)
  {
    char const *nul ;
    if (pos >= sa->len) return 0 ;
    nul = memchr(sa->s + pos, 0, sa->len - pos) ;
    if (!nul) return 0 ;
    f[i] = sa->s + pos ;
    pos = nul - sa->s + 1 ;
  }
  return pos == sa->len ;
}

/* A failed check: what was written back, then abort (libFuzzer saves
   the input). */
static void bad (char const *what, stralloc const *fmt)
{
  fprintf(stderr, "addrlist: %s; written back: [%.*s]\n", what, fmt && fmt->s ? (int)fmt->len : 0, fmt && fmt->s ? fmt->s : "") ;
  abort() ;
}

static void clean (char const *s)
{
  for (; *s ; s++) if ((unsigned char)*s < 32 && *s != '\t') bad("control character in a parsed field", 0) ;
}

int LLVMFuzzerTestOneInput (uint8_t const *data, size_t size)
{
  stralloc out = STRALLOC_ZERO, fmt = STRALLOC_ZERO, again = STRALLOC_ZERO ;
  rfc5322_error e = RFC5322_ERROR_ZERO ;
  size_t n = 0, n2 = 0 ;
  unsigned int flags ;
  char const **f, **f2 ;
  int r ;
  if (!size) return 0 ;
  flags = data[0] & 1 ? RFC5322_BARE : 0 ;
  data++ ; size-- ;
  r = rfc5322_addrlist((char const *)data, size, flags, &out, &n, &e) ;
  if (r < 0) abort() ;
  if (!r)
  {
    if (!e.what || e.pos > size) abort() ;
    goto end ;
  }
  f = malloc((4 * n + 1) * sizeof *f) ;
  f2 = malloc((4 * n + 1) * sizeof *f2) ;
  if (!f || !f2) abort() ;
  if (!split(&out, n, f)) abort() ;
  for (size_t i = 0 ; i < 4 * n ; i++) clean(f[i]) ;

  /* written back */
  for (size_t i = 0 ; i < n ; i++)
  {
    char const *group = f[4*i], *name = f[4*i+1], *local = f[4*i+2], *domain = f[4*i+3] ;
    int ingroup = *group ;
    int samegroup = i && ingroup && !strcmp(f[4*(i-1)], group) ;
    if (i && *f[4*(i-1)] && !samegroup) { if (!stralloc_cats(&fmt, ";, ")) abort() ; }
    else if (i && !stralloc_cats(&fmt, ", ")) abort() ;
    if (ingroup && !samegroup)
      if (!rfc5322_cat_phrase(&fmt, group) || !stralloc_cats(&fmt, ": ")) abort() ;
    if (*name && (!rfc5322_cat_phrase(&fmt, name) || !stralloc_cats(&fmt, " <"))) abort() ;
    if (!rfc5322_cat_addr(&fmt, local, domain)) abort() ;
    if (*name && !stralloc_cats(&fmt, ">")) abort() ;
  }
  if (n && *f[4*(n-1)] && !stralloc_cats(&fmt, ";")) abort() ;

  r = rfc5322_addrlist(fmt.s ? fmt.s : "", fmt.len, flags, &again, &n2, &e) ;
  if (r != 1) bad(e.what, &fmt) ;
  if (n2 != n || !split(&again, n2, f2)) bad("not as many mailboxes", &fmt) ;
  for (size_t i = 0 ; i < 4 * n ; i++)
    if (strcmp(f[i], f2[i])) bad("not the same mailboxes", &fmt) ;
  free(f) ;
  free(f2) ;
 end:
  stralloc_free(&out) ;
  stralloc_free(&fmt) ;
  stralloc_free(&again) ;
  return 0 ;
}
