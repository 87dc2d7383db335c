/* Unit test: usersline_parse, the parser of users/users lines
   (programs/postie-users/usersline.c). */
/* links: postie-users */
#include <stdio.h>
#include <string.h>
#include "usersline.h"

static int failed = 0 ;
static void check (char const *name, int ok)
{
  printf("%s %s\n", ok ? "PASS" : "FAIL", name) ;
  if (!ok) failed = 1 ;
}

static int parse (char const *s, usersline *u)
{
  char const *why = 0 ;
  int r = usersline_parse(s, strlen(s), u, &why) ;
  if (r < 0 && !why) return -99 ;
  return r ;
}

static int fieldis (char const *f, size_t n, char const *want)
{
  return n == strlen(want) && !memcmp(f, want, n) ;
}

int main (void)
{
  usersline u ;
  check("good", parse("Alice:$y$abc:1000:100:/home/alice", &u) == 1
    && fieldis(u.name, u.namelen, "Alice") && fieldis(u.hash, u.hashlen, "$y$abc")
    && u.uid == 1000 && u.gid == 100 && fieldis(u.home, u.homelen, "/home/alice")
    && fieldis(u.maildir, u.maildirlen, "Maildir/")) ;
  check("good-maildir", parse("b:h:1:2:/h:/var/mail/b/", &u) == 1 && fieldis(u.maildir, u.maildirlen, "/var/mail/b/")) ;
  check("empty-maildir-default", parse("b:h:1:2:/h:", &u) == 1 && fieldis(u.maildir, u.maildirlen, "Maildir/")) ;
  check("empty-hash", parse("b::1:2:/h", &u) == 1 && u.hashlen == 0) ;
  check("space-in-home", parse("b:h:1:2:/h o/me", &u) == 1) ;
  check("uid-max", parse("b:h:4294967294:2:/h", &u) == 1 && u.uid == 4294967294U) ;
  check("blank", parse("", &u) == 0 && parse("  \t ", &u) == 0) ;
  check("comment", parse("# x:y", &u) == 0 && parse("   # indented", &u) == 0) ;
  check("too-few", parse("a:b:1:2", &u) == -1) ;
  check("too-many", parse("a:b:1:2:/h:M/:x", &u) == -1) ;
  check("far-too-many", parse("a:b:1:2:/h:M/:x:y:z", &u) == -1) ;
  check("empty-name", parse(":b:1:2:/h", &u) == -1) ;
  check("space-name", parse("a b:h:1:2:/h", &u) == -1) ;
  check("leading-space-name", parse(" a:h:1:2:/h", &u) == -1) ;
  check("ctrl-name", parse("a\x01:h:1:2:/h", &u) == -1) ;
  check("uid-letters", parse("a:h:1x:2:/h", &u) == -1) ;
  check("uid-empty", parse("a:h::2:/h", &u) == -1) ;
  check("uid-negative", parse("a:h:-1:2:/h", &u) == -1) ;
  check("uid-minus-one-value", parse("a:h:4294967295:2:/h", &u) == -1) ;
  check("uid-overflow", parse("a:h:4294967296:2:/h", &u) == -1) ;
  check("uid-long", parse("a:h:000000000000000001:2:/h", &u) == -1) ;
  check("gid-letters", parse("a:h:1:g:/h", &u) == -1) ;
  check("relative-home", parse("a:h:1:2:h", &u) == -1) ;
  check("empty-home", parse("a:h:1:2:", &u) == -1) ;
  check("cr-in-home", parse("a:h:1:2:/h\r", &u) == -1) ;
  check("maildir-no-slash", parse("a:h:1:2:/h:Mailbox", &u) == -1) ;
  check("space-in-hash", parse("a:h h:1:2:/h", &u) == -1) ;
  {
    char big[300] ;
    memset(big, 'n', sizeof big) ;
    memcpy(big + 256, ":h:1:2:/h", 10) ;
    check("name-too-long", usersline_parse(big, strlen(big), &u, &(char const *){0}) == -1) ;
  }
  return failed ;
}
