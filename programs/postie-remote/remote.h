/* remote.h: what postie-remote's files share. The recipients and the
   result lines live in results.c; control files and the route's TLS and
   AUTH settings in settings.c; the message as it goes on the wire in
   message.c; the connection's buffered I/O and the server's replies in
   connection.c; greeting, EHLO, STARTTLS and AUTH in session.c; MAIL,
   RCPT, DATA in transaction.c; the addresses to try (smtproutes, MX,
   A/AAAA) in targets.c; main in postie-remote.c. The contract:
   doc/postie-remote.md and doc/remote-results.md. */
#ifndef REMOTE_H
#define REMOTE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <skalibs/gccattributes.h>
#include <skalibs/ip46.h>
#include <skalibs/stralloc.h>
#include <skalibs/tai.h>
#include "smtproutes.h"
#include "starttls.h"

/* ---------- results.c: the recipients and the result lines ---------- */

extern char const *sender ;
extern char const *const *rcpt ;
extern unsigned int nrcpt ;
extern char *rstat ;      /* per recipient: 0 (not decided), 'K', 'D', 'Z' (or 'U' for all, at the end) */
extern stralloc *rtext ;  /* per recipient: its text */
extern stralloc mtext ;   /* the message line's text */

extern void die_nomem (void) gccattr_noreturn ;
extern void cat (stralloc *sa, char const *s) ;
extern void catb (stralloc *sa, char const *s, size_t n) ;
extern void catu (stralloc *sa, uint64_t u) ;
extern void copy (stralloc *to, stralloc const *from) ;
/* The end: QUIT, print every result line and exit 0. */
extern void finish (char code) gccattr_noreturn ;
/* finish with a message line made of up to three pieces */
extern void fail (char code, char const *a, char const *b, char const *c) gccattr_noreturn ;
/* A reply code as a result letter: 2xx K, 5xx D, the rest Z. */
extern char codeletter (int code) ;

/* ---------- settings.c: control/ and the route's settings ---------- */

extern unsigned long timeoutconnect ;
extern unsigned long timeoutremote ;
extern unsigned long replylinemax ;
extern unsigned long replylines ;
extern stralloc helohost ;
extern ip46 outip4, outip6 ;
extern int hasout4, hasout6 ;
/* The route's TLS and AUTH settings (doc/postie-remote.md, "TLS"). */
extern unsigned int tlslevel ;
extern stralloc cafile ;     /* with tls=verify */
extern stralloc authuser ;   /* with auth=: the credentials */
extern stralloc authpass ;
extern int hasauth ;

extern void badcontrol (char const *name) gccattr_noreturn ;
extern void settings (void) ;
/* The route's settings (smtproutes.h) into the variables above. */
extern void routesettings (smtproute const *rt) ;

/* ---------- message.c: the message on fd 0 ---------- */

extern char const *why ;   /* why the last I/O failed */
extern off_t msgstart ;
extern uint64_t wiresize ;
extern int msg8bit ;
extern int msgnul ;  /* a NUL byte: never sent (doc/postie-remote.md) */
/* Counts the message (send == 0) or sends it on the connection. */
extern int body_walk (int send) ;

/* ---------- connection.c: the connection to the server ---------- */

/* One input and one output descriptor, so that a TLS tunnel (UCSPI-TLS)
   can take their place later. */
extern int rfd, wfd ;
extern tlsc tls ;            /* postie-tlsc, once STARTTLS is done */
extern stralloc tlsnote ;    /* the session's TLS, for the message line */
extern stralloc label ;      /* "name [ip]:port" of the current host */
extern stralloc reply ;      /* the last reply, lines separated by LF */

/* New descriptors: what was read and not used, and what was not sent,
   are forgotten. */
extern void connection_set (int r, int w) ;
extern int oflush (void) ;
extern int oput (char const *s, size_t n) ;
extern int oputs (char const *s) ;
/* Zeroes the output buffer (it held credentials). */
extern void output_wipe (void) ;
/* One reply: its code, or 0 with why set. Output is flushed first. */
extern int getreply (void) ;
extern void close_conn (void) ;
/* Polite end: QUIT, without waiting for its reply. */
extern void session_quit (void) ;
/* text = the host label, then s, then the reply when withreply */
extern void said (stralloc *sa, char const *s, int withreply) ;
/* The same for the message line, which also names the session's TLS. */
extern void saidmsg (stralloc *sa, char const *s) ;

/* ---------- session.c: one SMTP session up to MAIL ---------- */

extern int ext_pipelining, ext_8bitmime, ext_smtputf8, ext_size ;
extern int ext_starttls, ext_authplain, ext_authlogin ;
extern uint64_t ext_sizemax ;
extern stralloc lasterr ;  /* why the last host was no good */
extern int session (ip46 const *ip, uint16_t port, char const *name, int notls) ;

/* ---------- transaction.c: MAIL, RCPT, DATA ---------- */

extern void transaction (void) gccattr_noreturn ;

/* ---------- targets.c: where to connect ---------- */

typedef struct target_s target ;
struct target_s
{
  ip46 ip ;
  uint16_t port ;
  size_t name ;   /* offset in names */
} ;
extern target tg[] ;
extern unsigned int ntg ;
extern stralloc names ;
/* Fills tg with the addresses to try for the domain, or fails. */
extern void route (char const *domarg) ;

/* ---------- postie-remote.c ---------- */

extern int addr8bit ;  /* an address is not ASCII: SMTPUTF8 is needed */

#endif
