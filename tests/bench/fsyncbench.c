/* fsyncbench.c: the disk's own limits for a crash-safe mail queue, so that
   the benchmark's messages/s can be read against what the disk allows.

   Usage: fsyncbench DIR [seconds-per-test (default 3)] [max-ops (default 20000)]

   Each test runs until its time or op budget is used up, in DIR (which it
   creates and removes):
     overwrite  pwrite 4 KiB at offset 0 of one file + fdatasync
     newfile    create a new file, write 4 KiB, fsync, close
     rename     rename a durable file into another directory + fsync(dir)
     enqueue    newfile in a/, rename into b/, fsync b/ and a/: the
                write+fsync+rename+directory fsync of a Maildir delivery or
                a queue insertion, the unit the benchmarks are bound by
   Prints one line per test: name ops secs ops/s p50_us p99_us max_us. */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now (void)
{
  struct timespec ts ;
  clock_gettime(CLOCK_MONOTONIC, &ts) ;
  return ts.tv_sec + ts.tv_nsec / 1e9 ;
}

static void die (char const *what, char const *path)
{
  fprintf(stderr, "fsyncbench: fatal: %s %s: %s\n", what, path, strerror(errno)) ;
  exit(111) ;
}

static int cmpd (void const *a, void const *b)
{
  double x = *(double const *)a, y = *(double const *)b ;
  return x < y ? -1 : x > y ;
}

static char buf[4096] ;
static double *lat ;
static char base[2048] ;

static void report (char const *name, long n, double elapsed)
{
  if (!n) { printf("%s 0 %.3f 0 0 0 0\n", name, elapsed) ; return ; }
  qsort(lat, n, sizeof *lat, cmpd) ;
  printf("%s %ld %.3f %.1f %.1f %.1f %.1f\n", name, n, elapsed, n / elapsed,
         lat[n / 2] * 1e6, lat[(long)(n * 0.99)] * 1e6, lat[n - 1] * 1e6) ;
  fflush(stdout) ;
}

/* An empty directory base/sub, opened. */
static int mkd (char const *sub, char *out, size_t outlen, long cleanup)
{
  snprintf(out, outlen, "%s/%s", base, sub) ;
  for (long i = 0 ; i < cleanup ; i++)
  {
    char p[4200] ;
    snprintf(p, sizeof p, "%s/%ld", out, i) ;
    unlink(p) ;
  }
  rmdir(out) ;
  if (mkdir(out, 0700) < 0) die("unable to mkdir", out) ;
  int fd = open(out, O_RDONLY | O_DIRECTORY) ;
  if (fd < 0) die("unable to open", out) ;
  return fd ;
}

int main (int argc, char **argv)
{
  if (argc < 2) { fprintf(stderr, "fsyncbench: usage: fsyncbench DIR [secs] [maxops]\n") ; return 100 ; }
  double secs = argc > 2 ? atof(argv[2]) : 3.0 ;
  long maxops = argc > 3 ? atol(argv[3]) : 20000 ;
  if (secs <= 0 || maxops <= 0) { fprintf(stderr, "fsyncbench: bad secs or maxops\n") ; return 100 ; }
  snprintf(base, sizeof base, "%s", argv[1]) ;
  if (mkdir(base, 0700) < 0 && errno != EEXIST) die("unable to mkdir", base) ;
  memset(buf, 'x', sizeof buf) ;
  lat = malloc(sizeof(double) * maxops) ;
  if (!lat) die("out of memory", "") ;
  char a[2100], b[2100], p[4200], q[4200] ;
  long i, made ;
  double t0, t, end ;

  int dfa = mkd("a", a, sizeof a, 0) ;
  snprintf(p, sizeof p, "%s/f", a) ;
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600) ;
  if (fd < 0) die("unable to open", p) ;
  if (pwrite(fd, buf, 4096, 0) != 4096 || fsync(fd) < 0) die("unable to write", p) ;
  t0 = now() ; end = t0 + secs ;
  for (i = 0 ; i < maxops && (t = now()) < end ; i++)
  {
    if (pwrite(fd, buf, 4096, 0) != 4096) die("unable to write", p) ;
    if (fdatasync(fd) < 0) die("unable to fdatasync", p) ;
    lat[i] = now() - t ;
  }
  report("overwrite", i, now() - t0) ;
  close(fd) ; unlink(p) ; close(dfa) ;

  dfa = mkd("a", a, sizeof a, 0) ;
  t0 = now() ; end = t0 + secs ;
  for (i = 0 ; i < maxops && (t = now()) < end ; i++)
  {
    snprintf(p, sizeof p, "%s/%ld", a, i) ;
    fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600) ;
    if (fd < 0) die("unable to create", p) ;
    if (write(fd, buf, 4096) != 4096) die("unable to write", p) ;
    if (fsync(fd) < 0) die("unable to fsync", p) ;
    close(fd) ;
    lat[i] = now() - t ;
  }
  report("newfile", i, now() - t0) ;
  made = i ;

  int dfb = mkd("b", b, sizeof b, 0) ;
  if (fsync(dfb) < 0) die("unable to fsync", b) ;
  t0 = now() ; end = t0 + secs ;
  for (i = 0 ; i < made && (t = now()) < end ; i++)
  {
    snprintf(p, sizeof p, "%s/%ld", a, i) ;
    snprintf(q, sizeof q, "%s/%ld", b, i) ;
    if (rename(p, q) < 0) die("unable to rename", p) ;
    if (fsync(dfb) < 0) die("unable to fsync", b) ;
    lat[i] = now() - t ;
  }
  report("rename", i, now() - t0) ;
  close(dfa) ; close(dfb) ;

  dfa = mkd("a", a, sizeof a, made) ;
  dfb = mkd("b", b, sizeof b, made) ;
  t0 = now() ; end = t0 + secs ;
  for (i = 0 ; i < maxops && (t = now()) < end ; i++)
  {
    snprintf(p, sizeof p, "%s/%ld", a, i) ;
    snprintf(q, sizeof q, "%s/%ld", b, i) ;
    fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600) ;
    if (fd < 0) die("unable to create", p) ;
    if (write(fd, buf, 4096) != 4096) die("unable to write", p) ;
    if (fsync(fd) < 0) die("unable to fsync", p) ;
    close(fd) ;
    if (rename(p, q) < 0) die("unable to rename", p) ;
    if (fsync(dfb) < 0) die("unable to fsync", b) ;
    if (fsync(dfa) < 0) die("unable to fsync", a) ;
    lat[i] = now() - t ;
  }
  report("enqueue", i, now() - t0) ;
  close(dfa) ; close(dfb) ;
  mkd("a", a, sizeof a, 0) ; rmdir(a) ;
  mkd("b", b, sizeof b, i) ; rmdir(b) ;
  rmdir(base) ;
  return 0 ;
}
