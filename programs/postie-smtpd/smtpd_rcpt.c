/* smtpd_rcpt.c: which domains postie-smtpd accepts mail for (relay
   control), and whether a local recipient exists (the RCPT check).

   Relay: a domain is ours when control/rcpthosts lists it (a line
   "example.org" matches that domain only, a line ".example.org" every
   subdomain of it) or control/rcpthosts.cdb has it as a key (the domain,
   or "." followed by any of its parent domains). Nothing listed: nothing
   is ours, and only RELAYCLIENT or an authenticated client can send.

   Existence: for a domain listed in control/locals, the local part must be
   a user of the users database, or an alias in control/aliases
   ("name: target, target"), or postmaster; when it is not, the part
   before the first character of control/extsep (default "+") is tried
   (user+ext). Domains not in control/locals (virtual or relayed) are
   accepted as they are. */

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <skalibs/cdb.h>
#include <skalibs/stralloc.h>
#include "postie.h"
#include "usersdb.h"
#include "smtpd.h"

#define LIST_MAX (1 << 20)

static stralloc rcpthosts = STRALLOC_ZERO ;
static stralloc locals = STRALLOC_ZERO ;
static stralloc aliases = STRALLOC_ZERO ;
static stralloc extsep = STRALLOC_ZERO ;
static int havecdb = 0 ;
static cdb hostscdb = CDB_ZERO ;

static void lower (char *s, size_t n)
{
  for (size_t i = 0 ; i < n ; i++) if (s[i] >= 'A' && s[i] <= 'Z') s[i] += 32 ;
}

int rcpt_init (void)
{
  if (control_readlines(&rcpthosts, "rcpthosts", LIST_MAX) < 0) return 0 ;
  lower(rcpthosts.s, rcpthosts.len) ;
  if (control_readlines(&locals, "locals", LIST_MAX) < 0) return 0 ;
  lower(locals.s, locals.len) ;
  if (control_readlines(&aliases, "aliases", LIST_MAX) < 0) return 0 ;
  if (control_readline(&extsep, "extsep", "+", 16) < 0) return 0 ;
  if (cdb_init(&hostscdb, "control/rcpthosts.cdb")) havecdb = 1 ;
  else if (errno != ENOENT) return 0 ;
  return 1 ;
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
    int r = cdb_find(&hostscdb, &data, d, len) ;
    if (r) return r < 0 ? -1 : 1 ;
    for (size_t i = 1 ; i < len ; i++)
      if (d[i] == '.')
      {
        r = cdb_find(&hostscdb, &data, d + i, len - i) ;
        if (r) return r < 0 ? -1 : 1 ;
      }
  }
  return 0 ;
}

static int isalias (char const *name, size_t n)
{
  size_t i = 0 ;
  while (i < aliases.len)
  {
    char const *e = aliases.s + i ;
    size_t k = strlen(e) ;
    char const *colon = memchr(e, ':', k) ;
    if (colon)
    {
      size_t m = colon - e ;
      while (m && (e[m-1] == ' ' || e[m-1] == '\t')) m-- ;
      if (m == n && !strncasecmp(e, name, n)) return 1 ;
    }
    i += k + 1 ;
  }
  return 0 ;
}

static int known (char const *name, size_t n)
{
  stralloc sa = STRALLOC_ZERO ;
  usersdb_entry e ;
  int r ;
  if (n == 10 && !strncasecmp(name, "postmaster", 10)) return 1 ;
  if (isalias(name, n)) return 1 ;
  r = usersdb_find(name, n, &e, &sa) ;
  stralloc_free(&sa) ;
  return r ;
}

int rcpt_check (char const *addr, size_t len, size_t at)
{
  size_t cut ;
  int r ;
  if (at >= len) return 1 ;  /* <postmaster> */
  if (!inlist(&locals, addr + at + 1, len - at - 1)) return 1 ;
  r = known(addr, at) ;
  if (r) return r ;
  for (cut = 0 ; cut < at ; cut++) if (strchr(extsep.s, addr[cut])) break ;
  if (cut && cut < at) return known(addr, cut) ;
  return 0 ;
}
