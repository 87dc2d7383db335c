/* Unit test: the netstring records between postie-send and its spawners
   (spawn.h): encoding, decoding, bad input, result line cleaning. */
#include <stdio.h>
#include <string.h>
#include "spawn.h"

static int failed = 0 ;
static void check (char const *name, int ok)
{
  printf("%s %s\n", ok ? "PASS" : "FAIL", name) ;
  if (!ok) failed = 1 ;
}

int main (void)
{
  stralloc sa = STRALLOC_ZERO ;
  char const *f[] = { "3", "queue/mess/1/x", "", "bob" } ;
  char const *g[8] ;
  size_t st, pl ;
  ssize_t r ;
  check("put", spawn_put(&sa, f, 4) && sa.len == 26 && !memcmp(sa.s, "22:3\0queue/mess/1/x\0\0bob\0,", 26)) ;
  r = spawn_get(sa.s, sa.len, 1000, &st, &pl) ;
  check("get", r == 26 && st == 3 && pl == 22) ;
  check("split", spawn_split(sa.s + st, pl, g, 8) == 4 && !strcmp(g[1], "queue/mess/1/x") && !*g[2] && !strcmp(g[3], "bob")) ;
  check("split-too-many", spawn_split(sa.s + st, pl, g, 3) == -1) ;
  check("split-no-final-nul", spawn_split("a\0b", 3, g, 8) == -1) ;
  check("split-empty", spawn_split("", 0, g, 8) == -1) ;
  check("get-incomplete", spawn_get(sa.s, 10, 1000, &st, &pl) == 0 && spawn_get("12", 2, 1000, &st, &pl) == 0) ;
  check("get-no-comma", spawn_get("3:ab\0;", 6, 1000, &st, &pl) == -1) ;
  check("get-no-colon", spawn_get("3;ab\0,", 6, 1000, &st, &pl) == -1) ;
  check("get-no-digits", spawn_get(":ab,", 4, 1000, &st, &pl) == -1) ;
  check("get-too-large", spawn_get("2000:", 5, 1000, &st, &pl) == -1) ;
  check("get-overlong-number", spawn_get("0000000000001:", 14, 1000, &st, &pl) == -1) ;
  check("get-two", spawn_get("1:a,1:b,", 8, 1000, &st, &pl) == 4 && st == 2 && pl == 1) ;
  sa.len = 0 ;
  check("result-clean", spawn_result(&sa, 'D', "550 no\r\x01such\tuser\r\n", 19) && sa.len == 19 && !memcmp(sa.s, "D550 no??such?user\0", 19)) ;
  {
    char big[3000] ;
    memset(big, 'a', sizeof big) ;
    sa.len = 0 ;
    check("result-cut", spawn_result(&sa, 'Z', big, sizeof big) && sa.len == SPAWN_LINE_MAX + 2) ;
  }
  return failed ;
}
