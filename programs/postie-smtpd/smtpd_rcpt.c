/* smtpd_rcpt.c: which domains postie-smtpd accepts mail for (relay
   control), and whether a local recipient exists (the RCPT check).

   Relay: a domain is ours when control/rcpthosts lists it (a line
   "example.org" matches that domain only, a line ".example.org" every
   subdomain of it) or control/rcpthosts.cdb has it as a key (the domain,
   or "." followed by any of its parent domains). Nothing listed: nothing
   is ours, and only RELAYCLIENT or an authenticated client can send.
   control/rcpthosts must exist (empty: nothing is ours): a missing one is
   a configuration slip, not "relay nothing", so it ends the session with
   421 rather than answering 554 to every recipient.

   Existence: asked of local_exists() (programs/lib/local_resolve.c), the
   same resolution postie-send applies before delivering (control/locals,
   virtualdomains, aliases, extsep, the users database), so the server
   never accepts a local recipient it would later have to bounce.
   postmaster at any local domain is always accepted (RFC 5321 4.5.1).
   A database that cannot be read (missing included) is a temporary
   failure, logged with the file's name: the caller answers 451. */

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <skalibs/bytestr.h>
#include <skalibs/cdb.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include "postie.h"
#include "cdbfind.h"
#include "local_resolve.h"
#include "smtpd.h"

#define LIST_MAX (1 << 20)

static stralloc rcpthosts = STRALLOC_ZERO ;
static local_resolver resolver = LOCAL_RESOLVER_ZERO ;
static int havecdb = 0 ;
static cdb hostscdb = CDB_ZERO ;

char const *rcpt_init (void)
{
  int r = control_readlines(&rcpthosts, "rcpthosts", LIST_MAX) ;
  if (r <= 0) { if (!r) errno = ENOENT ; return "rcpthosts" ; }
  case_lowerb(rcpthosts.s, rcpthosts.len) ;
  if (local_resolve_init(&resolver) < 0)
    return resolver.errfile[0] ? resolver.errfile + 8 : "locals" ;  /* "control/..." */
  if (!control_listed("rcpthosts.cdb")) ;  /* not there (control_list) */
  else if (cdb_init(&hostscdb, "control/rcpthosts.cdb")) havecdb = 1 ;
  else if (errno != ENOENT) return "rcpthosts.cdb" ;
  return 0 ;
}

/* Is d (len bytes, lowercased) in a list of NUL-terminated lines, as
   itself or under a ".parent" line? */
static int inlist (stralloc const *list, char const *d, size_t len)
{
  size_t i = 0 ;
  while (i < list->len)
  {
    char const *e = list->s + i ;
    size_t n = strlen(e) ;
    if (n == len && !memcmp(e, d, len)) return 1 ;
    if (e[0] == '.' && n < len + 1 && !memcmp(e, d + len - n, n)) return 1 ;
    i += n + 1 ;
  }
  return 0 ;
}

int rcpt_hosts (char const *d, size_t len)
{
  if (!len) return 0 ;
  if (inlist(&rcpthosts, d, len)) return 1 ;
  if (havecdb)
  {
    cdb_data data ;
    int r = cdbfind(&hostscdb, &data, d, len) ;
    if (r < 0) { strerr_warnwu1x("read control/rcpthosts.cdb: malformed") ; return -1 ; }
    if (r) return 1 ;
    for (size_t i = 1 ; i < len ; i++)
      if (d[i] == '.')
      {
        r = cdbfind(&hostscdb, &data, d + i, len - i) ;
        if (r < 0) { strerr_warnwu1x("read control/rcpthosts.cdb: malformed") ; return -1 ; }
        if (r) return 1 ;
      }
  }
  return 0 ;
}

int rcpt_check (char const *addr, size_t len, size_t at)
{
  if (at >= len) return 1 ;  /* <postmaster> */
  if (at == 10 && !strncasecmp(addr, "postmaster", 10)
   && local_domain_is_local(&resolver, addr + at + 1, len - at - 1)) return 1 ;
  {
    int r = local_exists(&resolver, addr, len) ;
    if (r < 0)
    {
      if (resolver.errfile[0]) strerr_warnwu2sys("read ", resolver.errfile) ;
      else strerr_warnwu1sys("check a recipient") ;
    }
    return r ;
  }
}

int sender_owned (char const *user, char const *addr, size_t len)
{
  int r = local_owned_by(&resolver, addr, len, user) ;
  if (r < 0)
  {
    if (resolver.errfile[0]) strerr_warnwu2sys("read ", resolver.errfile) ;
    else strerr_warnwu1sys("check a sender address") ;
  }
  return r ;
}
