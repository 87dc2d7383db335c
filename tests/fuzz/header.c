/* Fuzz target: rfc5322_field_next and rfc5322_field_start
   (programs/lib/rfc5322_field.c), which split the header postie-inject
   reads into fields; each address field's body then goes through
   rfc5322_addrlist, as postie-inject -t does.
   Input: the header. Checks: every field lies inside the input, in
   order (start < body <= end <= next, the name before its colon), the
   position only moves forward, and an error says where. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include "rfc5322.h"

static char const *const addrfields[] = { "from", "to", "cc", "bcc", "reply-to", "sender", "resent-to", "resent-cc", "resent-bcc", 0 } ;

int LLVMFuzzerTestOneInput (uint8_t const *data, size_t size)
{
  char const *s = (char const *)data ;
  stralloc out = STRALLOC_ZERO ;
  size_t pos = 0, linemax = 998 ;
  rfc5322_error e = RFC5322_ERROR_ZERO ;
  rfc5322_field f ;
  int r ;
  /* a short line limit now and then, to reach the overlong-line paths */
  if (size && data[0] == '!') linemax = 16 ;
  while ((r = rfc5322_field_next(s, size, &pos, linemax, &f, &e)) == 1)
  {
    size_t n = 0 ;
    if (!(f.start < f.body && f.body <= f.end && f.end <= f.next && f.next <= size && f.next == pos)) abort() ;
    if (!f.namelen || f.start + f.namelen >= f.body || s[f.body - 1] != ':') abort() ;
    if (rfc5322_field_start(s + f.start, f.end - f.start) != f.namelen) abort() ;
    if (memchr(s + f.start, 0, f.next - f.start)) abort() ;
    for (unsigned int i = 0 ; addrfields[i] ; i++)
      if (rfc5322_field_is(s + f.start, f.namelen, addrfields[i]))
      {
        rfc5322_error e2 = RFC5322_ERROR_ZERO ;
        out.len = 0 ;
        int a = rfc5322_addrlist(s + f.body, f.end - f.body, 0, &out, &n, &e2) ;
        if (a < 0 || (!a && (!e2.what || e2.pos > f.end - f.body))) abort() ;
        break ;
      }
  }
  if (r < 0 && (!e.what || e.pos >= size)) abort() ;
  if (pos > size) abort() ;
  stralloc_free(&out) ;
  return 0 ;
}
