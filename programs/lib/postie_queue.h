/* postie_queue.h: running the queue program, the client side of
   doc/postie-queue.md (qmail-queue's interface) and doc/envelope.md:
   the message on its fd 0, the envelope on its fd 1, the new id on its
   fd 3 (POSTIE_QUEUE_IDFD=3), its verdict in its exit code (queue.h's
   QQ_ codes, queue_exit_str). postie-send's bounces, postie-local's
   forwards and postie-inject run it with these; postie-smtpd spawns it
   its own way (posix_spawn, its own process group, timed writes) and
   reads the id with postie_queue_id_read. */
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

/* Reads the queue id the program wrote on fd (until end of file, at
   most idmax - 1 bytes) into id, NUL-terminated: its first line, without
   its line end. An id with a control character or a space is not one:
   id is then empty. Returns the id's length. A read that fails with
   EINTR is tried again only if *stop is 0 (stop may be null). */
extern size_t postie_queue_id_read (int fd, char *id, size_t idmax, int const volatile *stop) ;

#endif
