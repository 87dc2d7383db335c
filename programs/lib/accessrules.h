/* accessrules.h: s6's access rules keyed by IP address, read with
   skalibs alone (accessrules.c). */
#ifndef ACCESSRULES_H
#define ACCESSRULES_H

#include <skalibs/cdb.h>
#include <skalibs/ip46.h>
#include <skalibs/stralloc.h>

enum { RULES_ERROR = -1, RULES_NOTFOUND = 0, RULES_ALLOW = 1, RULES_DENY = 2 } ;

/* The rule for ip, from a rules directory or a cdb made from one by
   s6-accessrules-cdb-from-fs: RULES_ALLOW (then env gets the rule's
   environment modifications, "VAR=value\0" or "VAR\0" each, and exec its
   exec line, NUL-terminated, if it has one), RULES_DENY, RULES_NOTFOUND,
   or RULES_ERROR (errno set). */
extern int accessrules_fs (ip46 const *ip, char const *dir, stralloc *env, stralloc *exec) ;
extern int accessrules_cdb (ip46 const *ip, cdb const *c, stralloc *env, stralloc *exec) ;

#endif
