/* smtpd.h: what postie-smtpd's files share. The session, the simple
   commands, the queue program and the command loop live in
   postie-smtpd.c; MAIL and RCPT in smtpd_envelope.c; DATA in
   smtpd_data.c; AUTH in smtpd_auth.c; I/O in smtpd_io.c; address and
   parameter syntax in smtpd_addr.c; relay and recipient checks in
   smtpd_rcpt.c. */
#ifndef SMTPD_H
#define SMTPD_H

#include <stddef.h>
#include <time.h>
#include <sys/types.h>
#include <skalibs/gccattributes.h>
#include <skalibs/stralloc.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>
#include "ucspitls.h"

/* RFC 5321 4.5.3.1.4: a command line is at most 512 bytes with its CRLF. */
#define SMTPD_CMDMAX 512

/* --- postie-smtpd.c: the three kinds of state, one struct each. */

/* The settings: control files (doc/postie-smtpd.md) and the command line,
   read once at the start. */
struct smtpd_settings
{
  stralloc me ;        /* control/me: our host name */
  stralloc greeting ;  /* control/smtpgreeting */
  unsigned long databytes ;
  unsigned long maxrcpt ;
  unsigned long timeoutsmtpd ;
  unsigned long timeoutdata ;
  unsigned long timeoutdatatotal ;
  unsigned long maxbadcmds ;
  unsigned long maxhops ;
  unsigned long datalinemax ;  /* RFC 5321's 1000 is too few for real mail */
  unsigned long authfaildelay ;
  unsigned long greetdelay ;
  unsigned long maxauthfail ;
  unsigned long timeoutqueue ;
  unsigned long maxjunkcmds ;
  unsigned long timeoutsession ;
  char const *const *checkpassword ;  /* the checkpassword program's argv, from ours */
  unsigned int ncheckpassword ;
} ;
extern struct smtpd_settings settings ;

/* The session: who the client is, what it said and was allowed, counts. */
struct smtpd_session
{
  char id[64] ;
  char remoteip[72] ;
  char remoteport[8] ;
  char localuid[UINT_FMT] ;  /* sendmail -bs: the uid that ran it */
  char helo[256] ;
  int helostate ;      /* 0 none, 1 HELO, 2 EHLO */
  int relayclient ;
  int authoffer ;      /* AUTH offered (a checkpassword program given) */
  int authrequired ;   /* SMTPAUTH=required: AUTH before MAIL */
  int authcleartext ;  /* AUTHCLEARTEXT: AUTH without TLS too */
  ucspitls tls ;       /* STARTTLS through UCSPI-TLS (postie-tlsd -r) */
  char authuser[256] ;
  char authshow[256] ; /* authuser as it may appear in a header or reply */
  int authed ;
  int senderlogin ;    /* SENDERLOGIN=match: MAIL FROM one of the login's addresses */
  unsigned long nbad, nmessages, nrefused, nauthfail, njunk ;
  tain end ;           /* control/timeoutsession after the start */
} ;
extern struct smtpd_session session ;

/* The mail transaction: MAIL to the end of DATA (or RSET). */
struct smtpd_transaction
{
  int havemail ;
  int smtputf8 ;
  stralloc sender ;
  stralloc rcpts ;     /* "T" addr "\0", each */
  unsigned long nrcpt ;
} ;
extern struct smtpd_transaction transaction ;

extern void reset (void) ;  /* ends the transaction */

/* One log line per event on stderr: logstart, the fields, logend. */
extern void logbytes (char const *s, size_t n) ;
extern void logstr (char const *s) ;
extern void lognum (unsigned long u) ;
extern void logstart (char const *what) ;
extern void logend (void) ;

/* Replies, and the ways a session ends (each logs its end=). */
extern void out (char const *s) ;
extern void session_end (char const *why) gccattr_noreturn ;
extern void die_nomem (void) gccattr_noreturn ;
extern void die_read (void) gccattr_noreturn ;  /* errno: 0 EOF, ETIMEDOUT, other */
extern void die_linetoolong (void) gccattr_noreturn ;
extern void err (char const *s) ;  /* a 5xx reply, counted against control/maxbadcmds */
extern void junk (void) ;          /* a command that moves no mail, counted */
extern void deadline_cmd (tain *d) ;
extern int isarg (char const *arg) ;
extern char const *afterkey (char const *arg, char const *key) ;
extern char const *safehelo (void) ;

/* The queue program (POSTIE_QUEUE): started for DATA, fed the message
   through a buffer, then given the envelope (each write through lib's
   timedio_writeall); queue_finish returns its
   exit code (QQ_*), -1 if it timed out, with its id in id. qsig: the
   signal that killed it, 0 if none. */
extern int queue_start (void) ;
extern void queue_abort (void) ;
extern int queue_finish (char *id, size_t idmax) ;
extern int qsig ;
extern char qbuf[65536] ;
extern size_t qlen ;
extern void qflush (tain const *deadline) ;
extern void qputs (char const *s) ;
/* One byte of the message: the DATA loop's per-byte call, inline. qbuf
   is a flat array, not a skalibs buffer: a store and a compare per byte,
   where a buffer's put would be a call. */
static inline void qput (char c)
{
  if (qlen == sizeof qbuf) qflush(0) ;
  qbuf[qlen++] = c ;
}

/* The commands, one function each (the command loop's table). */
extern void smtp_mail (char const *arg) ;   /* smtpd_envelope.c */
extern void smtp_rcpt (char const *arg) ;
extern void smtp_data (char const *arg) ;   /* smtpd_data.c */
extern void smtp_auth (char const *arg) ;   /* smtpd_auth.c */

/* --- smtpd_io.c: the session's I/O on lib's timedio: one input and one
   output descriptor, both swapped at STARTTLS (io_setfds, which also
   discards what was read and not used), the input buffer discardable
   (io_discard). Reads and writes never block past a deadline. */
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
/* One ESMTP parameter "keyword[=value]" (n bytes at s, no space): 1 if
   its syntax is right (RFC 5321 4.1.2 esmtp-keyword, esmtp-value without
   '='), with the keyword's length in *klen and the value in *v, *vlen
   (*v = 0 when there is none); 0 if not. */
extern int param_split (char const *s, size_t n, size_t *klen, char const **v, size_t *vlen) ;


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
/* SENDERLOGIN=match: 1 if addr (a MAIL FROM address) is one of user's own
   (local_owned_by: mail to it reaches user alone), 0 if not, -1 on a
   temporary error. */
extern int sender_owned (char const *user, char const *addr, size_t len) ;

#endif
