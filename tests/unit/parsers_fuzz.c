/* Unit test: a short deterministic fuzz run (fixed seed) of the parsers
   that read hostile input: rfc5322_field_next and rfc5322_addrlist (every
   header postie-inject reads), dns_mx_parse (DNS answers), smtproute_parse
   and smtproutes_find (control/smtproutes). Run under SAN (make SAN=1), it
   is a memory-safety check; in both builds it checks the invariants the
   callers rely on: offsets inside the input and moving forward, no CR, LF
   or NUL in a parsed address, MX names made of safe bytes only. */
/* links: postie-remote */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include "rfc5322.h"
#include "dns_mx.h"
#include "smtproutes.h"

static int failed = 0 ;
static uint64_t seed = 0x9e3779b97f4a7c15ULL ;

static uint32_t rnd (void)
{
  seed ^= seed << 13 ; seed ^= seed >> 7 ; seed ^= seed << 17 ;
  return (uint32_t)(seed >> 11) ;
}

static void check (char const *name, int cond, char const *detail)
{
  printf("%s fuzz-%s%s%s\n", cond ? "PASS" : "FAIL", name, cond ? "" : ": ", cond ? "" : detail) ;
  if (!cond) failed = 1 ;
}

/* Bytes that matter to the parsers, and some that do not. */
static char const alpha[] = "aZ09.@:,;<>()[]\"\\ \t\r\n\r\n-_!#=?" "\0\x01\x7f\x80\xc3\xff" ;

static size_t gen (char *buf, size_t max)
{
  size_t n = rnd() % max, i ;
  for (i = 0 ; i < n ; i++)
    buf[i] = rnd() % 4 ? alpha[rnd() % (sizeof alpha - 1)] : (char)(rnd() & 255) ;
  return n ;
}

/* A generated string with pieces of real headers spliced in, so that the
   deep states (groups, routes, folded fields) are reached. */
static size_t genheader (char *buf, size_t max)
{
  static char const *const pieces[] =
  {
    "To: ", "Bcc : ", "\r\n ", "\n\t", "Joe <a@b.c>", "\"q \\\" s\"@x", "g: a@b, c@d;", "<@r1,@r2:u@d>",
    "(c (nested) \\) )", "a.b@[1.2.3.4]", "@", ",,", "\"", "(", "[", "x@y.", "..", "Resent-Bcc:"
  } ;
  size_t n = 0 ;
  while (n + 32 < max && rnd() % 16)
  {
    if (rnd() % 2)
    {
      char const *p = pieces[rnd() % (sizeof pieces / sizeof *pieces)] ;
      size_t k = strlen(p) ;
      memcpy(buf + n, p, k) ; n += k ;
    }
    else n += gen(buf + n, 8) ;
  }
  return n ;
}

static void fuzz_fields (unsigned int rounds)
{
  static char buf[4096] ;
  int ok = 1 ;
  char const *why = "" ;
  for (unsigned int r = 0 ; r < rounds && ok ; r++)
  {
    size_t len = rnd() % 2 ? gen(buf, sizeof buf) : genheader(buf, sizeof buf) ;
    size_t pos = 0, linemax = 1 + rnd() % 200 ;
    for (;;)
    {
      rfc5322_field f ;
      rfc5322_error e = RFC5322_ERROR_ZERO ;
      size_t before = pos ;
      int k = rfc5322_field_next(buf, len, &pos, linemax, &f, &e) ;
      if (k < 0) { if (!e.what || e.pos > len) { ok = 0 ; why = "error without a reason or a position" ; } break ; }
      if (!k) { if (pos != before) { ok = 0 ; why = "pos moved on 0" ; } break ; }
      if (!(f.start == before && f.namelen && f.start + f.namelen < f.body && f.body <= f.end
            && f.end <= f.next && f.next <= len && f.next > before && pos == f.next && buf[f.body - 1] == ':'))
      { ok = 0 ; why = "field offsets out of order" ; break ; }
    }
  }
  check("rfc5322-field-next", ok, why) ;
}

static void fuzz_addrlist (unsigned int rounds)
{
  static char buf[4096] ;
  stralloc out = STRALLOC_ZERO, sa = STRALLOC_ZERO ;
  int ok = 1 ;
  char const *why = "" ;
  for (unsigned int r = 0 ; r < rounds && ok ; r++)
  {
    size_t len = rnd() % 3 ? genheader(buf, sizeof buf) : gen(buf, sizeof buf) ;
    size_t n = 0, i = 0, m ;
    rfc5322_error e = RFC5322_ERROR_ZERO ;
    int k ;
    out.len = 0 ;
    k = rfc5322_addrlist(buf, len, rnd() % 2 ? RFC5322_BARE : 0, &out, &n, &e) ;
    if (k < 0) { ok = 0 ; why = "out of memory" ; break ; }
    if (!k && (!e.what || e.pos > len)) { ok = 0 ; why = "error without a reason or a position" ; break ; }
    /* n records of four NUL-terminated strings, nothing after them on success */
    for (m = 0 ; m < 4 * n ; m++)
    {
      char const *s = out.s + i ;
      char const *z = memchr(s, 0, out.len - i) ;
      if (!z) { ok = 0 ; why = "record not NUL-terminated" ; break ; }
      if (m % 4 >= 2)
        for (char const *c = s ; c < z ; c++)
          if (*c == '\r' || *c == '\n') { ok = 0 ; why = "CR or LF in a local part or domain" ; break ; }
      i = z - out.s + 1 ;
    }
    if (!ok) break ;
    if (k && i != out.len) { ok = 0 ; why = "bytes after the last record" ; break ; }
    /* rfc5322_cat_addr on every record: no line end can come out */
    for (i = 0, m = 0 ; m < n ; m++)
    {
      char const *local, *domain ;
      i += strlen(out.s + i) + 1 ;
      i += strlen(out.s + i) + 1 ;
      local = out.s + i ; i += strlen(local) + 1 ;
      domain = out.s + i ; i += strlen(domain) + 1 ;
      sa.len = 0 ;
      if (!rfc5322_cat_addr(&sa, local, domain)) { ok = 0 ; why = "out of memory" ; break ; }
      if (memchr(sa.s, '\n', sa.len) || memchr(sa.s, '\r', sa.len) || memchr(sa.s, 0, sa.len))
      { ok = 0 ; why = "CR, LF or NUL written back" ; break ; }
    }
  }
  stralloc_free(&out) ;
  stralloc_free(&sa) ;
  check("rfc5322-addrlist", ok, why) ;
}

/* DNS: a well-formed answer with three MX records, then mutated. */
static unsigned char pkt[600] ;
static size_t plen ;
static void put (void const *s, size_t n) { memcpy(pkt + plen, s, n) ; plen += n ; }
static void put16 (unsigned int v) { unsigned char b[2] = { v >> 8, v & 255 } ; put(b, 2) ; }

static void seedpacket (void)
{
  plen = 0 ;
  put16(0x1234) ; put16(0x8180) ; put16(1) ; put16(3) ; put16(0) ; put16(0) ;
  put("\2ex\4test\0", 9) ; put16(15) ; put16(1) ;
  put("\300\14", 2) ; put16(15) ; put16(1) ; put16(0) ; put16(60) ; put16(15) ; put16(20) ; put("\3mx2\2ex\4test\0", 13) ;
  put("\300\14", 2) ; put16(15) ; put16(1) ; put16(0) ; put16(60) ; put16(8) ; put16(10) ; put("\3MX1\300\14", 6) ;
  put("\300\14", 2) ; put16(15) ; put16(1) ; put16(0) ; put16(60) ; put16(7) ; put16(30) ; put("\2m3\300\53", 5) ;
}

static void fuzz_dns (unsigned int rounds)
{
  dns_mx mx[4] ;
  int ok = 1 ;
  char const *why = "" ;
  {
    unsigned int total ;
    seedpacket() ;
    check("dns-seed-packet", dns_mx_parse(pkt, plen, mx, 4, &total) == 3 && !strcmp(mx[2].name, "m3.ex.test"), "the seed is not a valid answer") ;
  }
  for (unsigned int r = 0 ; r < rounds && ok ; r++)
  {
    unsigned int total, k, nmut ;
    size_t len ;
    int n ;
    seedpacket() ;
    len = plen ;
    nmut = 1 + rnd() % 6 ;
    for (k = 0 ; k < nmut ; k++)
    {
      size_t at = rnd() % len ;
      switch (rnd() % 5)
      {
        case 0 : pkt[at] ^= 1 << (rnd() % 8) ; break ;
        case 1 : pkt[at] = rnd() & 255 ; break ;
        case 2 : pkt[at] = 0xc0 | (rnd() & 0x3f) ; if (at + 1 < len) pkt[at + 1] = rnd() % len ; break ;  /* a pointer */
        case 3 : len = 1 + rnd() % len ; break ;  /* truncated */
        default : if (len + 8 < sizeof pkt) { for (unsigned int j = 0 ; j < 8 ; j++) pkt[len + j] = rnd() & 255 ; len += 8 ; } break ;
      }
    }
    memset(mx, 0x5a, sizeof mx) ;
    n = dns_mx_parse(pkt, len, mx, 1 + rnd() % 4, &total) ;
    if (n < -1 || n > 4 || (n >= 0 && total < (unsigned int)n)) { ok = 0 ; why = "count out of range" ; break ; }
    for (int i = 0 ; i < n ; i++)
    {
      char const *z = memchr(mx[i].name, 0, sizeof mx[i].name) ;
      if (!z) { ok = 0 ; why = "name not NUL-terminated" ; break ; }
      for (char const *c = mx[i].name ; c < z ; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.' || *c == '?'))
        { ok = 0 ; why = "unsafe byte in an MX name" ; break ; }
    }
  }
  check("dns-mx-parse", ok, why) ;
}

static void fuzz_smtproutes (unsigned int rounds)
{
  static char const *const pieces[] =
  {
    "example.com", ":", "[", "]", "IPv6:", "::1", "127.0.0.1", "256.1.1.1", ".", "65535", "65536", "0", "relay.test", "[1.2.3.4]"
  } ;
  static char buf[512] ;
  int ok = 1 ;
  char const *why = "" ;
  for (unsigned int r = 0 ; r < rounds && ok ; r++)
  {
    size_t len = 0, dl = 0 ;
    char const *d = 0, *bad = 0 ;
    smtproute rt ;
    while (len + 16 < sizeof buf && rnd() % 8)
    {
      if (rnd() % 3)
      {
        char const *p = pieces[rnd() % (sizeof pieces / sizeof *pieces)] ;
        size_t k = strlen(p) ;
        memcpy(buf + len, p, k) ; len += k ;
      }
      else len += gen(buf + len, 4) ;
    }
    for (size_t i = 0 ; i < len ; i++) if (!buf[i]) buf[i] = 'x' ;
    buf[len] = 0 ;
    if (smtproute_parse(buf, len, &d, &dl, &rt))
    {
      if (d != buf || dl > len || rt.host < buf || rt.host + rt.hostlen > buf + len) { ok = 0 ; why = "route outside the line" ; break ; }
    }
    if (smtproutes_find(buf, len + 1, "a.example.com", 13, &rt, &bad) < 0 && bad != buf) { ok = 0 ; why = "bad line not pointed at" ; break ; }
  }
  check("smtproutes", ok, why) ;
}

int main (int argc, char const *const *argv)
{
  unsigned int rounds = argc > 1 ? (unsigned int)strtoul(argv[1], 0, 10) : 100000 ;
  if (getenv("POSTIE_FUZZ_SEED")) seed = strtoull(getenv("POSTIE_FUZZ_SEED"), 0, 0) | 1 ;
  fuzz_fields(rounds) ;
  fuzz_addrlist(rounds) ;
  fuzz_dns(rounds * 5) ;
  fuzz_smtproutes(rounds) ;
  return failed ;
}
