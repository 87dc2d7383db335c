/* rules.h: postie-tcpserver's access rules (-i, -x), checked in the
   server before a connection gets a process (rules.c). */
#ifndef TCPSERVER_RULES_H
#define TCPSERVER_RULES_H

#include <skalibs/ip46.h>
#include <skalibs/stralloc.h>

/* rules_dir: a rules directory, read at each connection. rules_cdb: a
   cdb made by s6-accessrules-cdb-from-fs; a copy in memory, read again
   when the file's identity, size or times have changed since. */
extern char const *rules_dir ;
extern char const *rules_cdb ;

/* The rule for ip (an IPv4-mapped IPv6 address is looked up as IPv4),
   as accessrules.h's accessrules_fs/_cdb: RULES_ALLOW (env and exec
   filled; both emptied first), RULES_DENY, RULES_NOTFOUND, RULES_ERROR
   (errno set; *what says what failed). With neither rules_dir nor
   rules_cdb set, RULES_ALLOW. */
extern int rules_check (ip46 const *ip, stralloc *env, stralloc *exec, char const **what) ;

#endif
