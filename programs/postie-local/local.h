/* local.h: what the parts of postie-local share. Only postie-local uses
   these files; the contract is doc/postie-local.md. */
#ifndef LOCAL_H
#define LOCAL_H

#include <stddef.h>
#include <signal.h>
#include <time.h>
#include <sys/types.h>
#include <skalibs/gccattributes.h>
#include <skalibs/stralloc.h>

#define LOCAL_OK 0
#define LOCAL_PERM 100
#define LOCAL_TEMP 111

/* The longest result line on stdout, without its newline. */
#define LOCAL_RESULT_MAX 1000
/* How much of a failing program's output goes into the result line. */
#define LOCAL_PROGOUT_MAX 400

/* The facts of this delivery, set once by main. */
typedef struct local_ctx_s local_ctx ;
struct local_ctx_s
{
  char const *user ;
  char const *home ;
  char const *local ;
  char const *ext ;        /* lowercased copy */
  char const *domain ;
  char const *sender ;
  char const *defaultdelivery ;
  char const *deflt ;      /* the part of EXT a -default file matched, or 0 */
  char const *recipient ;  /* LOCAL@DOMAIN as addressed */
  stralloc rcptlc ;        /* local@domain, lowercased, NUL-terminated */
  stralloc rpline ;        /* "Return-Path: <SENDER>" + the message's line end */
  stralloc dtline ;        /* "Delivered-To: local@domain" + the message's line end */
  stralloc ufline ;        /* the mbox From_ line, with its LF */
  char const *me ;         /* the host part of Maildir names, made safe */
  int crlf ;               /* the message's first line ends with CRLF */
  unsigned long progtimeout ;
  unsigned long locktimeout ;
} ;
extern local_ctx ctx ;

/* local_result.c: the one result line, and the record of what was done. */
extern void local_did (char const *const *v, unsigned int n) ;
extern void local_exit (int code, char const *const *v, unsigned int n, int witherrno) gccattr_noreturn ;
extern void local_success (void) gccattr_noreturn ;

#define LOCAL_V(...) ((char const *const[]){ __VA_ARGS__ })
#define LOCAL_N(...) (sizeof(LOCAL_V(__VA_ARGS__)) / sizeof(char const *))
#define did(...) local_did(LOCAL_V(__VA_ARGS__), LOCAL_N(__VA_ARGS__))
#define temp(...) local_exit(LOCAL_TEMP, LOCAL_V(__VA_ARGS__), LOCAL_N(__VA_ARGS__), 0)
#define tempsys(...) local_exit(LOCAL_TEMP, LOCAL_V(__VA_ARGS__), LOCAL_N(__VA_ARGS__), 1)
#define perm(...) local_exit(LOCAL_PERM, LOCAL_V(__VA_ARGS__), LOCAL_N(__VA_ARGS__), 0)
#define die_nomem() temp("out of memory")

/* local_io.c: a buffered writer that remembers its first error, and a
   reader of the message from fd 0. SIGALRM interrupts both: timeouts.
   Not skalibs' buffer: its writes restart after EINTR, so a write
   blocked on a program or queue that stopped reading would outlive the
   timer. */
typedef struct local_out_s local_out ;
struct local_out_s
{
  int fd ;
  int err ;     /* errno of the first failure, 0 if none */
  size_t len ;
  char buf[65536] ;
} ;
extern void out_init (local_out *, int fd) ;
extern void out_put (local_out *, char const *, size_t) ;
extern void out_puts (local_out *, char const *) ;
extern int out_flush (local_out *) ;  /* 0 ok, -1 (errno set) */
extern ssize_t msg_read (char *buf, size_t n) ;  /* raw read of fd 0 */
extern int msg_rewind (void) ;
extern volatile sig_atomic_t local_timedout ;
extern void local_alarm (unsigned long secs) ;  /* 0 cancels */
/* Waits for the child pid. When the timer rings (local_timedout) while
   it waits and *killed is 0, kills pid and, if group, its process group
   (SIGKILL), and sets *killed. Then disarms the timer; returns the wait
   status. A wait that fails: tempsys "unable to wait for WHAT". */
extern int local_wait (pid_t pid, int group, int *killed, char const *what) ;
extern void local_printable (char *s, size_t n) ;  /* control bytes -> '?' */

extern void local_ufline (stralloc *sa, char const *sender, time_t now) ;

/* The deliveries. Each returns only on success; failures exit. */
extern void deliver_maildir (char const *dir, int create) ;
extern void deliver_mbox (char const *path) ;
extern int deliver_program (char const *cmd) ;  /* returns 0, or 99 to stop */
extern void deliver_forward (char const *addrs, size_t len) ;  /* addrs: NUL-terminated, concatenated */

#endif
