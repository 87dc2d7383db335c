/* timedline.h: line input and output on a network descriptor with
   absolute deadlines (iopause), bounded line lengths, and an unbuffered
   mode that never reads past the end of a line (so that a program can
   hand the descriptor to a child, or switch to TLS, with nothing of the
   client's left behind in its buffer). Used by postie-popup,
   postie-pop3d and postie-imapup. The descriptors should be non-blocking (ndelay_on); the
   clock must have been read (tain_now_set_stopwatch_g, tain_now_g). */
#ifndef TIMEDLINE_H
#define TIMEDLINE_H

#include <stddef.h>
#include <skalibs/tai.h>

typedef struct timedin_s timedin ;
struct timedin_s
{
  int fd ;
  char *buf ;        /* bufsize bytes; bufsize 1 = unbuffered */
  size_t bufsize ;
  size_t pos ;
  size_t len ;
} ;
#define TIMEDIN_INIT(fd, buf, size) { (fd), (buf), (size), 0, 0 }

/* Read one line, up to and including its LF, into line (at most max
   bytes, LF included). Returns 1 and sets *len; 0 at end of input (a
   partial last line is dropped); -1 on error or when the deadline passes
   (errno ETIMEDOUT); -2 when the line is longer than max: it has then
   been read up to its LF and discarded; -3 when the LF has not come
   within TIMEDIN_DISCARD_MAX bytes past max: that much has been
   discarded and reading stops there (a line without end: the caller
   says so and ends the session, rather than reading on). */
#define TIMEDIN_DISCARD_MAX 65536
extern int timedin_getline (timedin *in, char *line, size_t max, size_t *len, tain const *deadline) ;

/* Read exactly n bytes (e.g. an IMAP literal) into s. Returns 1, 0 at
   end of input, -1 on error or when the deadline passes (ETIMEDOUT). */
extern int timedin_get (timedin *in, char *s, size_t n, tain const *deadline) ;

/* Discard what is buffered (e.g. at a STARTTLS switch). */
#define timedin_discard(in) ((in)->pos = (in)->len = 0)

/* Write all n bytes to fd before the deadline. Returns 1, or 0 (errno;
   ETIMEDOUT when the deadline passed). */
extern int timed_writeall (int fd, char const *s, size_t n, tain const *deadline) ;

#endif
