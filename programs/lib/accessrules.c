/* accessrules.c: s6's access rules by IP address (the formats of
   s6-accessrules-cdb-from-fs, documented in doc/postie-tcpaccess.md),
   read with skalibs only, so that postie-tcpaccess and postie-tcpserver
   (-i, -x) need no libs6 and link statically against musl
   (doc/design.md, "Build").

   Keys, tried in this order until one exists: ip4/ADDR_BITS for BITS from
   32 down to 0, ADDR being the address with its low 32-BITS bits cleared;
   ip6/ADDR_BITS for BITS from 128 down to 0, ADDR being the address with
   the bits numbered 128-BITS... 127 cleared by skalibs's bitarray_clear,
   exactly as libs6 does (bit n of the 16 bytes is bit n&7 of byte n>>3,
   so below a whole byte the order is not the network's: a rule for a
   prefix that does not end on a byte boundary matches as it does for
   s6-tcpserver-access, which is the point). tests/e2e/postie-tcpaccess-s6.py
   checks the decisions against libs6's own functions. */

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <skalibs/bitarray.h>
#include <skalibs/djbunix.h>
#include <skalibs/env.h>
#include <skalibs/types.h>
#include <skalibs/uint16.h>
#include "accessrules.h"
#include "cdbfind.h"

typedef int check_func (char const *key, size_t keylen, void const *data, stralloc *env, stralloc *exec) ;

static int walk (ip46 const *ip, check_func *check, void const *data, stralloc *env, stralloc *exec)
{
  char key[4 + IP6_FMT + UINT_FMT + 1] ;
  char a[16] ;
  unsigned int bits = ip46_is6(ip) ? 128 : 32 ;
  unsigned int i = 0 ;
  memcpy(a, ip->ip, bits >> 3) ;
  memcpy(key, ip46_is6(ip) ? "ip6/" : "ip4/", 4) ;
  for (; i <= bits ; i++)
  {
    size_t len ;
    int r ;
    if (i && bits == 128) bitarray_clear((unsigned char *)a, 128 - i) ;
    if (bits == 32)
    {
      /* clear the low i bits of the address, in network order */
      uint32_t u ;
      uint32_unpack_big(ip->ip, &u) ;
      u = i == 32 ? 0 : u & ~((1U << i) - 1) ;
      len = 4 + ip4_fmtu32(key + 4, u) ;
    }
    else len = 4 + ip6_fmt(key + 4, a) ;
    key[len++] = '_' ;
    len += uint_fmt(key + len, bits - i) ;
    r = (*check)(key, len, data, env, exec) ;
    if (r != RULES_NOTFOUND) return r ;
  }
  return RULES_NOTFOUND ;
}

/* DIR/KEY/allow readable: allow, with DIR/KEY/env/ (an envdir) and
   DIR/KEY/exec (up to 4096 bytes); else DIR/KEY/deny readable: deny. */
static int check_fs (char const *key, size_t keylen, void const *data, stralloc *env, stralloc *exec)
{
  char const *dir = data ;
  size_t dirlen = strlen(dir) ;
  size_t envbase = env->len ;
  char path[dirlen + keylen + 8] ;
  ssize_t r ;
  memcpy(path, dir, dirlen) ;
  path[dirlen] = '/' ;
  memcpy(path + dirlen + 1, key, keylen) ;
  memcpy(path + dirlen + 1 + keylen, "/allow", 7) ;
  if (access(path, R_OK) < 0)
  {
    if (errno != EACCES && errno != ENOENT) return RULES_ERROR ;
    memcpy(path + dirlen + 2 + keylen, "deny", 5) ;
    if (!access(path, R_OK)) return RULES_DENY ;
    return errno != EACCES && errno != ENOENT ? RULES_ERROR : RULES_NOTFOUND ;
  }
  memcpy(path + dirlen + 2 + keylen, "env", 4) ;
  if (envdir(path, env) < 0 && errno != ENOENT) return RULES_ERROR ;
  if (!stralloc_readyplus(exec, 4097)) goto err ;
  memcpy(path + dirlen + 2 + keylen, "exec", 5) ;
  r = openreadnclose(path, exec->s + exec->len, 4096) ;
  if (r < 0 && errno != EACCES && errno != ENOENT) goto err ;
  if (r > 0)
  {
    exec->len += r ;
    exec->s[exec->len++] = 0 ;
  }
  return RULES_ALLOW ;
 err:
  env->len = envbase ;
  return RULES_ERROR ;
}

/* The cdb's value for KEY: "D" (deny), or 'A' then the environment
   (2-byte big-endian length, then "VAR=value\0"... at most 4096 bytes)
   then the exec line (the same). Any other first byte: no rule. */
static int check_cdb (char const *key, size_t keylen, void const *data, stralloc *env, stralloc *exec)
{
  cdb_data d ;
  uint16_t envlen, execlen ;
  int r = cdbfind((cdb const *)data, &d, key, keylen) ;
  if (r < 0) return RULES_ERROR ;
  if (!r) return RULES_NOTFOUND ;
  if (!d.len || d.len > 8197) return (errno = EINVAL, RULES_ERROR) ;
  if (d.s[0] == 'D') return RULES_DENY ;
  if (d.s[0] != 'A') return RULES_NOTFOUND ;
  if (d.len < 5) return (errno = EINVAL, RULES_ERROR) ;
  uint16_unpack_big(d.s + 1, &envlen) ;
  if (envlen > 4096 || envlen + 5U > d.len) return (errno = EINVAL, RULES_ERROR) ;
  uint16_unpack_big(d.s + 3 + envlen, &execlen) ;
  if (execlen > 4096 || 5U + envlen + execlen != d.len) return (errno = EINVAL, RULES_ERROR) ;
  if (!stralloc_catb(env, d.s + 3, envlen)) return RULES_ERROR ;
  if (execlen && (!stralloc_catb(exec, d.s + 5 + envlen, execlen) || !stralloc_0(exec)))
    return RULES_ERROR ;
  return RULES_ALLOW ;
}

int accessrules_fs (ip46 const *ip, char const *dir, stralloc *env, stralloc *exec)
{
  return walk(ip, &check_fs, dir, env, exec) ;
}

int accessrules_cdb (ip46 const *ip, cdb const *c, stralloc *env, stralloc *exec)
{
  return walk(ip, &check_cdb, c, env, exec) ;
}
