/* smtproutes.h: control/smtproutes, where mail for a domain goes
   (doc/postie-remote.md has the syntax). */
#ifndef SMTPROUTES_H
#define SMTPROUTES_H

#include <stddef.h>
#include <stdint.h>

/* One route. host is not NUL-terminated: hostlen bytes. An empty host
   means "look up MX records as usual". is_ip: host is an address literal,
   already scanned into ip (16 bytes, or 4 for IPv4 when !is6). port is 0
   when the line names none. The settings after the route (tls=, ca=,
   auth=) are in tls (SMTPROUTE_TLS_*), ca (calen bytes, 0 for the system
   bundle) and auth (authlen bytes, 0 for none), none NUL-terminated. */
#define SMTPROUTE_TLS_MAY 0      /* STARTTLS when offered, clear text if it fails */
#define SMTPROUTE_TLS_NONE 1     /* never STARTTLS */
#define SMTPROUTE_TLS_ENCRYPT 2  /* TLS required, certificate not checked */
#define SMTPROUTE_TLS_VERIFY 3   /* TLS required, certificate and name checked */
typedef struct smtproute_s smtproute, *smtproute_ref ;
struct smtproute_s
{
  char const *host ;
  size_t hostlen ;
  uint16_t port ;
  unsigned int is_ip : 1 ;
  unsigned int is6 : 1 ;
  unsigned int tls : 2 ;
  char ip[16] ;
  char const *ca ;
  size_t calen ;
  char const *auth ;
  size_t authlen ;
} ;

/* smtproute_parse: one line "domain:relay[:port] [setting...]" (no
   newline, NUL-free, len bytes; settings separated by spaces or tabs:
   tls=none|may|encrypt|verify, ca=FILE, auth=LABEL). On success, returns 1, with the domain part (brackets kept,
   a literal's "[IPv6:" as written) in *dom and *domlen, and the route in *r.
   Returns 0 on a syntax error. */
extern int smtproute_parse (char const *line, size_t len, char const **dom, size_t *domlen, smtproute *r) ;

/* smtproutes_find: the route for domain (len bytes, compared without
   case, no trailing dot) in lines, the contents of control/smtproutes as
   control_readlines returns them (NUL-terminated lines, total linelen).
   Keys are tried in qmail's order: the domain itself, then ".suffix" for
   each dot in it from the left, then "" (the default); for one key the
   first line wins. Returns 1 and *r when found, 0 when no line matches,
   -1 when a line is malformed (then *bad points to it). */
extern int smtproutes_find (char const *lines, size_t linelen, char const *domain, size_t len, smtproute *r, char const **bad) ;

#endif
