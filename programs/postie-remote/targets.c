/* targets.c: the addresses postie-remote tries for a domain, in order:
   the route of control/smtproutes, else an address literal, else the MX
   hosts (RFC 5321 5.1; the implicit MX when there is none). */

#define _GNU_SOURCE  /* EAI_NODATA, EAI_ADDRFAMILY */
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <resolv.h>
#include <skalibs/bytestr.h>
#include <skalibs/types.h>
#include "postie.h"
#include "dns_mx.h"
#include "remote.h"

#define MX_MAX 64                   /* MX records used */
#define TARGET_MAX 64               /* addresses tried */
#define ADDR_PER_HOST 16            /* addresses used per host name */
#define SMTPROUTES_MAX (1 << 20)

target tg[TARGET_MAX] ;
unsigned int ntg = 0 ;
stralloc names = STRALLOC_ZERO ;
static dns_mx mx[MX_MAX] ;

static void addip (ip46 const *ip, uint16_t port, size_t name)
{
  for (unsigned int i = 0 ; i < ntg ; i++)
    if (tg[i].port == port && tg[i].ip.is6 == ip->is6 && !memcmp(tg[i].ip.ip, ip->ip, ip->is6 ? 16 : 4)) return ;
  if (ntg >= TARGET_MAX) return ;
  tg[ntg].ip = *ip ;
  tg[ntg].port = port ;
  tg[ntg].name = name ;
  ntg++ ;
}

/* The A/AAAA addresses of host (absolute: a dot is added when dot).
   Returns 1 when some were added, 0 when the host has none, -1 on a
   temporary failure. */
static int addhost (char const *host, size_t len, int dot, uint16_t port)
{
  struct addrinfo hints, *res, *p ;
  char portfmt[UINT16_FMT] ;
  size_t nameoff = names.len ;
  unsigned int count = 0 ;
  int r ;
  catb(&names, host, len) ;
  if (!stralloc_0(&names)) die_nomem() ;
  {
    stralloc q = STRALLOC_ZERO ;
    catb(&q, host, len) ;
    if (dot) cat(&q, ".") ;
    if (!stralloc_0(&q)) die_nomem() ;
    portfmt[uint16_fmt(portfmt, port)] = 0 ;
    memset(&hints, 0, sizeof hints) ;
    hints.ai_family = AF_UNSPEC ;
    hints.ai_socktype = SOCK_STREAM ;
    hints.ai_protocol = IPPROTO_TCP ;
    hints.ai_flags = AI_NUMERICSERV ;
    r = getaddrinfo(q.s, portfmt, &hints, &res) ;
    stralloc_free(&q) ;
  }
  if (r)
  {
    if (r == EAI_NONAME
#ifdef EAI_NODATA
     || r == EAI_NODATA
#endif
#ifdef EAI_ADDRFAMILY
     || r == EAI_ADDRFAMILY
#endif
       ) return 0 ;
    if (r == EAI_MEMORY) die_nomem() ;
    return -1 ;
  }
  for (p = res ; p && count < ADDR_PER_HOST ; p = p->ai_next)
  {
    ip46 ip ;
    if (p->ai_family == AF_INET && p->ai_addrlen >= sizeof(struct sockaddr_in))
      ip46_from_ip4(&ip, (char const *)&((struct sockaddr_in *)p->ai_addr)->sin_addr) ;
    else if (p->ai_family == AF_INET6 && p->ai_addrlen >= sizeof(struct sockaddr_in6))
      ip46_from_ip6(&ip, (char const *)&((struct sockaddr_in6 *)p->ai_addr)->sin6_addr) ;
    else continue ;
    addip(&ip, port, nameoff) ;
    count++ ;
  }
  freeaddrinfo(res) ;
  return count ? 1 : 0 ;
}

static int validhostname (char const *s, size_t len)
{
  if (!len || len > 253) return 0 ;
  for (size_t i = 0 ; i < len ; i++)
  {
    char c = s[i] ;
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) return 0 ;
  }
  return 1 ;
}


/* The domain argument as dom: lower case, without a final dot (but
   for an address literal), NUL-terminated (dom->len without the NUL).
   Returns 1 with lit filled for an address literal, 0 for a host name;
   fails when it is neither. */
static int route_domain (stralloc *dom, char const *domarg, ip46 *lit)
{
  smtproute rt ;
  char tmp[64] ;
  char const *d ;
  size_t dl, k ;
  cat(dom, domarg) ;
  if (dom->len > 1 && dom->s[dom->len - 1] == '.' && dom->s[0] != '[') dom->len-- ;
  case_lowerb(dom->s, dom->len) ;
  if (!stralloc_0(dom)) die_nomem() ;
  dom->len-- ;
  if (!dom->len || dom->s[0] != '[')
  {
    if (!validhostname(dom->s, dom->len)) fail('D', "invalid domain name: ", domarg, 0) ;
    return 0 ;
  }
  k = dom->len ;
  if (k + 8 > sizeof tmp) fail('D', "invalid address literal: ", domarg, 0) ;
  memcpy(tmp, "x:", 2) ;
  memcpy(tmp + 2, dom->s, k) ;
  if (!smtproute_parse(tmp, k + 2, &d, &dl, &rt) || !rt.is_ip || rt.hostlen != k)
    fail('D', "invalid address literal: ", domarg, 0) ;
  /* an IPv6 literal must say "IPv6:" (RFC 5321 4.1.3) */
  if (rt.is6 && (k < 6 || case_diffb(dom->s + 1, 5, "ipv6:"))) fail('D', "invalid address literal: ", domarg, 0) ;
  ip46_from_ip(lit, rt.ip, rt.is6) ;
  return 1 ;
}

/* The route of control/smtproutes for dom, if any: its settings, its
   port into *port, and its relay's addresses. Returns 1 when the route
   named the addresses, 0 when the domain's own are to be used. */
static int route_smtproutes (char const *dom, size_t len, uint16_t *port)
{
  stralloc routes = STRALLOC_ZERO ;
  smtproute rt ;
  char const *bad ;
  int r = control_readlines(&routes, "smtproutes", SMTPROUTES_MAX) ;
  if (r < 0) badcontrol("smtproutes") ;
  r = r ? smtproutes_find(routes.s, routes.len, dom, len, &rt, &bad) : 0 ;
  if (r < 0) fail('Z', "control/smtproutes: syntax error in line: ", bad, 0) ;
  if (!r) return 0 ;
  routesettings(&rt) ;
  if (rt.port) *port = rt.port ;
  if (rt.is_ip)
  {
    ip46 ip ;
    size_t off = names.len ;
    if (!stralloc_0(&names)) die_nomem() ;
    ip46_from_ip(&ip, rt.ip, rt.is6) ;
    addip(&ip, *port, off) ;
    return 1 ;
  }
  if (rt.hostlen)
  {
    int k = addhost(rt.host, rt.hostlen, 0, *port) ;
    if (k < 0) fail('Z', "temporary failure looking up the address of the smtproutes relay for ", dom, 0) ;
    if (!k) fail('Z', "the smtproutes relay for ", dom, " has no address") ;
    return 1 ;
  }
  return 0 ;
}

/* The MX hosts' addresses, best preference first (RFC 5321 5.1), or
   the domain's own when it has no MX record. */
static void route_mx (char const *dom, size_t len, uint16_t port)
{
  static unsigned char ans[65536] ;
  unsigned int total, i ;
  int n, r, temp = 0, any = 0 ;
  {
    stralloc q = STRALLOC_ZERO ;
    catb(&q, dom, len) ;
    cat(&q, ".") ;
    if (!stralloc_0(&q)) die_nomem() ;
    n = res_query(q.s, ns_c_in, ns_t_mx, ans, sizeof ans) ;
    stralloc_free(&q) ;
  }
  if (n < 0)
  {
    switch (h_errno)
    {
      case HOST_NOT_FOUND : fail('D', "domain ", dom, " does not exist (DNS: no such domain)") ;
      case NO_DATA : n = 0 ; break ;  /* no MX: the implicit MX below */
      default : fail('Z', "temporary DNS failure looking up the MX records of ", dom, 0) ;
    }
  }
  if (n > 0)
  {
    n = dns_mx_parse(ans, n > (int)sizeof ans ? sizeof ans : (size_t)n, mx, MX_MAX, &total) ;
    if (n < 0) fail('Z', "malformed DNS answer for the MX records of ", dom, 0) ;
  }
  if (!n)
  {
    /* the implicit MX: the domain's own addresses */
    r = addhost(dom, len, 1, port) ;
    if (r < 0) fail('Z', "temporary DNS failure looking up the address of ", dom, 0) ;
    if (!r) fail('D', "domain ", dom, " has no MX record and no address") ;
    return ;
  }
  for (i = 0 ; i < (unsigned int)n ; i++)
    if (!mx[i].name[0]) fail('D', "domain ", dom, " does not accept mail (null MX, RFC 7505)") ;
  dns_mx_sort(mx, n) ;
  for (i = 0 ; i < (unsigned int)n ; i++)
  {
    if (!validhostname(mx[i].name, strlen(mx[i].name))) continue ;
    r = addhost(mx[i].name, strlen(mx[i].name), 1, port) ;
    if (r < 0) temp = 1 ;
    else if (r) any = 1 ;
  }
  if (!any)
  {
    if (temp) fail('Z', "temporary DNS failure looking up the addresses of the MX hosts of ", dom, 0) ;
    fail('D', "no MX host of ", dom, " has an address") ;
  }
  (void)total ;
}

void route (char const *domarg)
{
  stralloc dom = STRALLOC_ZERO ;
  uint16_t port = 25 ;
  ip46 lit ;
  int islit = route_domain(&dom, domarg, &lit) ;
  if (route_smtproutes(dom.s, dom.len, &port)) return ;
  if (islit)
  {
    size_t off = names.len ;
    if (!stralloc_0(&names)) die_nomem() ;
    addip(&lit, port, off) ;
    return ;
  }
  route_mx(dom.s, dom.len, port) ;
}
