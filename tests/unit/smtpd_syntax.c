/* Unit tests for postie-smtpd's parsers: RFC 5321 paths
   (programs/postie-smtpd/smtpd_addr.c, the program's own object) and
   strict base64 (programs/lib/base64.c). */
/* links: postie-smtpd */
#include <stdio.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include "smtpd.h"
#include "base64.h"

static int failed = 0 ;

static void check (char const *name, int ok, char const *why)
{
  if (ok) printf("PASS %s\n", name) ;
  else { printf("FAIL %s: %s\n", name, why) ; failed++ ; }
}

struct acase { char const *in ; unsigned int flags ; int ret ; char const *out ; size_t used ; } ;

int main (void)
{
  static struct acase const cases[] =
  {
    { "<a@b.example>", 0, 1, "a@b.example", 13 },
    { "<A.B@Ex-Ample.ORG>", 0, 1, "A.B@ex-ample.org", 18 },
    { "<a@b.example> SIZE=1", 0, 1, "a@b.example", 13 },
    { "<>", ADDR_NULLOK, 1, "", 2 },
    { "<>", 0, 0, 0, 0 },
    { "<@r1.example,@r2.example:u@d.example>", 0, 1, "u@d.example", 37 },
    { "<@r1.example:u@d.example>", 0, 1, "u@d.example", 25 },
    { "<@:u@d.example>", 0, 0, 0, 0 },
    { "<\"john doe\"@d.example>", 0, 1, "john doe@d.example", 22 },
    { "<\"a\\\"b\"@d.example>", 0, 1, "a\"b@d.example", 18 },
    { "<\"a@b\"@d.example>", 0, 0, 0, 0 },
    { "<\"\"@d.example>", 0, 0, 0, 0 },
    { "<\"a\tb\"@d.example>", 0, 0, 0, 0 },
    { "<a..b@d.example>", 0, 0, 0, 0 },
    { "<.a@d.example>", 0, 0, 0, 0 },
    { "<a.@d.example>", 0, 0, 0, 0 },
    { "<a@d.example.>", 0, 0, 0, 0 },
    { "<a@.d.example>", 0, 0, 0, 0 },
    { "<a@d..example>", 0, 0, 0, 0 },
    { "<a@-d.example>", 0, 0, 0, 0 },
    { "<a@d-.example>", 0, 0, 0, 0 },
    { "<a@d_x.example>", 0, 0, 0, 0 },
    { "<a@>", 0, 0, 0, 0 },
    { "<@d.example>", 0, 0, 0, 0 },
    { "<a>", 0, 0, 0, 0 },
    { "<postmaster>", ADDR_POSTMASTER, 1, "postmaster", 12 },
    { "<PostMaster>", ADDR_POSTMASTER, 1, "PostMaster", 12 },
    { "<postmaster>", 0, 0, 0, 0 },
    { "<a@b@c.example>", 0, 0, 0, 0 },
    { "<a@[127.0.0.1]>", 0, 1, "a@[127.0.0.1]", 15 },
    { "<a@[256.0.0.1]>", 0, 0, 0, 0 },
    { "<a@[1.2.3]>", 0, 0, 0, 0 },
    { "<a@[1.2.3.4.5]>", 0, 0, 0, 0 },
    { "<a@[01234.1.1.1]>", 0, 0, 0, 0 },
    { "<a@[IPv6:::1]>", 0, 1, "a@[ipv6:::1]", 14 },
    { "<a@[IPv6:zz::1]>", 0, 0, 0, 0 },
    { "<a@[127.0.0.1>", 0, 0, 0, 0 },
    { "a@b.example", 0, 0, 0, 0 },
    { "<a@b.example", 0, 0, 0, 0 },
    { "<a b@c.example>", 0, 0, 0, 0 },
    { "<a;b@c.example>", 0, 0, 0, 0 },
    { "<a(b)@c.example>", 0, 0, 0, 0 },
    { "<${x}@c.example>", 0, 1, "${x}@c.example", 16 },
    { "<\xc3\xbc@c.example>", 0, 2, 0, 0 },
    { "<\xc3\xbc@c.example>", ADDR_UTF8, 1, "\xc3\xbc@c.example", 14 },
    { "<u@\xc3\xbc.example>", ADDR_UTF8, 1, "u@\xc3\xbc.example", 14 },
    { "<\xc3@c.example>", ADDR_UTF8, 0, 0, 0 },
    { "<\xc0\xaf@c.example>", ADDR_UTF8, 0, 0, 0 },
    { "<\xed\xa0\x80@c.example>", ADDR_UTF8, 0, 0, 0 },
    { "<a@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example>", 0, 1, "a@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example", 75 },
    { "<a@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example>", 0, 0, 0, 0 },
  } ;
  stralloc sa = STRALLOC_ZERO ;
  char name[200] ;
  for (size_t i = 0 ; i < sizeof cases / sizeof *cases ; i++)
  {
    size_t used = 0, at = 0 ;
    int r = addr_parse(cases[i].in, strlen(cases[i].in), cases[i].flags, &sa, &used, &at) ;
    int ok = r == cases[i].ret ;
    if (ok && r == 1) ok = sa.len == strlen(cases[i].out) && !memcmp(sa.s, cases[i].out, sa.len) && used == cases[i].used ;
    snprintf(name, sizeof name, "addr-%zu", i) ;
    {
      char why[300] ;
      snprintf(why, sizeof why, "%s: got %d used=%zu out=%.*s", cases[i].in, r, used, r == 1 ? (int)sa.len : 0, sa.s ? sa.s : "") ;
      check(name, ok, why) ;
    }
  }
  {
    size_t used, at ;
    int r = addr_parse("<a.b@c.example>", 15, 0, &sa, &used, &at) ;
    check("addr-at-offset", r == 1 && at == 3, "at") ;
  }
  {
    /* A domain of 256 bytes (four labels of 63 and dots) is refused. */
    char big[400] ;
    size_t n = 0, used, at ;
    big[n++] = '<' ; big[n++] = 'a' ; big[n++] = '@' ;
    for (int l = 0 ; l < 4 ; l++) { memset(big + n, 'x', 63) ; n += 63 ; big[n++] = '.' ; }
    memcpy(big + n, "ex>", 3) ; n += 3 ;
    check("addr-domain-over-255", addr_parse(big, n, 0, &sa, &used, &at) == 0, "accepted") ;
  }
  {
    /* A NUL in an IPv6 literal: inet_pton stopped there and the rest,
       NUL included, went into the address (tests/fuzz/smtpd_addr). The
       command loop refuses control characters first, but the parser's
       own promise is no control character in what it accepts. */
    size_t used, at ;
    check("addr-literal-nul", addr_parse("<a@[IPv6:::1\0x]>", 17, 0, &sa, &used, &at) == 0, "accepted") ;
    check("addr-literal-nul-v4", addr_parse("<a@[1.2.3.4\0]>", 15, 0, &sa, &used, &at) == 0, "accepted") ;
  }

  {
    char o[64] ;
    struct { char const *in ; ssize_t ret ; char const *out ; } b[] =
    {
      { "", 0, "" },
      { "YQ==", 1, "a" },
      { "YWI=", 2, "ab" },
      { "YWJj", 3, "abc" },
      { "AGFsaWNlAHNlY3JldA==", 13, "\0alice\0secret" },
      { "YQ=", -1, 0 },
      { "YQ", -1, 0 },
      { "Y", -1, 0 },
      { "YWJjZ", -1, 0 },
      { "YQ==YQ==", -1, 0 },
      { "Y=Q=", -1, 0 },
      { "=YQ=", -1, 0 },
      { "Y===", -1, 0 },
      { "YW J", -1, 0 },
      { "YW\nJ", -1, 0 },
      { "YW-_", -1, 0 },
      { "YR==", -1, 0 },   /* leftover bits set: not canonical */
      { "YWK=", -1, 0 },
      { "YWI=", 2, "ab" },
    } ;
    for (size_t i = 0 ; i < sizeof b / sizeof *b ; i++)
    {
      ssize_t r = base64_decode(b[i].in, strlen(b[i].in), o, sizeof o) ;
      snprintf(name, sizeof name, "base64-%zu", i) ;
      check(name, r == b[i].ret && (r < 0 || !memcmp(o, b[i].out, r)), b[i].in) ;
    }
    check("base64-overflow", base64_decode("YWJj", 4, o, 2) == -1, "wrote past omax") ;
  }
  stralloc_free(&sa) ;
  return failed ? 1 : 0 ;
}
