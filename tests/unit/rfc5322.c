/* Unit tests for programs/lib/rfc5322*: header fields and address lists.
   The examples of RFC 5322 appendix A (A.1.1 .. A.6.3), RFC 822's A.3,
   quoted local parts, comments, groups, and hostile input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include "rfc5322.h"

static int failed = 0 ;

static void check (char const *name, int ok, char const *why)
{
  if (ok) printf("PASS %s\n", name) ;
  else { printf("FAIL %s: %s\n", name, why) ; failed++ ; }
}

/* The mailboxes of an address list as "group|display|local@domain" lines
   joined by "; ", or "ERROR what" */
static char result[1 << 16] ;

static char const *addrs (char const *s, size_t len, unsigned int flags)
{
  stralloc out = STRALLOC_ZERO ;
  size_t n = 0, i = 0, k ;
  rfc5322_error e = RFC5322_ERROR_ZERO ;
  int r = rfc5322_addrlist(s, len, flags, &out, &n, &e) ;
  result[0] = 0 ;
  if (r < 0) { strcpy(result, "NOMEM") ; stralloc_free(&out) ; return result ; }
  if (!r) { snprintf(result, sizeof result, "ERROR %s", e.what) ; stralloc_free(&out) ; return result ; }
  for (k = 0 ; k < n ; k++)
  {
    char const *g = out.s + i ; i += strlen(g) + 1 ;
    char const *d = out.s + i ; i += strlen(d) + 1 ;
    char const *l = out.s + i ; i += strlen(l) + 1 ;
    char const *dom = out.s + i ; i += strlen(dom) + 1 ;
    size_t m = strlen(result) ;
    snprintf(result + m, sizeof result - m, "%s%s|%s|%s@%s", k ? "; " : "", g, d, l, dom) ;
  }
  if (i != out.len) strcpy(result, "BAD RECORD LENGTH") ;
  stralloc_free(&out) ;
  return result ;
}

static void expect (char const *name, char const *input, unsigned int flags, char const *want)
{
  char const *got = addrs(input, strlen(input), flags) ;
  char why[4096] ;
  snprintf(why, sizeof why, "input [%s] got [%s] want [%s]", input, got, want) ;
  check(name, !strcmp(got, want), why) ;
}

/* An error whose message contains want. */
static void expect_error (char const *name, char const *input, size_t len, char const *want)
{
  char const *got = addrs(input, len, 0) ;
  char why[512] ;
  snprintf(why, sizeof why, "got [%.300s] want an error with [%s]", got, want) ;
  check(name, !strncmp(got, "ERROR ", 6) && strstr(got, want), why) ;
}

/* A header split into fields: "name=body" lines joined by " | ", body
   with its line ends shown as \n, then "END@offset" or "ERROR what". */
static char const *fields (char const *s, size_t len, size_t linemax)
{
  size_t pos = 0 ;
  rfc5322_field f ;
  rfc5322_error e = RFC5322_ERROR_ZERO ;
  int r ;
  result[0] = 0 ;
  while ((r = rfc5322_field_next(s, len, &pos, linemax, &f, &e)) == 1)
  {
    size_t m = strlen(result), i ;
    if (m > sizeof result - 100) break ;
    snprintf(result + m, sizeof result - m, "%.*s=", (int)f.namelen, s + f.start) ;
    m = strlen(result) ;
    for (i = f.body ; i < f.end && m < sizeof result - 20 ; i++)
    {
      if (s[i] == '\n') { result[m++] = '\\' ; result[m++] = 'n' ; }
      else if (s[i] == '\r') { result[m++] = '\\' ; result[m++] = 'r' ; }
      else result[m++] = s[i] ;
    }
    result[m] = 0 ;
    strcat(result, " | ") ;
  }
  {
    size_t m = strlen(result) ;
    if (r < 0) snprintf(result + m, sizeof result - m, "ERROR %s", e.what) ;
    else snprintf(result + m, sizeof result - m, "END@%zu", pos) ;
  }
  return result ;
}

static void expect_fields (char const *name, char const *input, size_t linemax, char const *want)
{
  char const *got = fields(input, strlen(input), linemax) ;
  char why[8192] ;
  snprintf(why, sizeof why, "got [%s] want [%s]", got, want) ;
  check(name, !strcmp(got, want), why) ;
}

/* Every address field of a whole header parsed; returns the mailboxes. */
static char const *header_addrs (char const *h)
{
  static char all[1 << 16] ;
  size_t pos = 0, len = strlen(h) ;
  rfc5322_field f ;
  rfc5322_error e = RFC5322_ERROR_ZERO ;
  int r ;
  all[0] = 0 ;
  while ((r = rfc5322_field_next(h, len, &pos, 998, &f, &e)) == 1)
  {
    static char const *const names[] = { "From", "To", "Cc", "Bcc", "Reply-To", "Sender", "Resent-From", "Resent-To", "Resent-Cc", "Resent-Bcc", "Resent-Sender", 0 } ;
    char const *const *p ;
    for (p = names ; *p ; p++) if (rfc5322_field_is(h + f.start, f.namelen, *p)) break ;
    if (!*p) continue ;
    addrs(h + f.body, f.end - f.body, 0) ;
    {
      size_t m = strlen(all) ;
      snprintf(all + m, sizeof all - m, "%s%s: %.30000s", m ? "\n" : "", *p, result) ;
    }
  }
  if (r < 0) { size_t m = strlen(all) ; snprintf(all + m, sizeof all - m, "\nERROR %s", e.what) ; }
  return all ;
}

static void expect_header (char const *name, char const *h, char const *want)
{
  char const *got = header_addrs(h) ;
  char why[16384] ;
  snprintf(why, sizeof why, "got [%s] want [%s]", got, want) ;
  check(name, !strcmp(got, want), why) ;
}

static void rfc5322_appendix_a (void)
{
  expect_header("A.1.1-simple",
    "From: John Doe <jdoe@machine.example>\r\n"
    "To: Mary Smith <mary@example.net>\r\n"
    "Subject: Saying Hello\r\n"
    "Date: Fri, 21 Nov 1997 09:55:06 -0600\r\n"
    "Message-ID: <1234@local.machine.example>\r\n"
    "\r\n"
    "This is a message just to say hello.\r\n",
    "From: |John Doe|jdoe@machine.example\n"
    "To: |Mary Smith|mary@example.net") ;
  expect_header("A.1.1-sender",
    "From: John Doe <jdoe@machine.example>\n"
    "Sender: Michael Jones <mjones@machine.example>\n"
    "To: Mary Smith <mary@example.net>\n",
    "From: |John Doe|jdoe@machine.example\n"
    "Sender: |Michael Jones|mjones@machine.example\n"
    "To: |Mary Smith|mary@example.net") ;
  expect_header("A.1.2-different-types",
    "From: \"Joe Q. Public\" <john.q.public@example.com>\n"
    "To: Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>\n"
    "Cc: <boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>\n"
    "Date: Tue, 1 Jul 2003 10:52:37 +0200\n"
    "Message-ID: <5678.21-Nov-1997@example.com>\n",
    "From: |Joe Q. Public|john.q.public@example.com\n"
    "To: |Mary Smith|mary@x.test; ||jdoe@example.org; |Who?|one@y.test\n"
    "Cc: ||boss@nil.test; |Giant; \"Big\" Box|sysservices@example.net") ;
  expect_header("A.1.3-group",
    "From: Pete <pete@silly.example>\n"
    "To: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;\n"
    "Cc: Undisclosed recipients:;\n"
    "Date: Thu, 13 Feb 1969 23:32:54 -0330\n",
    "From: |Pete|pete@silly.example\n"
    "To: A Group|Ed Jones|c@a.test; A Group||joe@where.test; A Group|John|jdoe@one.test\n"
    "Cc: ") ;
  expect_header("A.2-reply",
    "From: Mary Smith <mary@example.net>\n"
    "To: John Doe <jdoe@machine.example>\n"
    "Reply-To: \"Mary Smith: Personal Account\" <smith@home.example>\n"
    "Subject: Re: Saying Hello\n"
    "In-Reply-To: <1234@local.machine.example>\n",
    "From: |Mary Smith|mary@example.net\n"
    "To: |John Doe|jdoe@machine.example\n"
    "Reply-To: |Mary Smith: Personal Account|smith@home.example") ;
  expect_header("A.3-resent",
    "Resent-From: Mary Smith <mary@example.net>\n"
    "Resent-To: Jane Brown <j-brown@other.example>\n"
    "Resent-Date: Mon, 24 Nov 1997 14:22:01 -0800\n"
    "Resent-Message-ID: <78910@example.net>\n"
    "From: John Doe <jdoe@machine.example>\n"
    "To: Mary Smith <mary@example.net>\n",
    "Resent-From: |Mary Smith|mary@example.net\n"
    "Resent-To: |Jane Brown|j-brown@other.example\n"
    "From: |John Doe|jdoe@machine.example\n"
    "To: |Mary Smith|mary@example.net") ;
  expect_header("A.4-trace",
    "Received: from x.y.test\n"
    "   by example.net\n"
    "   via TCP\n"
    "   with ESMTP\n"
    "   id ABC12345\n"
    "   for <mary@example.net>;  21 Nov 1997 10:05:43 -0600\n"
    "Received: from node.example by x.y.test; 21 Nov 1997 10:01:22 -0600\n"
    "From: John Doe <jdoe@node.example>\n"
    "To: Mary Smith <mary@example.net>\n",
    "From: |John Doe|jdoe@node.example\n"
    "To: |Mary Smith|mary@example.net") ;
  expect_header("A.5-oddities",
    "From: Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>\n"
    "To:A Group(Some people)\n"
    "     :Chris Jones <c@(Chris's host.)public.example>,\n"
    "         joe@example.org,\n"
    "  John <jdoe@one.test> (my dear friend); (the end of the group)\n"
    "Cc:(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;\n"
    "Date: Thu,\n"
    "      13\n"
    "        Feb\n"
    "          1969\n"
    "      23:32\n"
    "               -0330 (Newfoundland Time)\n"
    "Message-ID:              <testabcd.1234@silly.test>\n"
    "\n"
    "Testing.\n",
    "From: |Pete|pete@silly.test\n"
    "To: A Group|Chris Jones|c@public.example; A Group||joe@example.org; A Group|John|jdoe@one.test\n"
    "Cc: ") ;
  expect_header("A.6.1-obsolete-addressing",
    "From: Joe Q. Public <john.q.public@example.com>\n"
    "To: Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example\n"
    "Date: Tue, 1 Jul 2003 10:52:37 +0200\n",
    "From: |Joe Q. Public|john.q.public@example.com\n"
    "To: |Mary Smith|mary@example.net; ||jdoe@test.example") ;
  expect_header("A.6.2-obsolete-dates",
    "From: John Doe <jdoe@machine.example>\n"
    "To: Mary Smith <mary@example.net>\n"
    "Date: 21 Nov 97 09:55:06 GMT\n",
    "From: |John Doe|jdoe@machine.example\n"
    "To: |Mary Smith|mary@example.net") ;
  expect_header("A.6.3-obsolete-white-space",
    "From  : John Doe <jdoe@machine(comment).  example>\n"
    "To    : Mary Smith\n"
    "  \n"
    "          <mary@example.net>\n"
    "Subject     : Saying Hello\n"
    "Date  : Fri, 21 Nov 1997 09(comment):   55  :  06 -0600\n"
    "Message-ID  : <1234   @   local(blah)  .machine .example>\n",
    "From: |John Doe|jdoe@machine.example\n"
    "To: |Mary Smith|mary@example.net") ;
  expect_header("rfc822-A.3.2",
    "Date:     26 Aug 76 14:30 EDT\n"
    "From:     George Jones<Group@Host>\n"
    "Sender:   Secy@SHOST\n"
    "To:       \"Al Neuman\"@Mad-Host,\n"
    "          Sam.Irving@Other-Host\n",
    "From: |George Jones|Group@Host\n"
    "Sender: ||Secy@SHOST\n"
    "To: ||Al Neuman@Mad-Host; ||Sam.Irving@Other-Host") ;
  expect_header("rfc822-A.3.3",
    "cc       :  Important folk:\n"
    "              Tom Softwood <Balsa@Tree.Root>,\n"
    "              \"Sam Irving\"@Other-Host;,\n"
    "            Standard Distribution:\n"
    "              /main/davis/people/standard@Other-Host,\n"
    "              \"<Jones>standard.dist.3\"@Tops-20-Host;\n",
    "Cc: Important folk|Tom Softwood|Balsa@Tree.Root; Important folk||Sam Irving@Other-Host; "
    "Standard Distribution||/main/davis/people/standard@Other-Host; Standard Distribution||<Jones>standard.dist.3@Tops-20-Host") ;
}

static void addresses (void)
{
  expect("plain", "user@example.org", 0, "||user@example.org") ;
  expect("angle-only", "<user@example.org>", 0, "||user@example.org") ;
  expect("empty-list", "", 0, "") ;
  expect("blank-list", "  \r\n  ", 0, "") ;
  expect("only-commas", " , ,, ", 0, "") ;
  expect("quoted-local", "\"john doe\"@example.org", 0, "||john doe@example.org") ;
  expect("quoted-local-escapes", "\"a\\\"b\\\\c\"@example.org", 0, "||a\"b\\c@example.org") ;
  expect("quoted-local-specials", "\"a@b,c;d<e>\"@x.test", 0, "||a@b,c;d<e>@x.test") ;
  expect("quoted-mixed-local", "\"john\".public@example.com", 0, "||john.public@example.com") ;
  expect("quoted-empty-local", "\"\"@home.example", 0, "||@home.example") ;
  expect("all-atext", "!#$%&'*+-/=?^_`{|}~@iana.org", 0, "||!#$%&'*+-/=?^_`{|}~@iana.org") ;
  expect("domain-literal", "pete@[255.255.255.255]", 0, "||pete@[255.255.255.255]") ;
  expect("domain-literal-ipv6", "Pete <pete@[IPv6:2001:db8::1]>", 0, "|Pete|pete@[IPv6:2001:db8::1]") ;
  expect("domain-literal-comment", "jdoe@[RFC-5322-domain-literal] (comment)", 0, "||jdoe@[RFC-5322-domain-literal]") ;
  expect("comment-before", "(comment)smith@home.example", 0, "||smith@home.example") ;
  expect("comment-nested", "a((b)(c(d)))@x.test", 0, "||a@x.test") ;
  expect("comment-with-quotes", "(\"not a quote)a@x.test", 0, "||a@x.test") ;
  expect("comment-escaped-paren", "(\\(not nested)a@x.test", 0, "||a@x.test") ;
  expect("old-style-comment-name", "jdoe@example.org (John Doe)", 0, "||jdoe@example.org") ;
  expect("cfws-around-dots", "mary . smith@y.test", 0, "||mary.smith@y.test") ;
  expect("cfws-around-at", " richard @ home .example", 0, "||richard@home.example") ;
  expect("folded", "A\r\n B <a@b.c>,\r\n\tc@d.e", 0, "|A B|a@b.c; ||c@d.e") ;
  expect("quoted-folded", "\"A\r\n B\" <a@b.c>", 0, "|A B|a@b.c") ;
  expect("display-quoted-and-atoms", "\"Dr.\" John \"Q\" Public <j@x.test>", 0, "|Dr. John Q Public|j@x.test") ;
  expect("display-utf8", "J\xc3\xb6rg <j\xc3\xb6rg@b\xc3\xbc.example>", 0, "|J\xc3\xb6rg|j\xc3\xb6rg@b\xc3\xbc.example") ;
  expect("route-multiple", "<@a.test,@b.test:c@d.test>", 0, "||c@d.test") ;
  expect("group-empty-members", "g: , a@b.c, , ;", 0, "g||a@b.c") ;
  expect("group-then-mailbox", "A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;, Mary Smith <mary@x.test>", 0,
         "A Group|Ed Jones|c@a.test; A Group||joe@where.test; A Group|John|jdoe@one.test; |Mary Smith|mary@x.test") ;
  expect("bare-refused", "root", 0, "ERROR missing @domain in address") ;
  expect("bare-accepted", "root, a.b , c@d.e", RFC5322_BARE, "||root@; ||a.b@; ||c@d.e") ;
  expect("bare-phrase-refused", "John Doe", RFC5322_BARE, "ERROR not an address (a display name needs the address in <...>)") ;
  expect("bare-in-group", "g: root;", RFC5322_BARE, "g||root@") ;
}

static void errors (void)
{
  expect_error("unbalanced-quote", "\"john@example.org", 17, "unbalanced quote") ;
  expect_error("unbalanced-quote-escaped-end", "\"john\\\"@example.org", 19, "unbalanced quote") ;
  expect_error("unbalanced-quote-backslash-at-end", "\"john\\", 6, "unbalanced quote") ;
  expect_error("unbalanced-angle-open", "John <j@x.test", 14, "< with no >") ;
  expect_error("unbalanced-angle-close", "j@x.test>", 9, "> with no <") ;
  expect_error("unbalanced-angle-close-alone", ">", 1, "> with no <") ;
  expect_error("unbalanced-paren-open", "j@x.test (comment", 17, "comment not closed") ;
  expect_error("unbalanced-paren-nested", "j@x.test ((comment)", 19, "comment not closed") ;
  expect_error("unbalanced-paren-close", "j@x.test)", 9, ") with no (") ;
  expect_error("unbalanced-bracket-open", "j@[1.2.3.4", 10, "domain literal not closed") ;
  expect_error("unbalanced-bracket-close", "j@x]", 4, "] with no [") ;
  expect_error("bracket-in-literal", "j@[1.[2]", 8, "[ inside a domain literal") ;
  expect_error("nul-in-atom", "jo\0hn@x.test", 12, "NUL") ;
  expect_error("nul-in-quote", "\"jo\0hn\"@x.test", 14, "NUL") ;
  expect_error("nul-in-comment", "(a\0b)j@x.test", 13, "NUL") ;
  expect_error("ctl-in-quote", "\"a\001b\"@x.test", 12, "control character") ;
  expect_error("ctl-escaped-in-quote", "\"a\\\001b\"@x.test", 13, "control character") ;
  expect_error("escaped-lf-in-quote", "\"a\\\nb\"@x.test", 13, "control character") ;
  expect_error("del", "a\177b@x.test", 10, "control character") ;
  expect_error("missing-domain", "john@", 5, "missing domain") ;
  expect_error("missing-domain-angle", "<john@>", 7, "missing domain") ;
  expect_error("missing-local", "@example.org", 12, "missing local part") ;
  expect_error("missing-local-angle", "<@example.org>", 14, "") ;
  expect_error("empty-angle", "<>", 2, "empty address <>") ;
  expect_error("domain-trailing-dot", "a@b.", 4, "domain ends with a dot") ;
  expect_error("domain-double-dot", "a@b..c", 6, "two dots") ;
  expect_error("local-double-dot", "a..b@c.d", 8, "") ;
  expect_error("local-leading-dot", ".a@c.d", 6, "starts with a dot") ;
  expect_error("local-trailing-dot", "a.@c.d", 6, "ends with a dot") ;
  expect_error("phrase-without-angle", "John Doe@example.org", 20, "display name needs") ;
  expect_error("two-addresses-no-comma", "a@b.c d@e.f", 11, "expected , between addresses") ;
  expect_error("two-at", "a@b@c", 5, "expected , between addresses") ;
  expect_error("nested-group", "a: b: c@d.e;;", 13, "group inside a group") ;
  expect_error("group-not-closed", "a: c@d.e", 8, "group not closed") ;
  expect_error("group-no-name", ": c@d.e;", 8, "group with no name") ;
  expect_error("semicolon-outside", "c@d.e;", 6, "; outside a group") ;
  expect_error("backslash-outside", "a\\b@c.d", 7, "backslash outside") ;
  expect_error("garbage-after-angle", "<a@b.c> x", 9, "expected ,") ;
  expect_error("garbage-in-angle", "<a@b.c x>", 9, "unexpected character after the domain") ;
  expect_error("bare-by-default", "root", 4, "missing @domain") ;
}

static void hostile (void)
{
  size_t big = 1 << 20, i ;
  char *s = malloc(4 * big + 64) ;
  if (!s) { check("hostile-malloc", 0, "out of memory") ; return ; }

  /* 1 MB of local part: parsed, not a crash */
  memset(s, 'a', big) ;
  memcpy(s + big, "@x.test", 7) ;
  {
    stralloc out = STRALLOC_ZERO ;
    size_t n = 0 ;
    rfc5322_error e = RFC5322_ERROR_ZERO ;
    int r = rfc5322_addrlist(s, big + 7, 0, &out, &n, &e) ;
    check("hostile-1MB-local-part", r == 1 && n == 1 && out.len == 2 + big + 1 + 7, "not parsed whole") ;
    stralloc_free(&out) ;
  }
  /* 1 MB of a quoted string never closed */
  s[0] = '"' ;
  check("hostile-1MB-unbalanced-quote", !strncmp(addrs(s, big, 0), "ERROR unbalanced quote", 22), result) ;
  /* 1 MB of '(' */
  memset(s, '(', big) ;
  check("hostile-1MB-open-parens", !strncmp(addrs(s, big, 0), "ERROR unbalanced parenthesis", 28), result) ;
  /* comments nested 1M deep, balanced: fine */
  memset(s + big, ')', big) ;
  memcpy(s + 2 * big, "a@b.c", 5) ;
  check("hostile-deep-nested-comments", !strcmp(addrs(s, 2 * big + 5, 0), "||a@b.c"), result) ;
  /* one ) short */
  check("hostile-deep-nested-unbalanced", !strncmp(addrs(s, 2 * big - 1, 0), "ERROR unbalanced parenthesis", 28), result) ;
  /* 1 MB of '<' and of '>' */
  memset(s, '<', big) ;
  check("hostile-1MB-angles", !strncmp(addrs(s, big, 0), "ERROR ", 6), result) ;
  memset(s, '>', big) ;
  check("hostile-1MB-close-angles", !strncmp(addrs(s, big, 0), "ERROR unbalanced angle", 22), result) ;
  memset(s, '[', big) ;
  check("hostile-1MB-brackets", !strncmp(addrs(s, big, 0), "ERROR ", 6), result) ;
  /* 100k addresses */
  {
    size_t n = 0, k ;
    for (k = 0 ; k < 100000 ; k++) { memcpy(s + n, "a@b.c,", 6) ; n += 6 ; }
    {
      stralloc out = STRALLOC_ZERO ;
      size_t cnt = 0 ;
      rfc5322_error e = RFC5322_ERROR_ZERO ;
      int r = rfc5322_addrlist(s, n, 0, &out, &cnt, &e) ;
      check("hostile-100k-addresses", r == 1 && cnt == 100000, "wrong count") ;
      stralloc_free(&out) ;
    }
  }
  /* 1 MB of commas, of dots, of colons, of semicolons */
  memset(s, ',', big) ;
  check("hostile-1MB-commas", !strcmp(addrs(s, big, 0), ""), result) ;
  memset(s, '.', big) ;
  check("hostile-1MB-dots", !strncmp(addrs(s, big, 0), "ERROR ", 6), result) ;
  memset(s, ':', big) ;
  check("hostile-1MB-colons", !strncmp(addrs(s, big, 0), "ERROR ", 6), result) ;
  /* bytes 0..255 each at every position of a short address: never a crash */
  {
    int ok = 1 ;
    char t[32] ;
    for (i = 0 ; i < 256 ; i++)
    {
      size_t p ;
      for (p = 0 ; p < 12 ; p++)
      {
        memcpy(t, "\"a\" <b@c.d>,", 12) ;
        t[p] = (char)i ;
        addrs(t, 12, RFC5322_BARE) ;
        if (!result[0] && 0) ok = 0 ;
      }
    }
    check("hostile-every-byte", ok, "") ;
  }

  /* header fields */
  memcpy(s, "Subject: ", 9) ;
  memset(s + 9, 'x', big) ;
  memcpy(s + 9 + big, "\n\nbody\n", 8) ;
  check("header-1MB-line", !strcmp(fields(s, 9 + big + 7, 998), "ERROR header line too long"), result) ;
  check("header-1MB-line-allowed", !strncmp(fields(s, 9 + big + 7, 2 * big), "Subject= xxx", 12), "not read") ;
  check("header-1MB-line-end", strstr(result, "END@") && atol(strstr(result, "END@") + 4) == (long)(9 + big + 1), result) ;
  memset(s, 'X', big) ;
  memcpy(s + big, ": v\n", 4) ;
  check("header-1MB-name", !strcmp(fields(s, big + 4, 998), "END@0"), result) ;
  memcpy(s, "Subject: a\n \n", 13) ;
  memset(s + 13, ' ', big) ;
  memcpy(s + 13 + big, "b\n\n", 3) ;
  check("header-1MB-continuation", !strcmp(fields(s, 13 + big + 3, 998), "ERROR header line too long"), result) ;
  free(s) ;
}

static void header_fields (void)
{
  static char const nul[] = "Subject: a\0b\n\n" ;
  static char const nulcont[] = "Subject: a\n b\0\n\n" ;
  expect_fields("fields-simple", "From: a@b\nTo: c@d\n\nbody\n", 998, "From= a@b | To= c@d | END@18") ;
  expect_fields("fields-crlf", "From: a@b\r\nTo: c@d\r\n\r\nbody\r\n", 998, "From= a@b | To= c@d | END@20") ;
  expect_fields("fields-folded", "Subject: a\n  b\n\tc\nX: y\n\n", 998, "Subject= a\\n  b\\n\tc | X= y | END@23") ;
  expect_fields("fields-obs-blank-before-colon", "From  : a@b\nTo\t: c\n", 998, "From= a@b | To= c | END@19") ;
  expect_fields("fields-no-separator-eof", "From: a@b\nTo: c", 998, "From= a@b | To= c | END@15") ;
  expect_fields("fields-empty-body", "Bcc:\nTo: x\n", 998, "Bcc= | To= x | END@11") ;
  expect_fields("fields-body-starts-without-blank-line", "From: a@b\nhello world\n", 998, "From= a@b | END@10") ;
  expect_fields("fields-first-line-not-a-field", "hello\nFrom: a@b\n", 998, "END@0") ;
  expect_fields("fields-leading-blank-not-a-field", " From: a@b\n", 998, "END@0") ;
  expect_fields("fields-name-with-space", "Foo Bar: x\n", 998, "END@0") ;
  expect_fields("fields-empty-name", ": x\n", 998, "END@0") ;
  expect_fields("fields-no-limit", "From: a@b\nTo: c@d\n\n", (size_t)-1, "From= a@b | To= c@d | END@18") ;
  expect_fields("fields-line-at-limit", "S: 12345\n", 8, "S= 12345 | END@9") ;
  expect_fields("fields-line-over-limit", "S: 123456\n", 8, "ERROR header line too long") ;
  expect_fields("fields-bare-cr", "Subject: a\rb\n", 998, "ERROR CR not followed by LF in the header") ;
  expect_fields("fields-bare-cr-continuation", "Subject: a\n b\r\n c\rd\n", 998, "ERROR CR not followed by LF in the header") ;
  check("fields-nul", !strcmp(fields(nul, sizeof nul - 1, 998), "ERROR NUL byte in the header"), result) ;
  check("fields-nul-continuation", !strcmp(fields(nulcont, sizeof nulcont - 1, 998), "ERROR NUL byte in the header"), result) ;
  check("field-is", rfc5322_field_is("resent-BCC", 10, "Resent-Bcc") && !rfc5322_field_is("Bcc", 3, "Bc") && !rfc5322_field_is("Bc", 2, "Bcc"), "") ;
}

static void formatting (void)
{
  stralloc sa = STRALLOC_ZERO ;
  int ok ;
  ok = rfc5322_cat_addr(&sa, "john.doe", "x.test") && stralloc_0(&sa) && !strcmp(sa.s, "john.doe@x.test") ;
  check("cat-addr-dot-atom", ok, sa.s) ;
  sa.len = 0 ;
  ok = rfc5322_cat_addr(&sa, "john doe", "x.test") && stralloc_0(&sa) && !strcmp(sa.s, "\"john doe\"@x.test") ;
  check("cat-addr-quoted", ok, sa.s) ;
  sa.len = 0 ;
  ok = rfc5322_cat_addr(&sa, "a\"b\\", "x.test") && stralloc_0(&sa) && !strcmp(sa.s, "\"a\\\"b\\\\\"@x.test") ;
  check("cat-addr-escapes", ok, sa.s) ;
  sa.len = 0 ;
  ok = rfc5322_cat_addr(&sa, "a..b", "x.test") && stralloc_0(&sa) && !strcmp(sa.s, "\"a..b\"@x.test") ;
  check("cat-addr-double-dot", ok, sa.s) ;
  sa.len = 0 ;
  ok = rfc5322_cat_phrase(&sa, "Cron Daemon") && stralloc_0(&sa) && !strcmp(sa.s, "Cron Daemon") ;
  check("cat-phrase-atoms", ok, sa.s) ;
  sa.len = 0 ;
  ok = rfc5322_cat_phrase(&sa, "Joe Q. Public") && stralloc_0(&sa) && !strcmp(sa.s, "\"Joe Q. Public\"") ;
  check("cat-phrase-quoted", ok, sa.s) ;
  sa.len = 0 ;
  ok = rfc5322_cat_phrase(&sa, "a  b") && stralloc_0(&sa) && !strcmp(sa.s, "\"a  b\"") ;
  check("cat-phrase-double-space", ok, sa.s) ;
  /* round trip: what cat_* writes parses back to the same strings */
  sa.len = 0 ;
  ok = rfc5322_cat_phrase(&sa, "Giant; \"Big\" Box") && stralloc_cats(&sa, " <") && rfc5322_cat_addr(&sa, "a b\"c", "x.test") && stralloc_cats(&sa, ">") ;
  check("cat-round-trip", ok && !strcmp(addrs(sa.s, sa.len, 0), "|Giant; \"Big\" Box|a b\"c@x.test"), result) ;
  stralloc_free(&sa) ;
}

/* Parse, write back with rfc5322_cat_phrase and rfc5322_cat_addr, parse
   again: the same mailboxes, field for field, and the written form itself
   written again is unchanged. */
static void roundtrip (char const *name, char const *input)
{
  stralloc w = STRALLOC_ZERO, w2 = STRALLOC_ZERO ;
  char first[4096], why[8192] ;
  char const *got ;
  int ok ;
  size_t n = 0, pos = 0, k ;
  stralloc out = STRALLOC_ZERO ;
  rfc5322_error e = RFC5322_ERROR_ZERO ;
  ok = rfc5322_addrlist(input, strlen(input), RFC5322_BARE, &out, &n, &e) == 1 && n ;
  for (k = 0 ; ok && k < n ; k++)
  {
    char const *g = out.s + pos ; pos += strlen(g) + 1 ;
    char const *d = out.s + pos ; pos += strlen(d) + 1 ;
    char const *l = out.s + pos ; pos += strlen(l) + 1 ;
    char const *dom = out.s + pos ; pos += strlen(dom) + 1 ;
    if (k && !stralloc_cats(&w, ", ")) ok = 0 ;
    if (*d && (!rfc5322_cat_phrase(&w, d) || !stralloc_cats(&w, " <"))) ok = 0 ;
    if (!rfc5322_cat_addr(&w, l, dom)) ok = 0 ;
    if (*d && !stralloc_cats(&w, ">")) ok = 0 ;
  }
  if (!stralloc_0(&w)) ok = 0 ;
  snprintf(first, sizeof first, "%s", addrs(input, strlen(input), RFC5322_BARE)) ;
  got = ok ? addrs(w.s, w.len - 1, RFC5322_BARE) : "unparsed" ;
  snprintf(why, sizeof why, "input [%s] written [%s] parsed [%s] then [%s]", input, ok ? w.s : "", first, got) ;
  check(name, ok && !strcmp(first, got), why) ;
  stralloc_free(&out) ;
  stralloc_free(&w) ;
  stralloc_free(&w2) ;
}

/* Random strings over the characters that matter, with a fixed seed:
   never a crash (the sanitizer build checks memory), and every list that
   parses gives mailboxes that, written back with rfc5322_cat_phrase and
   rfc5322_cat_addr, parse to the same display name, local part and
   domain, with no control character in them. */
static void fuzz (char const *name, char const *alphabet, size_t alen, unsigned long seed)
{
  unsigned long i, parsed = 0, bad = 0, roundtrip_bad = 0 ;
  char s[48] ;
  stralloc out = STRALLOC_ZERO, again = STRALLOC_ZERO, w = STRALLOC_ZERO ;
  for (i = 0 ; i < 300000 ; i++)
  {
    size_t len, k, n = 0, pos = 0 ;
    rfc5322_error e = RFC5322_ERROR_ZERO ;
    int r ;
    seed = seed * 6364136223846793005UL + 1442695040888963407UL ;
    len = (seed >> 33) % 40 ;
    for (k = 0 ; k < len ; k++)
    {
      seed = seed * 6364136223846793005UL + 1442695040888963407UL ;
      s[k] = alphabet[(seed >> 33) % alen] ;
    }
    out.len = 0 ;
    r = rfc5322_addrlist(s, len, RFC5322_BARE, &out, &n, &e) ;
    if (r < 0) { bad++ ; continue ; }
    if (!r) { if (!e.what || e.pos > len) bad++ ; continue ; }
    parsed++ ;
    for (k = 0 ; k < n ; k++)
    {
      char const *g = out.s + pos ; pos += strlen(g) + 1 ;
      char const *d = out.s + pos ; pos += strlen(d) + 1 ;
      char const *l = out.s + pos ; pos += strlen(l) + 1 ;
      char const *dom = out.s + pos ; pos += strlen(dom) + 1 ;
      char const *c ;
      size_t m = 0, p2 = 0 ;
      rfc5322_error e2 = RFC5322_ERROR_ZERO ;
      for (c = l ; *c ; c++) if (((unsigned char)*c < 32 && *c != '\t') || *c == 127) bad++ ;  /* "a<TAB>b"@x is valid */
      for (c = dom ; *c ; c++) if ((unsigned char)*c < 32 || *c == 127) bad++ ;
      if (!*l) continue ;  /* ""@x: an empty local part has no written form but "" */
      w.len = 0 ;
      if (*d) { if (!rfc5322_cat_phrase(&w, d) || !stralloc_cats(&w, " <")) bad++ ; }
      if (!rfc5322_cat_addr(&w, l, dom)) bad++ ;
      if (*d && !stralloc_cats(&w, ">")) bad++ ;
      again.len = 0 ;
      if (*d && !*dom) continue ;  /* "Name <bare>" is not an address */
      if (rfc5322_addrlist(w.s, w.len, RFC5322_BARE, &again, &m, &e2) != 1 || m != 1) { roundtrip_bad++ ; continue ; }
      p2 += strlen(again.s) + 1 ;
      if (strcmp(again.s + p2, d)) roundtrip_bad++ ;
      p2 += strlen(again.s + p2) + 1 ;
      if (strcmp(again.s + p2, l)) roundtrip_bad++ ;
      p2 += strlen(again.s + p2) + 1 ;
      if (strcmp(again.s + p2, dom)) roundtrip_bad++ ;
    }
    if (pos != out.len) bad++ ;
  }
  {
    char why[200], cname[100] ;
    snprintf(why, sizeof why, "%lu inconsistent results, %lu parsed", bad, parsed) ;
    snprintf(cname, sizeof cname, "fuzz-%s-consistent", name) ;
    check(cname, !bad && parsed > 1000, why) ;
    snprintf(why, sizeof why, "%lu mailboxes did not survive being written back", roundtrip_bad) ;
    snprintf(cname, sizeof cname, "fuzz-%s-round-trip", name) ;
    check(cname, !roundtrip_bad, why) ;
  }
  stralloc_free(&out) ;
  stralloc_free(&again) ;
  stralloc_free(&w) ;
}

/* The one date formatter (Date:, Received:, the DSN's dates). */
static void dates (void)
{
  char s[RFC5322_DATE_FMT] ;
  size_t n = rfc5322_date_fmt(s, 0) ;
  check("date-epoch", n == strlen(s) && !strcmp(s, "Thu, 1 Jan 1970 00:00:00 +0000"), s) ;
  n = rfc5322_date_fmt(s, 1796505738) ;
  check("date-padding", n == strlen(s) && !strcmp(s, "Sat, 5 Dec 2026 21:22:18 +0000"), s) ;
  n = rfc5322_date_fmt(s, 4102444799LL) ;
  check("date-end-of-2099", n == strlen(s) && !strcmp(s, "Thu, 31 Dec 2099 23:59:59 +0000"), s) ;
  n = rfc5322_date_fmt(s, 946688461) ;
  check("date-two-digit-fields", !strcmp(s, "Sat, 1 Jan 2000 01:01:01 +0000"), s) ;
}

int main (void)
{
  dates() ;
  rfc5322_appendix_a() ;
  addresses() ;
  errors() ;
  hostile() ;
  header_fields() ;
  formatting() ;
  /* domain literals with quoted-pairs (obs-dtext): the pair is kept whole */
  expect("domain-literal-quoted-space", "a@[ab\\ ]", 0, "||a@[ab\\ ]") ;
  expect("domain-literal-quoted-bracket", "a@[x\\]y]", 0, "||a@[x\\]y]") ;
  expect("domain-literal-quoted-backslash", "a@[x\\\\]", 0, "||a@[x\\\\]") ;
  expect("domain-literal-blanks-dropped", "a@[ 1.2.3.4 ]", 0, "||a@[1.2.3.4]") ;
  roundtrip("roundtrip-dlit-quoted-space", "a@[ab\\ ]") ;
  roundtrip("roundtrip-dlit-quoted-bracket", "Name <a@[x\\]y]>, b@[\\[]") ;
  roundtrip("roundtrip-dlit-quoted-tab", "a@[a\\\tb]") ;
  roundtrip("roundtrip-dlit-plain", "\"x y\"@[IPv6:2001:db8::1]") ;
  roundtrip("roundtrip-quoted-local", "\"a\\\"b\"@x.test, (c) m@y.test") ;
  {
    static char const specials[] = "ab.@,;:<>()[]\"\\ \t\r\n\0\001\377" ;
    static char const wordy[] = "aaaabbbcc..@@@,,<> \"\"()\\:;\t[]\r\n\377" ;
    fuzz("specials", specials, sizeof specials - 1, 12345) ;
    fuzz("wordy", wordy, sizeof wordy - 1, 424242) ;
  }
  return !!failed ;
}
