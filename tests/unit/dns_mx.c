/* Unit test: MX records out of DNS answers (programs/postie-remote/dns_mx.c),
   well-formed and hostile. */
/* links: postie-remote */
#include <stdio.h>
#include <string.h>
#include "dns_mx.h"

static int failed = 0 ;

static void check (char const *name, int cond)
{
  printf("%s dns_mx-%s\n", cond ? "PASS" : "FAIL", name) ;
  if (!cond) failed = 1 ;
}

static unsigned char pkt[65536] ;
static size_t plen ;

static void put (void const *s, size_t n) { memcpy(pkt + plen, s, n) ; plen += n ; }
static void put16 (unsigned int v) { unsigned char b[2] = { v >> 8, v & 255 } ; put(b, 2) ; }

/* header + question "ex.test MX IN" */
static void start (unsigned int an)
{
  plen = 0 ;
  put16(0x1234) ; put16(0x8180) ; put16(1) ; put16(an) ; put16(0) ; put16(0) ;
  put("\2ex\4test\0", 9) ; put16(15) ; put16(1) ;
}

static void mxrr (unsigned int pref, char const *wire, size_t wlen)
{
  put("\300\14", 2) ; put16(15) ; put16(1) ; put16(0) ; put16(60) ; put16(wlen + 2) ;
  put16(pref) ; put(wire, wlen) ;
}

int main (void)
{
  dns_mx mx[8] ;
  unsigned int total ;
  int n ;

  start(3) ;
  mxrr(20, "\3mx2\2ex\4test\0", 13) ;
  mxrr(10, "\3MX1\300\14", 6) ;  /* compression pointer to the question's name */
  /* a CNAME record after them is skipped */
  put("\300\14", 2) ; put16(5) ; put16(1) ; put16(0) ; put16(60) ; put16(2) ; put("\300\14", 2) ;
  n = dns_mx_parse(pkt, plen, mx, 8, &total) ;
  check("parse", n == 2 && total == 2 && mx[0].pref == 20 && !strcmp(mx[0].name, "mx2.ex.test") && mx[1].pref == 10 && !strcmp(mx[1].name, "mx1.ex.test")) ;
  dns_mx_sort(mx, 2) ;
  check("sort", mx[0].pref == 10 && mx[1].pref == 20) ;
  n = dns_mx_parse(pkt, plen, mx, 1, &total) ;
  check("max", n == 1 && total == 2) ;

  start(1) ; mxrr(0, "\0", 1) ;
  n = dns_mx_parse(pkt, plen, mx, 8, &total) ;
  check("null-mx", n == 1 && mx[0].pref == 0 && mx[0].name[0] == 0) ;

  start(1) ; mxrr(5, "\4a b!\0", 6) ;
  n = dns_mx_parse(pkt, plen, mx, 8, &total) ;
  check("weird-name-hidden", n == 1 && !strcmp(mx[0].name, "?")) ;

  start(0) ;
  check("empty", dns_mx_parse(pkt, plen, mx, 8, &total) == 0 && total == 0) ;

  /* hostile: truncations at every length, bad pointers, lying counts */
  {
    int ok = 1 ;
    size_t full ;
    start(2) ; mxrr(20, "\3mx2\2ex\4test\0", 13) ; mxrr(10, "\3mx1\300\14", 6) ;
    full = plen ;
    for (size_t k = 0 ; k < full ; k++)
      if (dns_mx_parse(pkt, k, mx, 8, &total) >= 0 && k >= 12) { printf("# accepted a truncation at %zu\n", k) ; ok = 0 ; }
    check("truncated", ok) ;
  }
  start(1) ; mxrr(10, "\3mx1\300\377", 6) ;
  check("pointer-out-of-packet", dns_mx_parse(pkt, plen, mx, 8, &total) == -1) ;
  start(1) ; mxrr(10, "\3mx1\300\50", 6) ;
  {
    /* make the pointer point at its own label: a loop */
    size_t off = plen - 6 ;
    pkt[plen - 1] = (unsigned char)off ;
    check("pointer-loop", dns_mx_parse(pkt, plen, mx, 8, &total) == -1) ;
  }
  start(1) ; mxrr(10, "\3mx1\0junk", 9) ;
  check("rdlength-lies", dns_mx_parse(pkt, plen, mx, 8, &total) == -1) ;
  start(5) ; mxrr(10, "\3mx1\0", 5) ;
  check("ancount-lies", dns_mx_parse(pkt, plen, mx, 8, &total) == -1) ;
  start(1) ; mxrr(10, "\77", 1) ;
  check("label-past-rdata", dns_mx_parse(pkt, plen, mx, 8, &total) == -1) ;

  /* what the tests above leave out */
  /* two pointers that point at each other: a loop with no single self-reference */
  start(1) ; mxrr(10, "\300\0\300\0", 4) ;
  {
    size_t a = plen - 4 ;
    pkt[a + 1] = (unsigned char)(a + 2) ;
    pkt[a + 3] = (unsigned char)a ;
    check("pointer-loop-two", dns_mx_parse(pkt, plen, mx, 8, &total) == -1) ;
  }
  /* a pointer into the header: the header's bytes read as labels (0x12 0x34 ...)
     are refused or give a name made safe, never anything else */
  start(1) ; mxrr(10, "\300\0", 2) ;
  n = dns_mx_parse(pkt, plen, mx, 8, &total) ;
  check("pointer-into-header", n == -1 || (n == 1 && !strcmp(mx[0].name, "?"))) ;
  /* a name longer than 255 bytes on the wire, built by pointers to a long label run */
  {
    char wire[400] ;
    size_t k = 0 ;
    start(1) ;
    for (int i = 0 ; i < 5 ; i++) { wire[k++] = 63 ; memset(wire + k, 'a', 63) ; k += 63 ; }
    wire[k++] = 0 ;
    mxrr(10, wire, k) ;
    check("name-too-long", dns_mx_parse(pkt, plen, mx, 8, &total) == -1) ;
  }
  /* a label with a dot or a NUL inside is never taken as two labels */
  start(1) ; mxrr(10, "\3a.b\2ex\0", 8) ;
  n = dns_mx_parse(pkt, plen, mx, 8, &total) ;
  check("dot-inside-label", n == 1 && !strcmp(mx[0].name, "?")) ;
  start(1) ; mxrr(10, "\3a\0b\2ex\0", 8) ;
  n = dns_mx_parse(pkt, plen, mx, 8, &total) ;
  check("nul-inside-label", n == 1 && !strcmp(mx[0].name, "?")) ;
  /* MX records of another class are not mail exchangers */
  start(2) ;
  put("\300\14", 2) ; put16(15) ; put16(3) ; put16(0) ; put16(60) ; put16(7) ; put16(5) ; put("\4evil\0", 5) ;
  mxrr(10, "\3mx1\0", 5) ;
  n = dns_mx_parse(pkt, plen, mx, 8, &total) ;
  check("class-chaos-skipped", n == 1 && total == 1 && !strcmp(mx[0].name, "mx1")) ;
  /* a question count that lies upwards */
  start(1) ; mxrr(10, "\3mx1\0", 5) ;
  pkt[4] = 0xff ; pkt[5] = 0xff ;
  check("qdcount-lies", dns_mx_parse(pkt, plen, mx, 8, &total) == -1) ;
  /* a length beyond 65535 is refused before anything is read */
  check("length-too-big", dns_mx_parse(pkt, 65536, mx, 8, &total) == -1) ;

  /* shuffling among equals: both orders happen */
  {
    int seen_a = 0, seen_b = 0 ;
    for (int i = 0 ; i < 200 && !(seen_a && seen_b) ; i++)
    {
      memset(mx, 0, sizeof mx) ;
      mx[0].pref = 10 ; strcpy(mx[0].name, "a") ;
      mx[1].pref = 5 ; strcpy(mx[1].name, "z") ;
      mx[2].pref = 10 ; strcpy(mx[2].name, "b") ;
      dns_mx_sort(mx, 3) ;
      if (strcmp(mx[0].name, "z")) { seen_a = seen_b = 0 ; break ; }
      if (!strcmp(mx[1].name, "a")) seen_a = 1 ; else seen_b = 1 ;
    }
    check("shuffle-equals", seen_a && seen_b) ;
  }
  return failed ;
}
