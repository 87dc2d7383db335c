/* local_resolve.h: is a recipient local or remote, and if local, which
   user of the users database receives it (with which extension)?
   Shared by postie-send (which records the answer before delivering) and
   the SMTP server's RCPT check. Control files (relative to the instance):
   locals, virtualdomains, aliases, extsep, me. See doc/postie-send.md. */
#ifndef LOCAL_RESOLVE_H
#define LOCAL_RESOLVE_H

#include <stddef.h>
#include <skalibs/stralloc.h>

typedef struct local_resolver_s local_resolver ;
struct local_resolver_s
{
  stralloc locals ;   /* lowercased domains, each NUL-terminated */
  stralloc vdoms ;    /* "domain\0prefix\0" pairs, domain lowercased */
  stralloc aliases ;  /* "name\0targets\0" pairs, name lowercased */
  stralloc extsep ;   /* the extension separators, NUL-terminated */
  stralloc me ;       /* control/me, NUL-terminated */
  char const *errfile ;  /* after a -1: the file that could not be read
                            (relative to the instance), "" if none */
} ;
#define LOCAL_RESOLVER_ZERO { STRALLOC_ZERO, STRALLOC_ZERO, STRALLOC_ZERO, STRALLOC_ZERO, STRALLOC_ZERO, "" }

/* Longest alias chain, and most final recipients one address expands to. */
#define LOCAL_RESOLVE_DEPTH 8
#define LOCAL_RESOLVE_TARGETS_MAX 1000

/* Reads the control files (again). control/locals, control/aliases and
   control/me must exist (empty is fine: no local domain, no alias): a
   missing one is a configuration slip, and taking it as empty would turn
   local mail into remote or unknown mail. virtualdomains and extsep may
   be missing (none, "+"). Returns 1, or -1 with errno set (ENOENT for a
   missing file) and errfile naming the file. */
extern int local_resolve_init (local_resolver *) ;
extern void local_resolve_free (local_resolver *) ;

/* Resolves addr (addrlen bytes). Appends one record per final recipient
   to out: kind, then six NUL-terminated fields:
     'L' address user local ext domain ""   a local delivery to user
     'R' address "" "" "" domain ""         a remote delivery
     'X' address "" "" "" "" reason         no such local user (permanent)
   where address is the final address (after aliases and virtual domains).
   Returns the number of records appended (>= 1), or -1 with errno set on
   a temporary error (the users database missing, unreadable or
   malformed; errfile names it; out of memory: errfile ""); out is then
   left as it was. */
extern int local_resolve (local_resolver *, char const *addr, size_t addrlen, stralloc *out) ;

/* For the SMTP RCPT check: 1 if addr is remote or resolves to at least
   one existing local user, 0 if it is local and nobody receives it, -1 on
   a temporary error. */
extern int local_exists (local_resolver *, char const *addr, size_t addrlen) ;

/* 1 if domain (any case) is one of control/locals (or empty), else 0. */
extern int local_domain_is_local (local_resolver const *, char const *domain, size_t len) ;

#endif
