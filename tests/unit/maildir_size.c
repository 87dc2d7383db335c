/* Unit test: the size of a Maildir message as POP3 sends it, and the size
   fields of its file name (programs/lib/maildir_size.c). */
#include <stdio.h>
#include <string.h>
#include "maildir_size.h"

static int failed = 0 ;

static void check (char const *name, int cond)
{
  printf("%s maildir_size-%s\n", cond ? "PASS" : "FAIL", name) ;
  if (!cond) failed = 1 ;
}

/* the size as postie-pop3d sends it, counted here the slow way: every LF
   without a CR before it gets one, a last line without its end gets CRLF
   (only LF after a final CR) */
static unsigned long slow (char const *s, size_t n)
{
  unsigned long w = 0 ;
  for (size_t i = 0 ; i < n ; i++) { if (s[i] == '\n' && (!i || s[i-1] != '\r')) w++ ; w++ ; }
  if (n && s[n-1] != '\n') w += s[n-1] == '\r' ? 1 : 2 ;
  return w ;
}

/* the whole message at once, and cut at every position */
static int wire_is (char const *s, unsigned long want)
{
  size_t n = strlen(s) ;
  maildir_size a = MAILDIR_SIZE_ZERO ;
  maildir_size_add(&a, s, n) ;
  if (a.size != n || maildir_size_wire(&a) != want || want != slow(s, n)) return 0 ;
  for (size_t k = 0 ; k <= n ; k++)
  {
    maildir_size b = MAILDIR_SIZE_ZERO ;
    maildir_size_add(&b, s, k) ;
    maildir_size_add(&b, s + k, n - k) ;
    if (b.size != n || maildir_size_wire(&b) != want) return 0 ;
  }
  return 1 ;
}

int main (void)
{
  uint64_t s = 0, w = 0 ;
  check("empty", wire_is("", 0)) ;
  check("lf", wire_is("a\nb\n", 6)) ;
  check("crlf", wire_is("a\r\nb\r\n", 6)) ;
  check("mixed", wire_is("a\r\nb\nc\n", 9)) ;
  check("no-final-newline", wire_is("a\nb", 6)) ;
  check("final-cr", wire_is("a\nb\r", 6)) ;
  check("bare-cr-middle", wire_is("a\rb\n", 5)) ;
  check("blank-lines", wire_is("\n\n\n", 6)) ;
  check("dots-not-counted", wire_is(".\n..\n", 7)) ;

  check("name-both", maildir_size_fromname("1.M2P3Q4.host,S=120,W=125:2,S", &s, &w) == 3 && s == 120 && w == 125) ;
  s = w = 0 ;
  check("name-size-only", maildir_size_fromname("1.M2.host,S=77", &s, &w) == 1 && s == 77) ;
  check("name-none", maildir_size_fromname("1.M2.host:2,S", &s, &w) == 0) ;
  check("name-info-ignored", maildir_size_fromname("1.M2.host:2,W=5", &s, &w) == 0) ;
  check("name-not-a-number", maildir_size_fromname("1.host,W=12x", &s, &w) == 0) ;
  check("name-overflow", maildir_size_fromname("1.host,W=123456789012345678901234", &s, &w) == 0) ;
  check("name-empty-number", maildir_size_fromname("1.host,W=,S=3", &s, &w) == 1 && s == 3) ;
  check("name-last-wins", maildir_size_fromname("1.h,W=1,x,W=9", &s, &w) == 2 && w == 9) ;
  check("name-other-field", maildir_size_fromname("1.host,S=4,X=1,W=6", &s, &w) == 3 && s == 4 && w == 6) ;
  return failed ;
}
