/* outbuf.h: a buffered reply writer on a network descriptor. What is put
   waits in the buffer until it is full or flushed; each write of the
   buffer has its own deadline, timeout seconds from when it starts
   (timed_writeall). A failure is the caller's to handle: the functions
   return 0 (errno; ETIMEDOUT when the deadline passed) and the caller
   ends its session its own way. Used by postie-pop3d and postie-imapd.

   Not skalibs' buffer: buffer_put flushes a full buffer with a plain
   write, which fails with EAGAIN on the non-blocking descriptor these
   servers write to, where this one waits (iopause) until the deadline. */
#ifndef OUTBUF_H
#define OUTBUF_H

#include <stddef.h>

typedef struct outbuf_s outbuf ;
struct outbuf_s
{
  int fd ;
  char *buf ;
  size_t size ;
  size_t len ;
} ;
#define OUTBUF_INIT(fd, buf, size) { (fd), (buf), (size), 0 }

/* Write what is buffered, within timeout seconds. Returns 1, or 0. */
extern int outbuf_flush (outbuf *o, unsigned long timeout) ;

/* Append n bytes, flushing (within timeout) each time the buffer fills.
   Returns 1, or 0 when a flush failed. */
extern int outbuf_put (outbuf *o, char const *s, size_t n, unsigned long timeout) ;

/* Drop what was put and not sent yet (a reply given up half-way). */
#define outbuf_discard(o) ((o)->len = 0)

#endif
