/* Unit test: programs/lib/crypt_libc.c's snprintf, which libxcrypt calls
   in postie-users and postie-checkpassword instead of musl's: the formats
   libxcrypt uses ("%s%zu$", "$%c$rounds=%lu$") give what C's snprintf
   gives, truncation included (the return value is the untruncated
   length), and a conversion it does not carry aborts rather than
   formatting half a string. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <skalibs/strerr.h>
#include "crypt_libc.h"

static int failed = 0 ;
static void check (char const *name, int ok)
{
  printf("%s %s\n", ok ? "PASS" : "FAIL", name) ;
  if (!ok) failed = 1 ;
}

int main (void)
{
  char a[64], b[64] ;
  int ra, rb ;
  PROG = "crypt_libc" ;
  ra = __wrap_snprintf(a, sizeof a, "%s%zu$", "rounds=", (size_t)12345) ;
  rb = snprintf(b, sizeof b, "%s%zu$", "rounds=", (size_t)12345) ;
  check("sha-rounds", ra == rb && !strcmp(a, b) && !strcmp(a, "rounds=12345$")) ;
  ra = __wrap_snprintf(a, sizeof a, "$%c$rounds=%lu$", '6', 999999999UL) ;
  rb = snprintf(b, sizeof b, "$%c$rounds=%lu$", '6', 999999999UL) ;
  check("gensalt-rounds", ra == rb && !strcmp(a, b)) ;
  ra = __wrap_snprintf(a, sizeof a, "%u %d %i %ld %% %zu", 0u, -2147483647 - 1, 7, -9223372036854775807L - 1, (size_t)-1) ;
  rb = snprintf(b, sizeof b, "%u %d %i %ld %% %zu", 0u, -2147483647 - 1, 7, -9223372036854775807L - 1, (size_t)-1) ;
  check("integers", ra == rb && !strcmp(a, b)) ;
  memset(a, 'x', sizeof a) ;
  ra = __wrap_snprintf(a, 8, "%s%zu$", "rounds=", (size_t)12345) ;
  check("truncated", ra == 13 && !strcmp(a, "rounds=") && a[8] == 'x') ;
  memset(a, 'x', sizeof a) ;
  ra = __wrap_snprintf(a, 0, "%s", "abc") ;
  check("size-0", ra == 3 && a[0] == 'x') ;
  {
    /* %x: not carried; the child must die of SIGABRT */
    int st ;
    pid_t pid = fork() ;
    if (!pid)
    {
      close(2) ;
      __wrap_snprintf(a, sizeof a, "%x", 255u) ;
      _exit(0) ;
    }
    check("unknown-conversion-aborts", pid > 0 && waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT) ;
  }
  return failed ;
}
