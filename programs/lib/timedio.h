/* timedio.h: postie's one layer of I/O on a session's descriptors (a
   socket, or the pipes of a TLS program): an input and an output
   skalibs buffer, read and written through skalibs' unix-timed
   functions, every wait bounded by an absolute deadline. Used by
   postie-smtpd, postie-remote, postie-popup, postie-imapup, postie-pop3d
   and postie-imapd. The descriptors must be non-blocking (ndelay_on);
   the clock must have been read (tain_now_set_stopwatch_g, tain_now_g).

   What stays each program's own: postie-smtpd's CRLF-only line rule and
   DATA state machine (smtpd_io.c, smtpd_data.c), postie-remote's reply
   grammar, and the pre-login programs' one-byte reads (a buffer of 2
   bytes, see TIMEDIO_INIT).

   Every function tries the read or the write first and waits (iopause)
   only when the descriptor says EAGAIN, as the loops it replaced did:
   skalibs' buffer_timed_flush alone would wait before each write, one
   system call more per reply. */
#ifndef TIMEDIO_H
#define TIMEDIO_H

#include <stddef.h>
#include <sys/types.h>
#include <skalibs/buffer.h>
#include <skalibs/tai.h>

typedef struct timedio_s timedio ;
struct timedio_s
{
  buffer in ;
  buffer out ;
} ;

/* The storage of each side: a skalibs buffer keeps one byte of its
   storage free, so isize bytes of storage read at most isize - 1 bytes
   at once, and isize 2 reads one byte at a time. */
#define TIMEDIO_INIT(rfd, ibuf, isize, wfd, obuf, osize) { BUFFER_INIT(&buffer_read, (rfd), (ibuf), (isize)), BUFFER_INIT(&buffer_write, (wfd), (obuf), (osize)) }

/* Switch descriptors (STARTTLS: the TLS program's pipes): what was read
   and not used yet is thrown away, so that nothing the peer sent before
   the handshake can be read as if it came through it. The output must
   have been flushed. */
extern void timedio_switch (timedio *io, int rfd, int wfd) ;
#define timedio_discard(io) buffer_rseek(&(io)->in, buffer_len(&(io)->in))
#define timedio_buffered(io) buffer_len(&(io)->in)

/* --- Output. All return 1, or 0 (errno; ETIMEDOUT when the deadline
   passed); a failure is the caller's to handle. */

/* Writes what is buffered before the deadline. */
extern int timedio_flush (timedio *io, tain const *deadline) ;
/* The same, within timeout seconds from now. */
extern int timedio_flush_within (timedio *io, unsigned long timeout) ;
/* Appends n bytes, flushing (within timeout seconds) each time the
   buffer fills. */
extern int timedio_put (timedio *io, char const *s, size_t n, unsigned long timeout) ;
/* Drops what was put and not sent yet (a reply given up half-way). */
#define timedio_unput(io) buffer_unput(&(io)->out, buffer_len(&(io)->out))

/* Writes n bytes from s, unbuffered, to fd before the deadline (the
   queue program's pipe, where postie-smtpd keeps its own flat buffer
   for the DATA loop's per-byte stores). */
extern int timedio_writeall (int fd, char const *s, size_t n, tain const *deadline) ;

/* --- Input. What output waits in the buffer is flushed first (before
   the deadline): a reply never waits for the next read. */

/* Reads into the buffer (it should be empty): >0 bytes read, 0 at end of
   input, -1 on error or ETIMEDOUT. The deadline holds even when input
   never makes us wait: a peer that always has more ready (a line without
   end, DATA sent faster than we read it) must not stretch it, so the
   clock is read after each read. */
extern ssize_t timedio_fill (timedio *io, tain const *deadline) ;

/* What is buffered, filling the buffer when it is empty: 1 and the bytes
   at *s (*n of them, contiguous: the rest, if the buffer wraps, comes at
   the next call), 0 at end of input, -1 on error or ETIMEDOUT. timedio_skip
   consumes n of them. */
extern int timedio_peek (timedio *io, char const **s, size_t *n, tain const *deadline) ;
#define timedio_skip(io, n) buffer_rseek(&(io)->in, (n))

/* Reads up to and including a LF into d + *w, up to max bytes in all
   (skalibs' timed_getlnmax): 1 with *w the line's length, LF included;
   0 at end of input; -1 on error or ETIMEDOUT, or ERANGE when max bytes
   came without a LF (they are in d, *w = max). */
extern ssize_t timedio_getlnmax (timedio *io, char *d, size_t max, size_t *w, tain const *deadline) ;

/* One line, up to and including its LF, into line (at most max bytes, LF
   included). Returns 1 and sets *len; 0 at end of input (a partial last
   line is dropped); -1 on error or when the deadline passes (errno
   ETIMEDOUT); -2 when the line is longer than max: it has then been read
   up to its LF and discarded; -3 when the LF has not come within
   TIMEDIO_DISCARD_MAX bytes past max: max + TIMEDIO_DISCARD_MAX + 1
   bytes have been read and discarded, and reading stops there (a line without end: the caller says so and
   ends the session, rather than reading on). */
#define TIMEDIO_DISCARD_MAX 65536
extern int timedio_getline (timedio *io, char *line, size_t max, size_t *len, tain const *deadline) ;

/* Reads exactly n bytes (e.g. an IMAP literal) into s. Returns 1, 0 at
   end of input, -1 on error or when the deadline passes (ETIMEDOUT). */
extern int timedio_get (timedio *io, char *s, size_t n, tain const *deadline) ;

#endif
