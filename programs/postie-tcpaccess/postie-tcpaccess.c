/* postie-tcpaccess: s6 access rules keyed by the client's IP address.
   Runs under a UCSPI-TCP server (postie-tcpserver, s6-tcpserver,
   tcpserver), looks up ${PROTO}REMOTEIP in a rules directory (-i) or a
   cdb made by s6-accessrules-cdb-from-fs (-x), then either exits 1 (the
   connection closes) or applies the rule's env/ and execs prog... (or the
   rule's exec file, through execlineb). Never looks anything up in the
   DNS. The rules are read by accessrules.c, with skalibs alone.
   Interface, log lines, exit codes: doc/postie-tcpaccess.md. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <skalibs/types.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/strerr.h>
#include <skalibs/sgetopt.h>
#include <skalibs/socket.h>
#include <skalibs/ip46.h>
#include <skalibs/cdb.h>
#include <skalibs/env.h>
#include <skalibs/exec.h>
#include <skalibs/stralloc.h>
#include "accessrules.h"

#define USAGE "postie-tcpaccess [ -v verbosity ] [ -i rulesdir | -x rulescdb ] [ -D | -d ] [ -l localname ] [ -B banner ] prog..."
#define dieusage() strerr_dieusage(100, USAGE)
#define VARNAME_MAX 64

static unsigned int verbosity = 1 ;

static void die_nomem (void)
{
  strerr_diefu(111, "build the environment: out of memory") ;
}

/* ${PROTO}name, in buf of VARNAME_MAX bytes. */
static char const *protovar (char *buf, char const *proto, char const *name)
{
  size_t p = strlen(proto), n = strlen(name) ;
  if (p + n + 1 > VARNAME_MAX) strerr_dief(100, "PROTO is too long") ;
  memcpy(buf, proto, p) ;
  memcpy(buf + p, name, n + 1) ;
  return buf ;
}

/* The address in canonical form; a malformed one is refused, never
   matched against a shorter prefix by accident. */
static void scan_remote (char const *s, ip46 *ip)
{
  char const *orig = s ;
  size_t n ;
  /* An IPv4 client seen through a dual-stack IPv6 socket (::ffff:a.b.c.d,
     RFC 4291 2.5.5.2) is an IPv4 client: its ip4/ rules apply, so that
     the ip6/ rules cannot let it past an ip4/ deny. */
  if (!strncasecmp(s, "::ffff:", 7) && strchr(s + 7, '.')) s += 7 ;
  n = ip46_scan(s, ip) ;
  if (!n || s[n]) strerr_dief(100, "invalid client address: ", orig) ;
  if (!ip->is6)
  {
    /* ip4_scan accepts 256.1.1.1: check that formatting gives it back. */
    char fmt[IP4_FMT] ;
    fmt[ip4_fmt(fmt, ip->ip)] = 0 ;
    if (strcmp(fmt, s)) strerr_dief(100, "invalid client address: ", orig) ;
  }
  else if (!memcmp(ip->ip, "\0\0\0\0\0\0\0\0\0\0\377\377", 12))
  {
    char ip4[4] ;
    memcpy(ip4, ip->ip + 12, 4) ;
    ip46_from_ip4(ip, ip4) ;
  }
}

/* Over 80 lines: the option switch, then the rules looked up and the
   environment set, in order, before the exec. */
int main (int argc, char const *const *argv)
{
  char const *rulesdir = 0 ;
  char const *rulesfile = 0 ;
  char const *localname = 0 ;
  char const *banner = 0 ;
  int flagnodelay = 0 ;
  char const *proto ;
  char const *x ;
  char const *fport ;
  ip46 ip ;
  stralloc renv = STRALLOC_ZERO ;
  stralloc rexec = STRALLOC_ZERO ;
  int r ;
  stralloc modifs = STRALLOC_ZERO ;
  char var[VARNAME_MAX] ;
  char fip[IP46_FMT] ;
  char fpid[PID_FMT] ;
  PROG = "postie-tcpaccess" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "v:i:x:Ddl:B:t:HRPWw", &l) ;
      if (opt == -1) break ;
      switch (opt)
      {
        case 'v' :
        {
          size_t n = uint0_scan(l.arg, &verbosity) ;
          if (!n) dieusage() ;
          break ;
        }
        case 'i' : rulesdir = l.arg ; rulesfile = 0 ; break ;
        case 'x' : rulesfile = l.arg ; rulesdir = 0 ; break ;
        case 'D' : flagnodelay = 1 ; break ;
        case 'd' : flagnodelay = 0 ; break ;
        case 'l' : localname = l.arg ; break ;
        case 'B' : banner = l.arg ; break ;
        /* s6-tcpserver-access options about DNS and IDENT lookups, which
           postie-tcpaccess never does: accepted, nothing to do. */
        case 't' : case 'H' : case 'R' : case 'P' : case 'W' : case 'w' : break ;
        default : dieusage() ;
      }
    }
    argc -= l.ind ; argv += l.ind ;
  }
  if (!argc) dieusage() ;

  proto = getenv("PROTO") ;
  if (!proto || !*proto) strerr_dienotset(100, "PROTO") ;
  x = getenv(protovar(var, proto, "REMOTEIP")) ;
  if (!x) strerr_dienotset(100, var) ;
  scan_remote(x, &ip) ;
  fip[ip46_fmt(fip, &ip)] = 0 ;
  fport = getenv(protovar(var, proto, "REMOTEPORT")) ;
  if (!fport) fport = "?" ;
  fpid[pid_fmt(fpid, getpid())] = 0 ;

  if (banner)
  {
    size_t n = strlen(banner) ;
    if (allwrite(1, banner, n) < n) strerr_diefusys(111, "write the banner") ;
  }
  if (flagnodelay && socket_tcpnodelay(1) < 0) strerr_diefusys(111, "set TCP_NODELAY") ;

  if (rulesdir) r = accessrules_fs(&ip, rulesdir, &renv, &rexec) ;
  else if (rulesfile)
  {
    cdb c = CDB_ZERO ;
    if (!cdb_init(&c, rulesfile)) strerr_diefusys(111, "open rules database ", rulesfile) ;
    r = accessrules_cdb(&ip, &c, &renv, &rexec) ;
    /* renv and rexec hold copies: the map can go. */
    cdb_free(&c) ;
  }
  else r = RULES_ALLOW ;

  switch (r)
  {
    case RULES_ALLOW : break ;
    case RULES_DENY :
      if (verbosity) strerr_warni("deny pid ", fpid, " ip ", fip, " port ", fport, ": rule says deny") ;
      return 1 ;
    case RULES_NOTFOUND :
      if (verbosity) strerr_warni("deny pid ", fpid, " ip ", fip, " port ", fport, ": no rule matches") ;
      return 1 ;
    default :
      strerr_diefusys(111, "check access rules for ip ", fip) ;
  }

  /* What a DNS-using server would have set is never passed on; the
     rule's env/ comes last, so it can set anything. */
  if (!env_addmodif(&modifs, protovar(var, proto, "REMOTEHOST"), 0)
   || !env_addmodif(&modifs, protovar(var, proto, "REMOTEINFO"), 0))
    die_nomem() ;
  if (localname && !env_addmodif(&modifs, protovar(var, proto, "LOCALHOST"), localname)) die_nomem() ;
  if (renv.len && !stralloc_catb(&modifs, renv.s, renv.len)) die_nomem() ;

  if (verbosity) strerr_warni("allow pid ", fpid, " ip ", fip, " port ", fport) ;
  if (rexec.len)
  {
    char const *newargv[4] = { "execlineb", "-Pc", rexec.s, 0 } ;
    xmexec_m(newargv, modifs.s, modifs.len) ;
  }
  xmexec_m(argv, modifs.s, modifs.len) ;
}
