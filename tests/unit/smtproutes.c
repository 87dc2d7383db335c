/* Unit test: control/smtproutes parsing and lookup (programs/lib/smtproutes.c). */
#include <stdio.h>
#include <string.h>
#include "smtproutes.h"

static int failed = 0 ;

static void check (char const *name, int cond)
{
  printf("%s smtproutes-%s\n", cond ? "PASS" : "FAIL", name) ;
  if (!cond) failed = 1 ;
}

/* lines joined by NUL, as control_readlines gives them */
static size_t mk (char *buf, char const *const *lines)
{
  size_t n = 0 ;
  for (; *lines ; lines++) { size_t k = strlen(*lines) + 1 ; memcpy(buf + n, *lines, k) ; n += k ; }
  return n ;
}

static int hostis (smtproute const *r, char const *h)
{
  return r->hostlen == strlen(h) && !memcmp(r->host, h, r->hostlen) ;
}

int main (void)
{
  smtproute r ;
  char const *d ;
  size_t dl ;
  char buf[4096] ;
  char const *bad ;
  size_t n ;

  check("parse-plain", smtproute_parse("example.com:relay.example.net", 29, &d, &dl, &r) && dl == 11 && !memcmp(d, "example.com", 11) && hostis(&r, "relay.example.net") && !r.port && !r.is_ip) ;
  check("parse-port", smtproute_parse("a.b:relay:2525", 14, &d, &dl, &r) && hostis(&r, "relay") && r.port == 2525) ;
  check("parse-default", smtproute_parse(":smarthost", 10, &d, &dl, &r) && dl == 0 && hostis(&r, "smarthost")) ;
  check("parse-empty-relay", smtproute_parse("x.org:", 6, &d, &dl, &r) && r.hostlen == 0 && !r.port) ;
  check("parse-empty-relay-port", smtproute_parse("x.org::26", 9, &d, &dl, &r) && r.hostlen == 0 && r.port == 26) ;
  /* len bytes and no more: the digits after them are not the port's (the
     parser read on to a NUL; tests/fuzz/smtproutes saw it read past a
     line's buffer) */
  check("parse-port-within-len", smtproute_parse("a.b:relay:25259", 12, &d, &dl, &r) == 1 && r.port == 25) ;
  check("parse-port-leading-zeros", smtproute_parse("a.b:relay:00025", 15, &d, &dl, &r) == 1 && r.port == 25) ;
  check("parse-port-zeros", smtproute_parse("a.b:relay:0000000000025", 23, &d, &dl, &r) == 1 && r.port == 25) ;
  check("parse-port-huge", smtproute_parse("a.b:relay:4294967321", 20, &d, &dl, &r) == 0) ;
  check("parse-port-too-large", smtproute_parse("a.b:relay:65536", 15, &d, &dl, &r) == 0) ;
  check("parse-port-sign", smtproute_parse("a.b:relay:+25", 13, &d, &dl, &r) == 0) ;
  check("parse-ipv4", smtproute_parse("x:192.0.2.1:25", 14, &d, &dl, &r) && r.is_ip && !r.is6 && !memcmp(r.ip, "\300\0\2\1", 4) && r.port == 25) ;
  check("parse-ipv4-bracket", smtproute_parse("x:[192.0.2.1]", 13, &d, &dl, &r) && r.is_ip && !r.is6) ;
  check("parse-ipv6", smtproute_parse("x:[::1]:2525", 12, &d, &dl, &r) && r.is_ip && r.is6 && r.ip[15] == 1 && r.port == 2525) ;
  check("parse-ipv6-tag", smtproute_parse("x:[IPv6:2001:db8::5]", 20, &d, &dl, &r) && r.is_ip && r.is6 && r.ip[0] == 0x20 && r.ip[15] == 5 && !r.port) ;
  /* settings after the route */
#define P(s) smtproute_parse(s, strlen(s), &d, &dl, &r)
  check("settings-none", P("x:h:25") && r.tls == SMTPROUTE_TLS_MAY && !r.ca && !r.auth) ;
  check("settings-verify-ca", P("x:mx.example:25 tls=verify ca=/etc/ca.pem") && hostis(&r, "mx.example") && r.port == 25
        && r.tls == SMTPROUTE_TLS_VERIFY && r.calen == 11 && !memcmp(r.ca, "/etc/ca.pem", 11)) ;
  check("settings-tab-spaces", P("x:h\ttls=encrypt   ") && hostis(&r, "h") && r.tls == SMTPROUTE_TLS_ENCRYPT) ;
  check("settings-auth-implies-encrypt", P(":smart:587 auth=isp") && r.tls == SMTPROUTE_TLS_ENCRYPT && r.authlen == 3 && !memcmp(r.auth, "isp", 3)) ;
  check("settings-auth-verify", P(":smart:587 auth=isp tls=verify") && r.tls == SMTPROUTE_TLS_VERIFY && r.auth) ;
  check("settings-literal", P("x:[::1]:25 tls=none") && r.is6 && r.port == 25 && r.tls == SMTPROUTE_TLS_NONE) ;
  check("settings-mx", P("x: tls=may") && !r.hostlen && r.tls == SMTPROUTE_TLS_MAY) ;
  {
    static char const *const sbad[] = { "x:h tls=", "x:h tls=maybe", "x:h ca=/x", "x:h tls=may tls=none", "x:h auth=a auth=b",
      "x:h auth=a tls=may", "x:h auth=a tls=none", "x:h auth=a:b", "x:h frob=1", "x:h word", "x:h tls=verify ca=", 0 } ;
    int ok = 1 ;
    for (unsigned int i = 0 ; sbad[i] ; i++)
      if (P(sbad[i])) { printf("# accepted: %s\n", sbad[i]) ; ok = 0 ; }
    check("settings-rejects", ok) ;
  }
#undef P
  check("parse-literal-domain", smtproute_parse("[IPv6:::1]:[::1]:25", 19, &d, &dl, &r) && dl == 10 && r.is6 && r.port == 25) ;
  {
    static char const *const bads[] = { "nocolon", "x:[::1", "x:[::1]25", "x:h:0", "x:h:65536", "x:h:25x", "x:h:",
      "x:[256.0.0.1]", "x:1.2.3", "x:[1.2.3.4.5]", "x:[zz::1]", "x:::1:25", "x:h h", "a b:h", "[x:h", "x:[]", "x:[IPv6:]", 0 } ;
    int ok = 1 ;
    for (unsigned int i = 0 ; bads[i] ; i++)
      if (smtproute_parse(bads[i], strlen(bads[i]), &d, &dl, &r)) { printf("# accepted: %s\n", bads[i]) ; ok = 0 ; }
    check("parse-rejects", ok) ;
  }

  {
    static char const *const l1[] = { "example.com:exact", ".example.com:sub", "EXAMPLE.net:net", ":default", ".com:dotcom", "example.com:second", 0 } ;
    n = mk(buf, l1) ;
    check("find-exact", smtproutes_find(buf, n, "example.com", 11, &r, &bad) == 1 && hostis(&r, "exact")) ;
    check("find-sub", smtproutes_find(buf, n, "a.example.com", 13, &r, &bad) == 1 && hostis(&r, "sub")) ;
    check("find-subsub", smtproutes_find(buf, n, "a.b.example.com", 15, &r, &bad) == 1 && hostis(&r, "sub")) ;
    check("find-case", smtproutes_find(buf, n, "example.NET", 11, &r, &bad) == 1 && hostis(&r, "net")) ;
    check("find-suffix", smtproutes_find(buf, n, "other.com", 9, &r, &bad) == 1 && hostis(&r, "dotcom")) ;
    check("find-default", smtproutes_find(buf, n, "x.org", 5, &r, &bad) == 1 && hostis(&r, "default")) ;
    check("find-no-partial", smtproutes_find(buf, n, "xexample.net", 12, &r, &bad) == 1 && hostis(&r, "default")) ;
  }
  {
    static char const *const l2[] = { "a.org:x", 0 } ;
    n = mk(buf, l2) ;
    check("find-none", smtproutes_find(buf, n, "b.org", 5, &r, &bad) == 0) ;
    check("find-empty-file", smtproutes_find(buf, 0, "b.org", 5, &r, &bad) == 0) ;
  }
  {
    static char const *const l3[] = { "a.org:x", "b.org:[::1", 0 } ;
    n = mk(buf, l3) ;
    check("find-bad-line", smtproutes_find(buf, n, "a.org", 5, &r, &bad) == -1 && !strcmp(bad, "b.org:[::1")) ;
  }
  return failed ;
}
