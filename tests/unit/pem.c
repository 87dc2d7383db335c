/* Unit test: PEM blocks (programs/lib/pem.c), as postie-tlsd reads the
   instance's certificate chain and key and postie-tlsc its CA file:
   what RFC 7468 allows (LF or CRLF, blanks and line breaks inside the
   base64, text around the blocks, a chain of three, a last line without
   its end), and what a hostile file may hold (a missing or mismatched
   END line, characters that are not base64 among them NUL, '=' in the
   middle, uncanonical padding, a block larger than the room, a label
   longer than PEM_LABELMAX, a body of megabytes). Every input is copied
   into a heap block of exactly its length, so that the sanitizer build
   sees any read past it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base64.h"
#include "pem.h"

static int failed = 0 ;

static void check (char const *name, int cond)
{
  printf("%s pem-%s\n", cond ? "PASS" : "FAIL", name) ;
  if (!cond) failed = 1 ;
}

static char *copy (char const *s, size_t n)
{
  char *p = malloc(n ? n : 1) ;
  if (!p) { perror("malloc") ; exit(111) ; }
  memcpy(p, s, n) ;
  return p ;
}

/* The first block of s (n bytes): pem_begin's and pem_body's results;
   the label and the bytes (into out, at most omax) when found. */
typedef struct result_s result ;
struct result_s
{
  int rb, r ;
  char label[PEM_LABELMAX + 1] ;
  unsigned char out[256] ;
  size_t len, pos ;
  char const *why ;
} ;

static result first (char const *s0, size_t n, size_t omax)
{
  result x = { .rb = -2, .r = -2, .why = "" } ;
  pem_block b ;
  size_t pos = 0 ;
  char *s = copy(s0, n) ;
  x.rb = pem_begin(s, n, &pos, &b, &x.why) ;
  if (x.rb == 1)
  {
    memcpy(x.label, b.label, sizeof x.label) ;
    x.r = pem_body(s, n, &pos, &b, x.out, omax, &x.len, &x.why) ;
  }
  x.pos = pos ;
  free(s) ;
  return x ;
}

static result firsts (char const *s, size_t omax)
{
  return first(s, strlen(s), omax) ;
}

static int is (result const *x, char const *label, char const *bytes)
{
  return x->rb == 1 && x->r == 1 && !strcmp(x->label, label)
    && x->len == strlen(bytes) && !memcmp(x->out, bytes, x->len) ;
}

/* Refused by pem_body with a reason that names the fault. */
static int refused (result const *x, char const *word)
{
  return x->rb == 1 && x->r == -1 && x->why && strstr(x->why, word) ;
}

/* a literal and its length, NULs included */
#define LIT(s) s, sizeof(s) - 1

#define HELLO "SGVsbG8sIHdvcmxkIQ=="  /* "Hello, world!" */

int main (void)
{
  result x ;

  x = firsts("-----BEGIN CERTIFICATE-----\n" HELLO "\n-----END CERTIFICATE-----\n", 256) ;
  check("simple", is(&x, "CERTIFICATE", "Hello, world!")) ;
  x = firsts("-----BEGIN PRIVATE KEY-----\r\n" HELLO "\r\n-----END PRIVATE KEY-----\r\n", 256) ;
  check("crlf", is(&x, "PRIVATE KEY", "Hello, world!")) ;
  x = firsts("-----BEGIN EC PRIVATE KEY-----\n SGVs bG8s\tIHdv\r\ncmxk\n\n  IQ =\v=\f \n-----END EC PRIVATE KEY-----", 256) ;
  check("blanks-and-groups-across-lines-no-last-newline", is(&x, "EC PRIVATE KEY", "Hello, world!")) ;
  x = firsts("Subject: example\n-----BEGIN-----\n-----BEGIN RSA PRIVATE KEY-----  \t\r\n" HELLO "\n-----END RSA PRIVATE KEY----- \n", 256) ;
  check("text-before-and-trailing-blanks", is(&x, "RSA PRIVATE KEY", "Hello, world!")) ;
  x = firsts("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", 256) ;
  check("empty-block", is(&x, "CERTIFICATE", "")) ;
  x = firsts("-----BEGIN CERTIFICATE-----\nYQ==\n-----END CERTIFICATE-----\n", 256) ;
  check("one-byte", is(&x, "CERTIFICATE", "a")) ;
  x = firsts("-----BEGIN CERTIFICATE-----\nYWI=\n-----END CERTIFICATE-----\n", 256) ;
  check("two-bytes", is(&x, "CERTIFICATE", "ab")) ;

  /* the room: exactly enough, one byte short; out 0 counts */
  x = firsts("-----BEGIN CERTIFICATE-----\n" HELLO "\n-----END CERTIFICATE-----\n", 13) ;
  check("room-exact", is(&x, "CERTIFICATE", "Hello, world!")) ;
  x = firsts("-----BEGIN CERTIFICATE-----\n" HELLO "\n-----END CERTIFICATE-----\n", 12) ;
  check("room-short", refused(&x, "too large")) ;
  x = firsts("-----BEGIN CERTIFICATE-----\nYWJj\n-----END CERTIFICATE-----\n", 2) ;
  check("room-short-whole-group", refused(&x, "too large")) ;
  {
    char const *s = "-----BEGIN CERTIFICATE-----\n" HELLO "\n-----END CERTIFICATE-----\n" ;
    pem_block b ;
    size_t pos = 0, len = 0 ;
    char const *why ;
    check("count-only", pem_begin(s, strlen(s), &pos, &b, &why) == 1 && pem_body(s, strlen(s), &pos, &b, 0, (size_t)-1, &len, &why) == 1 && len == 13 && pos == strlen(s)) ;
  }

  /* what a hostile file may hold */
  x = firsts("-----BEGIN CERTIFICATE-----\n" HELLO "\n", 256) ;
  check("no-end", x.rb == 1 && x.r == 0) ;
  x = firsts("-----BEGIN CERTIFICATE-----\nSGVsbG8", 256) ;
  check("truncated-mid-line", x.rb == 1 && x.r == 0) ;
  x = firsts("-----BEGIN CERTIFICATE-----", 256) ;
  check("only-begin", x.rb == 1 && x.r == 0) ;
  x = firsts("-----BEGIN CERTIFICATE-----\n" HELLO "\n-----BEGIN CERTIFICATE-----\n" HELLO "\n-----END CERTIFICATE-----\n", 256) ;
  check("begin-inside-a-block", refused(&x, "END line is missing")) ;
  {
    /* a CERTIFICATE block's base64, then these lines instead of its END */
    static struct { char const *name, *end, *word ; } const badend[] =
    {
      { "end-label-mismatch", "-----END PRIVATE KEY-----", "label" },
      { "end-label-longer", "-----END CERTIFICATES-----", "label" },
      { "end-label-shorter", "-----END CERTIFICAT-----", "label" },
      { "end-without-dashes", "-----END CERTIFICATE", "closing dashes" },
      { "end-with-text-after", "-----END CERTIFICATE----- junk", "text after" },
      { "dashes-in-a-block", "----- END", "dashes" },
    } ;
    for (unsigned int i = 0 ; i < sizeof badend / sizeof *badend ; i++)
    {
      char s[256] ;
      snprintf(s, sizeof s, "-----BEGIN CERTIFICATE-----\n" HELLO "\n%s\n", badend[i].end) ;
      x = firsts(s, 256) ;
      check(badend[i].name, refused(&x, badend[i].word)) ;
    }
  }
  x = firsts("-----BEGIN CERTIFICATE-----\nSGVs*bG8s\n-----END CERTIFICATE-----\n", 256) ;
  check("bad-character", refused(&x, "not base64")) ;
  x = first(LIT("-----BEGIN CERTIFICATE-----\nSGVs\0bG8s\n-----END CERTIFICATE-----\n"), 256) ;
  check("nul-in-base64", refused(&x, "not base64")) ;
  x = first(LIT("-----BEGIN CERTIFICATE-----\0\n" HELLO "\n-----END CERTIFICATE-----\n"), 256) ;
  check("nul-in-begin-line", x.rb == -1 && strstr(x.why, "text after")) ;
  x = first(LIT("-----BEGIN CERT\0IFICATE-----\n" HELLO "\n-----END CERT\0IFICATE-----\n"), 256) ;
  check("nul-in-label", x.rb == -1 && strstr(x.why, "control character")) ;
  x = first(LIT("text\0with a NUL\n-----BEGIN CERTIFICATE-----\n" HELLO "\n-----END CERTIFICATE-----\n"), 256) ;
  check("nul-in-text-outside", is(&x, "CERTIFICATE", "Hello, world!")) ;
  {
    /* bodies of a CERTIFICATE block, and a word of the reason */
    static struct { char const *name, *body, *word ; } const bad[] =
    {
      { "equals-in-the-middle", "SG=sbG8s", "'='" },
      { "equals-first", "=GVs", "misplaced" },
      { "data-after-padding", "YQ==YWJj", "after its '=' padding" },
      { "data-after-padding-next-line", "YQ==\nYWJj", "after its '=' padding" },
      { "three-equals", "YQ===", "misplaced" },
      { "equals-then-data", "YW=j", "padding" },
      { "uncanonical-padding-2", "YR==", "uncanonical" },
      { "uncanonical-padding-1", "YWJ=", "uncanonical" },
      { "group-of-three-at-end", "YWJ", "group of four" },
      { "one-equals-of-two", "YQ=", "group of four" },
    } ;
    for (unsigned int i = 0 ; i < sizeof bad / sizeof *bad ; i++)
    {
      char s[256] ;
      snprintf(s, sizeof s, "-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n", bad[i].body) ;
      x = firsts(s, 256) ;
      check(bad[i].name, refused(&x, bad[i].word)) ;
    }
  }
  x = firsts("-----begin certificate-----\n" HELLO "\n-----end certificate-----\n", 256) ;
  check("lowercase-is-text", x.rb == 0 && x.pos == strlen("-----begin certificate-----\n" HELLO "\n-----end certificate-----\n")) ;
  x = firsts(" -----BEGIN CERTIFICATE-----\n" HELLO "\n", 256) ;
  check("indented-begin-is-text", x.rb == 0) ;
  x = firsts("no block at all\n\n", 256) ;
  check("no-block", x.rb == 0 && x.pos == 17) ;
  x = firsts("", 256) ;
  check("empty-input", x.rb == 0 && x.pos == 0) ;
  x = firsts("-----BEGIN CERTIFICATE\n", 256) ;
  check("begin-without-dashes", x.rb == -1 && x.pos == 0) ;
  {
    /* a label of PEM_LABELMAX bytes is kept, one more refused */
    char s[2 * PEM_LABELMAX + 100] ;
    char label[PEM_LABELMAX + 2] ;
    memset(label, 'A', PEM_LABELMAX) ; label[PEM_LABELMAX] = 0 ;
    snprintf(s, sizeof s, "-----BEGIN %s-----\nYQ==\n-----END %s-----\n", label, label) ;
    x = firsts(s, 256) ;
    check("label-max", is(&x, label, "a")) ;
    label[PEM_LABELMAX] = 'A' ; label[PEM_LABELMAX + 1] = 0 ;
    snprintf(s, sizeof s, "-----BEGIN %s-----\nYQ==\n-----END %s-----\n", label, label) ;
    x = firsts(s, 256) ;
    check("label-too-long", x.rb == -1 && strstr(x.why, "too long")) ;
  }

  /* a chain of three, text around and between, CRLF in the middle one;
     decoded in place, each at the end of the one before (as
     postie-tlsd does) */
  {
    static char const chain[] =
      "Bag Attributes\n"
      "-----BEGIN CERTIFICATE-----\nb25l\n-----END CERTIFICATE-----\n"
      "subject=CN=intermediate\r\n\r\n"
      "-----BEGIN CERTIFICATE-----\r\ndHdvIQ==\r\n-----END CERTIFICATE-----\r\n"
      "-----BEGIN CERTIFICATE-----\ndGhyZWUhIQ==\n-----END CERTIFICATE-----\n"
      "trailing text\n" ;
    size_t n = sizeof chain - 1, pos = 0, der = 0, len[3] ;
    char *s = copy(chain, n) ;
    char const *why = "" ;
    pem_block b ;
    int ok = 1, k = 0 ;
    for (;;)
    {
      int r = pem_begin(s, n, &pos, &b, &why) ;
      if (r != 1) { ok = ok && !r ; break ; }
      if (k == 3 || strcmp(b.label, "CERTIFICATE")) { ok = 0 ; break ; }
      if (pem_body(s, n, &pos, &b, (unsigned char *)s + der, n - der, &len[k], &why) != 1) { ok = 0 ; break ; }
      der += len[k++] ;
    }
    check("chain-of-three", ok && k == 3 && len[0] == 3 && len[1] == 4 && len[2] == 7 && der == 14 && !memcmp(s, "onetwo!three!!", 14) && pos == n) ;
    free(s) ;
  }

  /* megabytes of base64, in place and counted: a length far past what
     any file holds, and a line of it without a break */
  {
    size_t raw = 3 << 20, n, pos = 0, len = 0, i ;
    char *bytes = malloc(raw), *s ;
    char const *why = "" ;
    pem_block b ;
    int ok ;
    if (!bytes) { perror("malloc") ; return 111 ; }
    for (i = 0 ; i < raw ; i++) bytes[i] = (char)(i * 2654435761u >> 13) ;
    s = malloc(raw / 3 * 4 + 64) ;
    if (!s) { perror("malloc") ; return 111 ; }
    memcpy(s, "-----BEGIN CERTIFICATE-----\n", 28) ;
    n = 28 + base64_encode(bytes, raw, s + 28) ;
    memcpy(s + n, "\n-----END CERTIFICATE-----", 26) ;
    n += 26 ;
    ok = pem_begin(s, n, &pos, &b, &why) == 1 && pem_body(s, n, &pos, &b, 0, (size_t)-1, &len, &why) == 1 && len == raw ;
    pos = b.body ;
    ok = ok && pem_body(s, n, &pos, &b, 0, raw - 1, &len, &why) == -1 ;
    pos = b.body ;
    ok = ok && pem_body(s, n, &pos, &b, (unsigned char *)s + b.begin, raw, &len, &why) == 1 && len == raw && !memcmp(s + b.begin, bytes, raw) && pos == n ;
    check("megabytes-in-place", ok) ;
    free(s) ; free(bytes) ;
  }
  return failed ;
}
