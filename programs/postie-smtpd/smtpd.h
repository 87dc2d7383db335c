/* smtpd.h: what postie-smtpd's files share. The protocol lives in
   postie-smtpd.c; I/O in smtpd_io.c; address and parameter syntax in
   smtpd_addr.c; relay and recipient checks in smtpd_rcpt.c. */
#ifndef SMTPD_H
#define SMTPD_H

#include <stddef.h>
#include <sys/types.h>
#include <skalibs/stralloc.h>
#include <skalibs/tai.h>

/* RFC 5321 4.5.3.1.4: a command line is at most 512 bytes with its CRLF. */
#define SMTPD_CMDMAX 512

/* --- smtpd_io.c: one input and one output descriptor, both swappable
   (io_setfds) and the input buffer discardable (io_discard), for STARTTLS
   through UCSPI-TLS later. Reads and writes never block past a deadline. */
extern void io_setfds (int infd, int outfd) ;
extern void io_discard (void) ;
extern void io_setwtimeout (unsigned int secs) ;  /* for flushes io_put makes itself */
extern int io_pending (unsigned int ms) ;  /* input buffered, or readable within ms milliseconds */
/* The buffered input: io_peek gives what is there (filling the buffer when
   empty; 1, 0 on EOF, -1 on error or ETIMEDOUT), io_skip consumes n bytes. */
extern int io_peek (char const **s, size_t *n, tain const *deadline) ;
extern void io_skip (size_t n) ;
/* A line ending in CRLF (and only CRLF: a bare CR or LF is part of the
   line). Up to max bytes are kept in line (NUL-terminated, so line has
   max+1 bytes); a longer line is read to its end and *toolong set to 1,
   unless its end does not come within SMTPD_DISCARDMAX bytes past max:
   then the reading stops there and *toolong is 2 (a line that never
   ends: the caller ends the session). Returns 1, 0 on EOF, -1 on error
   or ETIMEDOUT. */
#define SMTPD_DISCARDMAX 65536
extern int io_getline (char *line, size_t max, size_t *len, int *toolong, tain const *deadline) ;
extern void io_put (char const *s, size_t n) ;
extern void io_puts (char const *s) ;
extern int io_flush (tain const *deadline) ;  /* 1 ok, 0 error or ETIMEDOUT */
extern void io_shutdown (tain const *deadline) ;  /* FIN, then drain the input */

/* --- smtpd_addr.c: RFC 5321 paths and ESMTP parameters. */
#define ADDR_NULLOK 1     /* "<>" is allowed (MAIL) */
#define ADDR_UTF8 2       /* non-ASCII allowed (SMTPUTF8, RFC 6531) */
#define ADDR_POSTMASTER 4 /* "<postmaster>" without domain allowed (RCPT) */
/* Parses "<...>" at s (len bytes). On success returns 1, stores the
   address (local part unquoted, domain lowercased) in out (NUL-terminated),
   *used = bytes consumed, *at = offset of the last '@' in out (or out->len
   for "<>" and "<postmaster>"). Returns 0 on a syntax error, 2 when the
   address is non-ASCII and ADDR_UTF8 is not given, -1 out of memory. */
extern int addr_parse (char const *s, size_t len, unsigned int flags, stralloc *out, size_t *used, size_t *at) ;
extern int utf8_valid (char const *s, size_t len) ;


/* --- smtpd_rcpt.c: may we accept mail for this domain, and does this
   local recipient exist. */
extern char const *rcpt_init (void) ;  /* load the control files; 0, or the file (under control/) it could not read, errno set */
/* 1 if the domain (lowercased, len bytes) is ours (control/rcpthosts or
   control/rcpthosts.cdb), 0 if not, -1 on error. */
extern int rcpt_hosts (char const *domain, size_t len) ;
/* The hook for recipient existence: addr is lowercased-domain address,
   at the offset of its last '@'. 1 exists (or cannot tell: accept),
   0 unknown user (550 5.1.1), -1 temporary error. */
extern int rcpt_check (char const *addr, size_t len, size_t at) ;

#endif
