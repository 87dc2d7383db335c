/* local_resolve.c: local or remote, and which user (local_resolve.h). */
#include <errno.h>
#include <string.h>
#include <skalibs/bytestr.h>
#include <skalibs/stralloc.h>
#include "postie.h"
#include "usersdb.h"
#include "local_resolve.h"

#define CONTROL_LIST_MAX (1 << 22)

/* s (n bytes) and a NUL appended to sa, lowercased. */
static int cateq_lower (stralloc *sa, char const *s, size_t n)
{
  size_t from = sa->len ;
  if (!stralloc_catb(sa, s, n) || !stralloc_0(sa)) return 0 ;
  case_lowerb(sa->s + from, n) ;
  return 1 ;
}

/* a (n bytes) is the NUL-terminated b, case aside. The length is checked
   first: case_equalb (strncasecmp) stops at a NUL, and a NUL in a then
   meets a byte of b that is not one. */
static int eq_lower (char const *a, char const *b, size_t n)
{
  return strlen(b) == n && case_equalb(a, n, b) ;
}

static size_t trim (char const **s, size_t n)
{
  while (n && (**s == ' ' || **s == '\t')) { (*s)++ ; n-- ; }
  while (n && ((*s)[n-1] == ' ' || (*s)[n-1] == '\t')) n-- ;
  return n ;
}

/* "key:value" lines into "key\0value\0" pairs, keys lowercased.
   Returns 1, or 0 if the file does not exist, or -1 (errno). */
static int readpairs (stralloc *out, char const *file)
{
  stralloc raw = STRALLOC_ZERO ;
  size_t i = 0 ;
  int r = control_readlines(&raw, file, CONTROL_LIST_MAX) ;
  out->len = 0 ;
  if (r <= 0) { stralloc_free(&raw) ; return r ; }
  while (i < raw.len)
  {
    char const *line = raw.s + i ;
    size_t n = strlen(line) ;
    char const *colon = memchr(line, ':', n) ;
    i += n + 1 ;
    if (!colon) continue ;
    {
      char const *k = line, *v = colon + 1 ;
      size_t kn = trim(&k, colon - line) ;
      size_t vn = trim(&v, line + n - v) ;
      if (!kn) continue ;
      if (!cateq_lower(out, k, kn) || !stralloc_catb(out, v, vn) || !stralloc_0(out))
      {
        stralloc_free(&raw) ;
        return -1 ;
      }
    }
  }
  stralloc_free(&raw) ;
  return 1 ;
}

/* A file that must exist: missing is an error (ENOENT), never "empty". */
static int required (local_resolver *r, int got, char const *file)
{
  if (got > 0) return 1 ;
  if (!got) errno = ENOENT ;
  r->errfile = file ;
  return 0 ;
}

/* Into a fresh resolver, so that a failure leaves *r as it was: a
   re-read that finds a file missing keeps the old settings whole. */
int local_resolve_init (local_resolver *r)
{
  local_resolver t = LOCAL_RESOLVER_ZERO ;
  stralloc raw = STRALLOC_ZERO ;
  size_t i = 0 ;
  if (!required(r, control_readlines(&raw, "locals", CONTROL_LIST_MAX), "control/locals")) goto err ;
  while (i < raw.len)
  {
    size_t n = strlen(raw.s + i) ;
    if (!cateq_lower(&t.locals, raw.s + i, n)) { r->errfile = "" ; goto err ; }
    i += n + 1 ;
  }
  if (readpairs(&t.vdoms, "virtualdomains") < 0) { r->errfile = "control/virtualdomains" ; goto err ; }
  if (!required(r, readpairs(&t.aliases, "aliases"), "control/aliases")) goto err ;
  if (control_readline(&t.extsep, "extsep", "+", 16) < 0) { r->errfile = "control/extsep" ; goto err ; }
  if (!required(r, control_readline(&t.me, "me", 0, 255), "control/me")) goto err ;
  stralloc_free(&raw) ;
  local_resolve_free(r) ;
  *r = t ;
  return 1 ;
 err:
  {
    int e = errno ;
    stralloc_free(&raw) ;
    local_resolve_free(&t) ;
    errno = e ;
  }
  return -1 ;
}

void local_resolve_free (local_resolver *r)
{
  stralloc_free(&r->locals) ;
  stralloc_free(&r->vdoms) ;
  stralloc_free(&r->aliases) ;
  stralloc_free(&r->extsep) ;
  stralloc_free(&r->me) ;
}

int local_domain_is_local (local_resolver const *r, char const *d, size_t n)
{
  size_t i = 0 ;
  if (!n) return 1 ;
  while (i < r->locals.len)
  {
    if (eq_lower(d, r->locals.s + i, n)) return 1 ;
    i += strlen(r->locals.s + i) + 1 ;
  }
  return 0 ;
}

/* The value of pairs[key], key of n bytes, compared lowercased. */
static char const *pairs_find (stralloc const *pairs, char const *key, size_t n)
{
  size_t i = 0 ;
  while (i < pairs->len)
  {
    char const *k = pairs->s + i ;
    char const *v = k + strlen(k) + 1 ;
    if (eq_lower(key, k, n)) return v ;
    i = (v - pairs->s) + strlen(v) + 1 ;
  }
  return 0 ;
}

typedef struct ctx_s ctx ;
struct ctx_s
{
  local_resolver *r ;
  stralloc *out ;
  unsigned int count ;
  stralloc u ;  /* users database scratch */
} ;

static int record (ctx *c, char kind, char const *const *f, size_t const *fn)
{
  unsigned int i ;
  if (++c->count > LOCAL_RESOLVE_TARGETS_MAX) return 0 ;
  if (!stralloc_catb(c->out, &kind, 1)) return -1 ;
  for (i = 0 ; i < 6 ; i++)
    if (!stralloc_catb(c->out, f[i], fn[i]) || !stralloc_0(c->out)) return -1 ;
  return 1 ;
}

static int rec_x (ctx *c, char const *addr, size_t addrlen, char const *reason)
{
  char const *f[6] = { addr, "", "", "", "", reason } ;
  size_t fn[6] = { addrlen, 0, 0, 0, 0, strlen(reason) } ;
  return record(c, 'X', f, fn) ;
}

static int resolve (ctx *c, char const *addr, size_t len, unsigned int depth) ;

/* An alias's targets, comma-separated: local names (in domain) or full
   addresses. */
static int expand (ctx *c, char const *targets, char const *domain, size_t dlen, unsigned int depth)
{
  char const *s = targets ;
  while (*s)
  {
    char const *t = s ;
    size_t n ;
    while (*s && *s != ',') s++ ;
    n = trim(&t, s - t) ;
    if (*s) s++ ;
    if (!n) continue ;
    if (memchr(t, '@', n))
    {
      int r = resolve(c, t, n, depth + 1) ;
      if (r <= 0) return r ;
    }
    else
    {
      char buf[2048] ;
      int r ;
      if (n + 1 + dlen > sizeof buf) { r = rec_x(c, t, n, "alias target too long") ; if (r <= 0) return r ; continue ; }
      memcpy(buf, t, n) ;
      buf[n] = '@' ;
      memcpy(buf + n + 1, domain, dlen) ;
      r = resolve(c, buf, n + 1 + dlen, depth + 1) ;
      if (r <= 0) return r ;
    }
  }
  return 1 ;
}

static int user_found (ctx *c, char const *name, size_t n)
{
  usersdb_entry e ;
  int r = usersdb_find(name, n, &e, &c->u) ;
  if (r < 0) c->r->errfile = USERSDB_FILE ;
  return r ;
}

/* name@domain with name local: an alias, a user, or user+ext. */
static int local_name (ctx *c, char const *addr, size_t len, char const *name, size_t n, char const *domain, size_t dlen, unsigned int depth)
{
  char const *targets = pairs_find(&c->r->aliases, name, n) ;
  size_t i ;
  int r ;
  if (targets) return expand(c, targets, domain, dlen, depth) ;
  r = user_found(c, name, n) ;
  if (r < 0) return -1 ;
  if (r)
  {
    char const *f[6] = { addr, name, name, "", domain, "" } ;
    size_t fn[6] = { len, n, n, 0, dlen, 0 } ;
    return record(c, 'L', f, fn) ;
  }
  /* user+ext: the longest user name first. */
  for (i = n ; i-- > 0 ;)
  {
    if (!name[i] || !strchr(c->r->extsep.s, name[i])) continue ;
    targets = pairs_find(&c->r->aliases, name, i) ;
    if (targets) return expand(c, targets, domain, dlen, depth) ;
    r = user_found(c, name, i) ;
    if (r < 0) return -1 ;
    if (r)
    {
      char const *f[6] = { addr, name, name, name + i + 1, domain, "" } ;
      size_t fn[6] = { len, i, n, n - i - 1, dlen, 0 } ;
      return record(c, 'L', f, fn) ;
    }
  }
  return rec_x(c, addr, len, "no such user") ;
}

static int resolve (ctx *c, char const *addr, size_t len, unsigned int depth)
{
  char const *at = 0 ;
  char const *local, *domain ;
  size_t ln, dn, i ;
  char const *prefix ;
  if (depth > LOCAL_RESOLVE_DEPTH) return rec_x(c, addr, len, "alias loop or aliases nested too deeply") ;
  for (i = len ; i-- > 0 ;) if (addr[i] == '@') { at = addr + i ; break ; }
  local = addr ;
  if (at) { ln = at - addr ; domain = at + 1 ; dn = len - ln - 1 ; }
  else { ln = len ; domain = "" ; dn = 0 ; }
  if (local_domain_is_local(c->r, domain, dn))
    return local_name(c, addr, len, local, ln, domain, dn, depth) ;
  prefix = pairs_find(&c->r->vdoms, domain, dn) ;
  if (prefix)
  {
    char buf[2100] ;
    size_t pn = strlen(prefix), n = 0 ;
    if (pn + 1 + ln > sizeof buf) return rec_x(c, addr, len, "address too long") ;
    if (pn)
    {
      memcpy(buf, prefix, pn) ; n = pn ;
      buf[n++] = c->r->extsep.s[0] ? c->r->extsep.s[0] : '-' ;
    }
    memcpy(buf + n, local, ln) ; n += ln ;
    return local_name(c, addr, len, buf, n, domain, dn, depth) ;
  }
  {
    char const *f[6] = { addr, "", "", "", domain, "" } ;
    size_t fn[6] = { len, 0, 0, 0, dn, 0 } ;
    return record(c, 'R', f, fn) ;
  }
}

int local_resolve (local_resolver *r, char const *addr, size_t len, stralloc *out)
{
  ctx c = { .r = r, .out = out, .count = 0, .u = STRALLOC_ZERO } ;
  size_t oldlen = out->len ;
  int e ;
  r->errfile = "" ;
  e = resolve(&c, addr, len, 0) ;
  stralloc_free(&c.u) ;
  if (e < 0) { out->len = oldlen ; return -1 ; }
  if (!e)
  {
    /* more targets than allowed: one permanent failure instead */
    out->len = oldlen ;
    c.count = 0 ;
    c.out = out ;
    if (rec_x(&c, addr, len, "alias expands to too many recipients") < 0) { out->len = oldlen ; return -1 ; }
    return 1 ;
  }
  return (int)c.count ;
}

int local_exists (local_resolver *r, char const *addr, size_t len)
{
  stralloc sa = STRALLOC_ZERO ;
  size_t i = 0 ;
  int found = 0 ;
  int n = local_resolve(r, addr, len, &sa) ;
  if (n < 0) { stralloc_free(&sa) ; return -1 ; }
  while (i < sa.len)
  {
    unsigned int k ;
    if (sa.s[i] != 'X') found = 1 ;
    i++ ;
    for (k = 0 ; k < 6 ; k++) i += strlen(sa.s + i) + 1 ;
  }
  stralloc_free(&sa) ;
  return found ;
}

int local_owned_by (local_resolver *r, char const *addr, size_t len, char const *user)
{
  stralloc sa = STRALLOC_ZERO ;
  size_t i = 0, ulen = strlen(user) ;
  int mine = 1 ;
  int n = local_resolve(r, addr, len, &sa) ;
  if (n < 0) { stralloc_free(&sa) ; return -1 ; }
  while (i < sa.len)
  {
    char const *u ;
    unsigned int k ;
    if (sa.s[i++] != 'L') mine = 0 ;
    i += strlen(sa.s + i) + 1 ;  /* the final address */
    u = sa.s + i ;               /* the user */
    if (strlen(u) != ulen || !case_equalb(u, ulen, user)) mine = 0 ;
    for (k = 1 ; k < 6 ; k++) i += strlen(sa.s + i) + 1 ;
  }
  stralloc_free(&sa) ;
  return mine ;
}
