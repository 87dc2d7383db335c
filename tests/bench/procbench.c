/* procbench.c: the machine's own price of a process, so that the
   benchmark's CPU per message can be read against what the machine
   charges for the processes a message needs (postie execs three per
   message in scenario 1: the SMTP session, the queue injector, the
   local delivery; doc/bench.md).

   Usage: procbench [seconds (default 3)] [max-spawns (default 20000)]

   Runs itself again and again, as postie's programs run theirs:
   posix_spawn of its own executable with the argument "-", which makes
   the child return from main at once, then waitpid. Built static
   (against musl, as postie's programs are: tests/bench/run), the child
   is the least a program can be: exec, libc's start-up, exit.
   Prints one line: spawns secs spawns/s wall_us child_cpu_us
   parent_cpu_us, the CPU being user + system time per spawn (the child's
   from RUSAGE_CHILDREN, the parent's from RUSAGE_SELF). */

#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ ;

static double now (void)
{
  struct timespec ts ;
  clock_gettime(CLOCK_MONOTONIC, &ts) ;
  return ts.tv_sec + ts.tv_nsec / 1e9 ;
}

static double cpu_us (int who)
{
  struct rusage r ;
  if (getrusage(who, &r) < 0) return 0 ;
  return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e6 + r.ru_utime.tv_usec + r.ru_stime.tv_usec ;
}

int main (int argc, char **argv)
{
  if (argc == 2 && !strcmp(argv[1], "-")) return 0 ;  /* the child */
  if (argc > 3)
  {
    fprintf(stderr, "usage: procbench [seconds] [max-spawns]\n") ;
    return 100 ;
  }
  double secs = argc > 1 ? atof(argv[1]) : 3 ;
  long max = argc > 2 ? atol(argv[2]) : 20000 ;
  if (secs <= 0 || max <= 0)
  {
    fprintf(stderr, "usage: procbench [seconds] [max-spawns]\n") ;
    return 100 ;
  }
  char self[4096] ;
  ssize_t r = readlink("/proc/self/exe", self, sizeof self - 1) ;
  if (r <= 0)
  {
    fprintf(stderr, "procbench: fatal: unable to read /proc/self/exe: %s\n", strerror(errno)) ;
    return 111 ;
  }
  self[r] = 0 ;
  char *cargv[] = { self, "-", 0 } ;
  double c0 = cpu_us(RUSAGE_CHILDREN), p0 = cpu_us(RUSAGE_SELF), t0 = now(), t = t0 ;
  long n = 0 ;
  while (n < max && t - t0 < secs)
  {
    pid_t pid ;
    int e = posix_spawn(&pid, self, 0, 0, cargv, environ) ;
    if (e)
    {
      fprintf(stderr, "procbench: fatal: unable to spawn %s: %s\n", self, strerror(e)) ;
      return 111 ;
    }
    int st ;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
    {
      fprintf(stderr, "procbench: fatal: the child did not exit 0\n") ;
      return 111 ;
    }
    n++ ;
    t = now() ;
  }
  printf("spawn %ld %.3f %.1f %.1f %.1f %.1f\n", n, t - t0, n / (t - t0), (t - t0) * 1e6 / n,
         (cpu_us(RUSAGE_CHILDREN) - c0) / n, (cpu_us(RUSAGE_SELF) - p0) / n) ;
  return 0 ;
}
