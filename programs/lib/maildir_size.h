/* maildir_size.h: a Maildir message's size as POP3 sends it, and the
   size fields of a Maildir file name.

   The size "as sent" (RFC 1939 11) counts CRLF line ends: a message
   stored with LF line ends is sent with a CR before each LF that has
   none, and a last line without its line end gets one (CRLF, or just LF
   after a final CR), exactly as postie-pop3d sends it; the dots of
   byte-stuffing and the final "." are not counted. postie-local writes
   it into the name at delivery as ",W=<wire>" next to ",S=<size>" (the
   file's size), the fields Maildir++ and Dovecot use, so that a POP3
   server has every size without reading every message. */
#ifndef MAILDIR_SIZE_H
#define MAILDIR_SIZE_H

#include <stddef.h>
#include <stdint.h>

typedef struct maildir_size_s maildir_size ;
struct maildir_size_s
{
  uint64_t size ;   /* bytes so far */
  uint64_t wire ;   /* the same with CRLF line ends */
  char last ;       /* the last byte, 0 when none */
} ;
#define MAILDIR_SIZE_ZERO { 0, 0, 0 }

/* Count n more bytes of the message. */
extern void maildir_size_add (maildir_size *ms, char const *s, size_t n) ;

/* The size as sent, the line end a last line without one gets included. */
extern uint64_t maildir_size_wire (maildir_size const *ms) ;

/* The ",S=" and ",W=" fields of a file name's unique part (before ':').
   Returns a bit mask: 1 if *size was found, 2 if *wire was found. */
extern unsigned int maildir_size_fromname (char const *name, uint64_t *size, uint64_t *wire) ;

/* Reads fd to its end: *ms counts the whole file. 0 ok, -1 read error. */
extern int maildir_size_fd (int fd, maildir_size *ms) ;

#endif
