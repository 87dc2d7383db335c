/* Unit test: a session's timed I/O (programs/lib/timedio.c), on pipes:
   lines of every length around the limit, the too-long and runaway
   lines, one-byte reads that leave the rest of the input where it was,
   exact reads, peek and skip, the descriptor switch, and writes that
   wait for a full pipe and give up at the deadline. */
#define _GNU_SOURCE  /* F_SETPIPE_SZ */
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <skalibs/djbunix.h>
#include <skalibs/tai.h>
#include "timedio.h"

static int failed = 0 ;

static void check (char const *name, int cond)
{
  printf("%s timedio-%s\n", cond ? "PASS" : "FAIL", name) ;
  if (!cond) failed = 1 ;
}

static void nbpipe (int p[2])
{
  if (pipe(p) < 0 || ndelay_on(p[0]) < 0 || ndelay_on(p[1]) < 0) { perror("pipe") ; _exit(111) ; }
}

static void soon (tain *d, unsigned int ms)
{
  tain t ;
  tain_now_g() ;
  tain_from_millisecs(&t, ms) ;
  tain_add_g(d, &t) ;
}

/* getline on the bytes s (n of them, then end of input), max bytes. */
static int line_of (char const *s, size_t n, size_t max, char *line, size_t *len)
{
  char ib[64 + 1], ob[8 + 1] ;
  int p[2], r ;
  tain d ;
  timedio io ;
  nbpipe(p) ;
  if (write(p[1], s, n) != (ssize_t)n) return 99 ;
  close(p[1]) ;
  io = (timedio)TIMEDIO_INIT(p[0], ib, sizeof ib, -1, ob, sizeof ob) ;
  soon(&d, 2000) ;
  r = timedio_getline(&io, line, max, len, &d) ;
  close(p[0]) ;
  return r ;
}

int main (void)
{
  char big[200000] ;
  char line[256] ;
  size_t len ;
  signal(SIGPIPE, SIG_IGN) ;
  tain_now_set_stopwatch_g() ;

  /* a line of exactly max bytes with its LF is a line (skalibs'
     getlnmax says ERANGE then), one byte more is too long */
  check("exactmax", line_of("abcd\nrest", 9, 5, line, &len) == 1 && len == 5 && !memcmp(line, "abcd\n", 5)) ;
  check("undermax", line_of("abc\n", 4, 5, line, &len) == 1 && len == 4) ;
  check("overmax", line_of("abcde\n", 6, 5, line, &len) == -2) ;
  check("eof-partial", line_of("abc", 3, 5, line, &len) == 0) ;
  check("eof-empty", line_of("", 0, 5, line, &len) == 0) ;
  check("bare-cr-kept", line_of("a\rb\n", 4, 10, line, &len) == 1 && len == 4 && !memcmp(line, "a\rb\n", 4)) ;

  /* too long, read up to its LF: the next line is the next one */
  {
    char ib[16 + 1], ob[8 + 1] ;
    int p[2] ;
    tain d ;
    timedio io ;
    nbpipe(p) ;
    memset(big, 'x', 1000) ; big[1000] = '\n' ; memcpy(big + 1001, "next\n", 5) ;
    if (write(p[1], big, 1006) != 1006) return 111 ;
    close(p[1]) ;
    io = (timedio)TIMEDIO_INIT(p[0], ib, sizeof ib, -1, ob, sizeof ob) ;
    soon(&d, 2000) ;
    check("toolong-then-next", timedio_getline(&io, line, 10, &len, &d) == -2
      && timedio_getline(&io, line, 10, &len, &d) == 1 && len == 5 && !memcmp(line, "next\n", 5)) ;
    close(p[0]) ;
  }

  /* no LF within TIMEDIO_DISCARD_MAX bytes past max: -3 as soon as one
     byte more has come (a client that sends just that much and waits must
     not hang the session), and not one byte more used */
  {
    char ib[4096 + 1], ob[8 + 1] ;
    int p[2], r ;
    tain d ;
    timedio io ;
    ssize_t left ;
    nbpipe(p) ;
    fcntl(p[1], F_SETPIPE_SZ, 1 << 20) ;
    memset(big, 'y', sizeof big) ;
    if (write(p[1], big, sizeof big) != (ssize_t)sizeof big) { printf("FAIL timedio-runaway (pipe too small)\n") ; return 1 ; }
    io = (timedio)TIMEDIO_INIT(p[0], ib, sizeof ib, -1, ob, sizeof ob) ;
    soon(&d, 2000) ;
    r = timedio_getline(&io, line, 100, &len, &d) ;
    left = read(p[0], big, sizeof big) ;
    {
      size_t consumed = sizeof big - (left > 0 ? (size_t)left : 0) ;
      check("runaway", r == -3 && consumed - timedio_buffered(&io) == 100 + TIMEDIO_DISCARD_MAX + 1) ;
    }
    close(p[0]) ; close(p[1]) ;
    /* just one byte past the limit, and the client waits */
    nbpipe(p) ;
    fcntl(p[1], F_SETPIPE_SZ, 1 << 20) ;
    if (write(p[1], big, 100 + TIMEDIO_DISCARD_MAX + 1) != 100 + TIMEDIO_DISCARD_MAX + 1) return 111 ;
    io = (timedio)TIMEDIO_INIT(p[0], ib, sizeof ib, -1, ob, sizeof ob) ;
    soon(&d, 2000) ;
    check("runaway-exact", timedio_getline(&io, line, 100, &len, &d) == -3) ;
    close(p[0]) ; close(p[1]) ;
  }

  /* one-byte reads (2 bytes of storage) never take what follows the LF */
  {
    char ib[2], ob[16 + 1], rest[16] ;
    int p[2] ;
    tain d ;
    timedio io ;
    nbpipe(p) ;
    if (write(p[1], "USER u\r\nPASS p\r\n", 16) != 16) return 111 ;
    io = (timedio)TIMEDIO_INIT(p[0], ib, sizeof ib, -1, ob, sizeof ob) ;
    soon(&d, 2000) ;
    check("onebyte-line", timedio_getline(&io, line, 100, &len, &d) == 1 && len == 8 && !timedio_buffered(&io)) ;
    check("onebyte-rest-unread", read(p[0], rest, sizeof rest) == 8 && !memcmp(rest, "PASS p\r\n", 8)) ;
    close(p[0]) ; close(p[1]) ;
  }

  /* exact reads, peek and skip, and the switch that drops what was read */
  {
    char ib[8 + 1], ob[8 + 1], got[12] ;
    char const *s ;
    size_t n ;
    int p[2], q[2] ;
    tain d ;
    timedio io ;
    nbpipe(p) ; nbpipe(q) ;
    if (write(p[1], "0123456789ab", 12) != 12 || write(q[1], "tls", 3) != 3) return 111 ;
    io = (timedio)TIMEDIO_INIT(p[0], ib, sizeof ib, -1, ob, sizeof ob) ;
    soon(&d, 2000) ;
    check("get", timedio_get(&io, got, 10, &d) == 1 && !memcmp(got, "0123456789", 10)) ;
    check("peek", timedio_peek(&io, &s, &n, &d) == 1 && n >= 1 && s[0] == 'a') ;
    timedio_skip(&io, 1) ;
    check("skip", timedio_peek(&io, &s, &n, &d) == 1 && n == 1 && s[0] == 'b') ;
    timedio_switch(&io, q[0], -1) ;
    check("switch-drops", !timedio_buffered(&io) && timedio_get(&io, got, 3, &d) == 1 && !memcmp(got, "tls", 3)) ;
    close(q[1]) ;
    check("get-eof", timedio_get(&io, got, 1, &d) == 0) ;
    io = (timedio)TIMEDIO_INIT(p[0], ib, sizeof ib, -1, ob, sizeof ob) ;
    soon(&d, 100) ;
    check("get-timeout", timedio_get(&io, got, 1, &d) == -1 && errno == ETIMEDOUT) ;
    close(p[0]) ; close(p[1]) ; close(q[0]) ;
  }

  /* output: a put larger than the pipe waits for the reader; a pipe
     nobody reads makes the flush give up at its deadline */
  {
    char ib[8 + 1], ob[4096 + 1] ;
    int p[2] ;
    pid_t pid ;
    timedio io ;
    tain d ;
    nbpipe(p) ;
    pid = fork() ;
    if (!pid)
    {
      size_t total = 0 ;
      ssize_t r ;
      close(p[1]) ;
      ndelay_off(p[0]) ;
      while ((r = read(p[0], big, sizeof big)) > 0) total += r ;
      _exit(total == sizeof big ? 0 : 1) ;
    }
    close(p[0]) ;
    memset(big, 'z', sizeof big) ;
    io = (timedio)TIMEDIO_INIT(-1, ib, sizeof ib, p[1], ob, sizeof ob) ;
    check("put-waits", timedio_put(&io, big, sizeof big, 5) && timedio_flush_within(&io, 5)) ;
    close(p[1]) ;
    {
      int wstat ;
      check("put-all-read", waitpid(pid, &wstat, 0) == pid && WIFEXITED(wstat) && !WEXITSTATUS(wstat)) ;
    }
    nbpipe(p) ;
    soon(&d, 100) ;
    check("writeall-timeout", !timedio_writeall(p[1], big, sizeof big, &d) && errno == ETIMEDOUT) ;
    io = (timedio)TIMEDIO_INIT(-1, ib, sizeof ib, p[1], ob, sizeof ob) ;
    check("flush-timeout", !timedio_put(&io, big, sizeof big, 0) && errno == ETIMEDOUT) ;
    close(p[0]) ;
    check("writeall-closed", !timedio_writeall(p[1], "x", 1, &d) && errno == EPIPE) ;
    close(p[1]) ;
  }
  return failed ;
}
