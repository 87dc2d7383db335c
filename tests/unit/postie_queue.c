/* Unit test: postie_queue_start's options (an id pipe and
   POSTIE_QUEUE_IDFD=3, a process group of its own, a failed exec as its
   own failure) and queue_exit_permanent's line between permanent and
   temporary exit codes (doc/postie-queue.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include "queue.h"
#include "postie_queue.h"

static int failed = 0 ;
static void check (char const *name, int ok)
{
  printf("%s %s\n", ok ? "PASS" : "FAIL", name) ;
  if (!ok) failed = 1 ;
}

/* A queue program: reads the message (fd 0) and the envelope (fd 1);
   says on fd 3, if it has one, what it read, how many POSTIE_QUEUE_IDFD
   it was given and their value, and its process group; exits 0 with
   fd 3, 7 without. */
static char const script[] =
  "#!/bin/sh\n"
  "m=$(cat)\n"
  "exec 4<&1\n"
  "e=$(cat <&4)\n"
  "read -r _ _ _ _ pg _ </proc/$$/stat\n"
  "if { true >&3 ; } 2>/dev/null ; then\n"
  "  printf '%s|%s|%s|%s|%s|%s' \"$m\" \"$e\" \"$(env | grep -c '^POSTIE_QUEUE_IDFD=')\" \"$POSTIE_QUEUE_IDFD\" \"$pg\" $$ >&3\n"
  "  exit 0\n"
  "fi\n"
  "exit 7\n" ;

static int open_fds (void)
{
  int n = 0 ;
  for (int fd = 0 ; fd < 64 ; fd++) if (fcntl(fd, F_GETFD) >= 0) n++ ;
  return n ;
}

/* Runs the script with flags; its exit code, what it said on fd 3 into
   out (outmax bytes). */
static int run (char const *prog, unsigned int flags, char *out, size_t outmax, pid_t *pid)
{
  postie_queue q ;
  int wstat ;
  size_t n = 0 ;
  out[0] = 0 ;
  if (!postie_queue_start(&q, prog, flags)) return -1 ;
  *pid = q.pid ;
  if (write(q.msgfd, "msg", 3) != 3 || close(q.msgfd) < 0) return -2 ;
  if (write(q.envfd, "env", 3) != 3 || close(q.envfd) < 0) return -2 ;
  if (q.idfd >= 0)
  {
    ssize_t r ;
    while (n < outmax - 1 && (r = read(q.idfd, out + n, outmax - 1 - n)) > 0) n += (size_t)r ;
    out[n] = 0 ;
    close(q.idfd) ;
  }
  if (waitpid(q.pid, &wstat, 0) != q.pid || !WIFEXITED(wstat)) return -3 ;
  return WEXITSTATUS(wstat) ;
}

int main (void)
{
  char prog[4096] ;
  char out[256], want[256] ;
  pid_t pid = 0 ;
  int fds, r ;
  {
    char const *name = "postie_queue.test.sh" ;
    int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0700) ;
    if (fd < 0 || write(fd, script, sizeof script - 1) != (ssize_t)(sizeof script - 1) || close(fd) < 0) { perror(name) ; return 111 ; }
    if (!getcwd(prog, sizeof prog - 64)) { perror("getcwd") ; return 111 ; }
    strcat(prog, "/") ; strcat(prog, name) ;
  }
  setenv("POSTIE_QUEUE_IDFD", "7", 1) ;
  fds = open_fds() ;

  r = run(prog, POSTIE_QUEUE_ID | POSTIE_QUEUE_PGROUP, out, sizeof out, &pid) ;
  snprintf(want, sizeof want, "msg|env|1|3|%d|%d", (int)pid, (int)pid) ;
  check("id-pgroup-exit", r == 0) ;
  check("id-pgroup-said", !strcmp(out, want)) ;
  if (strcmp(out, want)) printf("  got %s want %s\n", out, want) ;

  r = run(prog, POSTIE_QUEUE_ID, out, sizeof out, &pid) ;
  snprintf(want, sizeof want, "msg|env|1|3|%d|%d", (int)getpgrp(), (int)pid) ;
  check("id-same-group", r == 0 && !strcmp(out, want)) ;
  if (strcmp(out, want)) printf("  got %s want %s\n", out, want) ;

  r = run(prog, 0, out, sizeof out, &pid) ;
  check("no-id-no-fd3", r == 7) ;

  errno = 0 ;
  r = run("/nonexistent/postie-queue", POSTIE_QUEUE_ID | POSTIE_QUEUE_PGROUP, out, sizeof out, &pid) ;
  check("exec-failure-reported", r == -1 && errno == ENOENT) ;
  r = run("postie-queue-not-anywhere", POSTIE_QUEUE_SIBLING, out, sizeof out, &pid) ;
  check("exec-failure-sibling-then-path", r == -1 && errno == ENOENT) ;
  check("nothing-left-open", open_fds() == fds) ;
  unlink("postie_queue.test.sh") ;

  check("exit-0-not-permanent", !queue_exit_permanent(QQ_OK)) ;
  check("exit-10-temporary", !queue_exit_permanent(10)) ;
  check("exit-11-permanent", queue_exit_permanent(QQ_ADDR_TOO_LONG)) ;
  check("exit-31-permanent", queue_exit_permanent(QQ_PERM_REFUSED)) ;
  check("exit-40-permanent", queue_exit_permanent(40)) ;
  check("exit-41-temporary", !queue_exit_permanent(41)) ;
  check("exit-81-temporary", !queue_exit_permanent(QQ_BUG)) ;
  check("exit-91-temporary", !queue_exit_permanent(QQ_ENVELOPE)) ;
  return failed ;
}
