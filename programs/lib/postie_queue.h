/* postie_queue.h: running the queue program, the client side of
   doc/postie-queue.md (qmail-queue's interface) and doc/envelope.md:
   the message on its fd 0, the envelope on its fd 1, the new id on its
   fd 3 (POSTIE_QUEUE_IDFD=3), its verdict in its exit code (queue.h's
   QQ_ codes, queue_exit_str, queue_exit_permanent). postie-send's
   bounces and postie-local's forwards hand it a file with
   postie_queue_spawn; postie-smtpd and postie-inject stream the message
   into pipes made by postie_queue_start (postie-smtpd's timed writes,
   timeouts and kills stay its own). */
#ifndef POSTIE_QUEUE_H
#define POSTIE_QUEUE_H

#include <stddef.h>
#include <sys/types.h>
#include <skalibs/stralloc.h>

/* The queue program: $POSTIE_QUEUE if set and not empty, else
   "postie-queue" (found through PATH). */
extern char const *postie_queue_prog (void) ;

/* Appends the envelope (doc/envelope.md): F sender NUL, T rcpt NUL for
   each of the NUL-terminated addresses in rcpts (rcptslen bytes), then
   NUL. Returns 1, or 0 out of memory. */
extern int postie_queue_envelope (stralloc *sa, char const *sender, size_t senderlen, char const *rcpts, size_t rcptslen) ;

/* Forks and execs prog with msgfd as its fd 0, envfd as its fd 1 and,
   if idfd >= 0, idfd as its fd 3 with POSTIE_QUEUE_IDFD=3 (the three
   should be close-on-exec: the child's copies are made for it). The
   child runs with no signal blocked and SIGPIPE, SIGXFSZ and SIGALRM at
   their defaults; if it cannot exec prog it says so on
   stderr and exits 120. Returns the
   child's pid, or -1 (errno set) if fork failed. */
extern pid_t postie_queue_spawn (char const *prog, int msgfd, int envfd, int idfd) ;

/* postie_queue_start's options. */
#define POSTIE_QUEUE_PGROUP 1   /* in a process group of its own, which
                                   kill(-pid, ...) ends as a whole */
#define POSTIE_QUEUE_SIBLING 2  /* a prog without a slash: the file of
                                   that name next to this program's own
                                   binary (exec_sibling.h's rule), else
                                   through PATH */
#define POSTIE_QUEUE_ID 4       /* an id pipe as its fd 3, with
                                   POSTIE_QUEUE_IDFD=3 in its environment */

/* A queue program started by postie_queue_start: its pid, and our ends
   of its pipes (close-on-exec, blocking): msgfd to its fd 0, envfd to
   its fd 1, idfd from its fd 3 (-1 without POSTIE_QUEUE_ID). */
typedef struct postie_queue_s postie_queue ;
struct postie_queue_s
{
  pid_t pid ;
  int msgfd ;
  int envfd ;
  int idfd ;
} ;

/* Starts prog with posix_spawn (not fork: glibc and musl spawn with
   vfork semantics, which spares copying the caller's page tables for
   every message), with flags (POSTIE_QUEUE_*), no signal blocked and
   SIGPIPE at its default, the rest of the environment ours. fds 0, 1
   and 2 must be open. A failure to exec prog, as one to make the pipes,
   is this function's failure: returns 1, or 0 with errno set and
   nothing left open or running. */
extern int postie_queue_start (postie_queue *q, char const *prog, unsigned int flags) ;

/* Reads the queue id the program wrote on fd (until end of file, at
   most idmax - 1 bytes) into id, NUL-terminated: its first line, without
   its line end. An id with a control character or a space is not one:
   id is then empty. Returns the id's length. A read that fails with
   EINTR is tried again only if *stop is 0 (stop may be null). */
extern size_t postie_queue_id_read (int fd, char *id, size_t idmax, int const volatile *stop) ;

#endif
