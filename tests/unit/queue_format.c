/* Unit test: queue ids, buckets and the queue file trailer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "queue.h"
#include "postie.h"

static int failed = 0 ;
static void check (char const *name, int ok)
{
  printf("%s %s\n", ok ? "PASS" : "FAIL", name) ;
  if (!ok) failed = 1 ;
}

int main (void)
{
  char s[QUEUE_ID_MAX] ;
  char t[QUEUE_TRAILER_LEN + 1] ;
  uint64_t len ;
  size_t n = queue_id_fmt(s, 1764176319, 42117, 5244093) ;
  check("id-fmt", n == strlen("1764176319.042117.5244093") && !strcmp(s, "1764176319.042117.5244093")) ;
  check("id-bucket", queue_bucket(s) == 5244093 % QUEUE_SPLIT) ;
  n = queue_id_fmt(s, UINT64_MAX, 999999, UINT64_MAX) ;
  check("id-max-fits", n < QUEUE_ID_MAX && n == strlen(s)) ;
  queue_trailer_fmt(t, 0x123456789abcULL) ;
  t[QUEUE_TRAILER_LEN] = 0 ;
  check("trailer-fmt", !strcmp(t, "postie-queue-1 0000123456789abc\n")) ;
  check("trailer-scan", queue_trailer_scan(t, &len) == 1 && len == 0x123456789abcULL) ;
  t[20] = 'G' ;
  check("trailer-bad-digit", queue_trailer_scan(t, &len) == 0) ;
  queue_trailer_fmt(t, 5) ; t[31] = 'x' ;
  check("trailer-bad-end", queue_trailer_scan(t, &len) == 0) ;
  queue_trailer_fmt(t, 5) ; t[0] = 'P' ;
  check("trailer-bad-magic", queue_trailer_scan(t, &len) == 0) ;
  check("exit-str-permanent", !strcmp(queue_exit_str(QQ_ENVELOPE), "envelope format error")) ;
  setenv("POSTIE_HOME", "/x/y", 1) ;
  check("postie-home-env", !strcmp(postie_home(), "/x/y")) ;
  unsetenv("POSTIE_HOME") ;
  check("postie-home-default", !strcmp(postie_home(), POSTIE_HOME_DEFAULT)) ;
  return failed ;
}
