/* Unit test: queue ids, buckets, the queue file trailer, and the info
   file reader (queue_info_load, queue_info_next). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <skalibs/stralloc.h>
#include "queue.h"
#include "queue_info.h"
#include "postie.h"

static int failed = 0 ;
static void check (char const *name, int ok)
{
  printf("%s %s\n", ok ? "PASS" : "FAIL", name) ;
  if (!ok) failed = 1 ;
}

/* queue_info_load on a file holding s: its return value. */
static int info (char const *s, stralloc *sa, queue_info *qi)
{
  int fd = open("info.test", O_WRONLY | O_CREAT | O_TRUNC, 0600) ;
  int r ;
  if (fd < 0 || write(fd, s, strlen(s)) != (ssize_t)strlen(s) || close(fd) < 0) { perror("info.test") ; exit(111) ; }
  r = queue_info_load("info.test", sa, qi) ;
  unlink("info.test") ;
  return r ;
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
  {
    queue_id q ;
    char path[QUEUE_PATH_MAX] ;
    check("id-scan", queue_id_scan("1764176319.042117.5244093", &q) == 1 && q.sec == 1764176319 && q.usec == 42117 && q.ino == 5244093) ;
    check("id-scan-leading-zero", queue_id_scan("01764176319.042117.5244093", &q) == 0) ;
    check("id-scan-short-usec", queue_id_scan("1764176319.42117.5244093", &q) == 0) ;
    check("id-scan-trailing", queue_id_scan("1764176319.042117.5244093x", &q) == 0) ;
    check("id-scan-no-ino", queue_id_scan("1764176319.042117.", &q) == 0) ;
    queue_id_scan("1764176319.042117.5244093", &q) ;
    queue_path(path, "info", &q) ;
    check("queue-path", !strcmp(path, "queue/info/61/1764176319.042117.5244093") && 5244093 % QUEUE_SPLIT == 61) ;
    queue_dir(path, "mess", 7) ;
    check("queue-dir", !strcmp(path, "queue/mess/7")) ;
  }
  check("exit-str-permanent", !strcmp(queue_exit_str(QQ_ENVELOPE), "envelope format error")) ;
  {
    stralloc sa = STRALLOC_ZERO ;
    queue_info qi ;
    size_t pos ;
    char st, kind ;
    char const *addr ;
    check("info-load", info("postie-info-1\n42\nme@ex.test\nPL\tu@ex.test\tu@ex.test\tu\tu\t\tex.test\t\n", &sa, &qi) == 1
      && qi.msglen == 42 && !strcmp(qi.sender, "me@ex.test")) ;
    pos = qi.first ;
    check("info-next", queue_info_next(&sa, &pos, &st, &kind, &addr) == 1 && st == 'P' && kind == 'L' && !strcmp(addr, "u@ex.test")
      && queue_info_next(&sa, &pos, &st, &kind, &addr) == 0) ;
    /* a file that ends after MSGLEN made the reader follow a null pointer
       (postie-qstat and postie-qread, as root) */
    errno = 0 ;
    check("info-no-sender-line", info("postie-info-1\n5\n", &sa, &qi) == -1 && errno == EINVAL) ;
    check("info-bad-magic", info("postie-info-2\n5\n\n", &sa, &qi) == -1 && errno == EINVAL) ;
    /* the one writer, read back by the one parser */
    {
      stralloc w = STRALLOC_ZERO ;
      char const *f[5] = { "u", "u", "", "ex.test", "" } ;
      queue_info_rcpt r ;
      check("info-write-read", queue_info_head(&w, 42, "me@ex.test", 10) && queue_info_line(&w, 'P', 'L', "u@ex.test", "o@ex.test", f)
        && queue_info_line(&w, 'D', 'R', "v@ex.test", "v@ex.test", f)
        && stralloc_copy(&sa, &w) && stralloc_readyplus(&sa, 1) && queue_info_parse(&sa, &qi) && qi.nrcpt == 2 && qi.msglen == 42
        && !strcmp(qi.sender, "me@ex.test")) ;
      pos = qi.first ;
      check("info-rcpt-fields", queue_info_rcpt_next(&sa, &pos, &r) && r.state == 'P' && r.kind == 'L' && w.s[r.off] == 'P'
        && !strcmp(sa.s + r.field[QI_ORIG], "o@ex.test") && !strcmp(sa.s + r.field[QI_DOMAIN], "ex.test")
        && queue_info_rcpt_next(&sa, &pos, &r) && r.state == 'D' && r.kind == 'R' && !queue_info_rcpt_next(&sa, &pos, &r)) ;
      stralloc_free(&w) ;
    }
    check("info-bad-state", info("postie-info-1\n5\nme\nQL\ta\ta\tu\tu\t\tex\t\n", &sa, &qi) == -1) ;
    check("info-bad-kind", info("postie-info-1\n5\nme\nPZ\ta\ta\tu\tu\t\tex\t\n", &sa, &qi) == -1) ;
    check("info-too-few-fields", info("postie-info-1\n5\nme\nPL\ta\ta\tu\tu\t\tex\n", &sa, &qi) == -1) ;
    check("info-too-many-fields", info("postie-info-1\n5\nme\nPL\ta\ta\tu\tu\t\tex\t\tx\n", &sa, &qi) == -1) ;
    check("info-no-final-newline", info("postie-info-1\n5\nx", &sa, &qi) == -1 && errno == EINVAL) ;
    stralloc_free(&sa) ;
  }
  setenv("POSTIE_HOME", "/x/y", 1) ;
  check("postie-home-env", !strcmp(postie_home(), "/x/y")) ;
  unsetenv("POSTIE_HOME") ;
  check("postie-home-default", !strcmp(postie_home(), POSTIE_HOME_DEFAULT)) ;
  return failed ;
}
