/* settings.c: postie-remote's control files (doc/postie-remote.md,
   "Files") and the settings of the route smtproutes chose for the
   domain (tls=, ca=, auth= and control/smtpauth). */

#include <errno.h>
#include <string.h>
#include <skalibs/bytestr.h>
#include <skalibs/ip46.h>
#include "postie.h"
#include "remote.h"

#define TIMEOUTCONNECT_DEFAULT 60
#define TIMEOUTREMOTE_DEFAULT 1200
#define REPLYLINEMAX_DEFAULT 2048   /* bytes in one reply line */
#define REPLYLINES_DEFAULT 200      /* lines in one reply */
#define SMTPAUTH_MAX 65536
#define CABUNDLE "/etc/ssl/certs/ca-certificates.crt"   /* the system's CA bundle (Debian's ca-certificates) */

unsigned long timeoutconnect = TIMEOUTCONNECT_DEFAULT ;
unsigned long timeoutremote = TIMEOUTREMOTE_DEFAULT ;
unsigned long replylinemax = REPLYLINEMAX_DEFAULT ;
unsigned long replylines = REPLYLINES_DEFAULT ;
stralloc helohost = STRALLOC_ZERO ;
ip46 outip4, outip6 ;
int hasout4 = 0, hasout6 = 0 ;
unsigned int tlslevel = SMTPROUTE_TLS_MAY ;
stralloc cafile = STRALLOC_ZERO ;
stralloc authuser = STRALLOC_ZERO ;
stralloc authpass = STRALLOC_ZERO ;
int hasauth = 0 ;

void badcontrol (char const *name)
{
  fail('Z', "unable to read control/", name, errno == EINVAL ? ": not a number" : errno == ERANGE ? ": line too long or out of range" : ": read error") ;
}

static void readulong (unsigned long *u, char const *name, unsigned long def, unsigned long min, unsigned long max)
{
  if (control_readulong(u, name, def) < 0) badcontrol(name) ;
  if (*u < min || *u > max) { errno = ERANGE ; badcontrol(name) ; }
}

static void readip (char const *name, ip46 *ip, int *has, int want6)
{
  stralloc sa = STRALLOC_ZERO ;
  int r = control_readline(&sa, name, 0, 100) ;
  if (r < 0) badcontrol(name) ;
  if (r && sa.len > 1)
  {
    size_t n = want6 ? ip6_scan(sa.s, ip->ip) : ip4_scan(sa.s, ip->ip) ;
    if (n != sa.len - 1) fail('Z', "control/", name, ": not an IP address") ;
    ip->is6 = !!want6 ;
    *has = 1 ;
  }
  stralloc_free(&sa) ;
}

void settings (void)
{
  readulong(&timeoutconnect, "timeoutconnect", TIMEOUTCONNECT_DEFAULT, 1, 86400) ;
  readulong(&timeoutremote, "timeoutremote", TIMEOUTREMOTE_DEFAULT, 1, 86400) ;
  readulong(&replylinemax, "remotereplylinemax", REPLYLINEMAX_DEFAULT, 512, 1 << 20) ;
  readulong(&replylines, "remotereplylines", REPLYLINES_DEFAULT, 1, 100000) ;
  if (control_readline(&helohost, "helohost", 0, 255) < 0) badcontrol("helohost") ;
  if (helohost.len <= 1)
  {
    /* control/me is required when there is no control/helohost: a
       made-up "localhost" gets mail refused by the next server. */
    int r = control_readline(&helohost, "me", 0, 255) ;
    if (!r) fail('Z', "unable to read control/me: ", "no such file (and no control/helohost)", 0) ;
    if (r < 0) badcontrol("me") ;
  }
  if (helohost.len <= 1) { helohost.len = 0 ; cat(&helohost, "localhost") ; if (!stralloc_0(&helohost)) die_nomem() ; }
  for (size_t i = 0 ; i + 1 < helohost.len ; i++)
    if ((unsigned char)helohost.s[i] <= 32 || helohost.s[i] == 127) fail('Z', "control/helohost or control/me: ", "control characters or spaces in the host name", 0) ;
  readip("outgoingip", &outip4, &hasout4, 0) ;
  readip("outgoingip6", &outip6, &hasout6, 1) ;
}

/* The credentials of auth=label, from control/smtpauth: lines
   "label:user:password" (the password is the rest of the line). */
static void loadauth (char const *lab, size_t len)
{
  stralloc lines = STRALLOC_ZERO ;
  int r = control_readlines(&lines, "smtpauth", SMTPAUTH_MAX) ;
  if (r < 0) badcontrol("smtpauth") ;
  for (size_t i = 0 ; r && i < lines.len ; i += strlen(lines.s + i) + 1)
  {
    char const *l = lines.s + i ;
    size_t n = strlen(l) ;
    char const *u, *p ;
    if (n <= len || memcmp(l, lab, len) || l[len] != ':') continue ;
    u = l + len + 1 ;
    p = memchr(u, ':', l + n - u) ;
    if (!p) { byte_zzero(lines.s, lines.len) ; fail('Z', "control/smtpauth: no password in the line of ", lab, " (label:user:password)") ; }
    catb(&authuser, u, p - u) ;
    catb(&authpass, p + 1, l + n - p - 1) ;
    hasauth = 1 ;
    break ;
  }
  byte_zzero(lines.s, lines.len) ;
  stralloc_free(&lines) ;
  if (!hasauth) fail('Z', "control/smtpauth: no credentials for the route's auth=", lab, 0) ;
}

/* The route's settings (smtproutes.h) into the variables above. */
void routesettings (smtproute const *rt)
{
  tlslevel = rt->tls ;
  if (tlslevel == SMTPROUTE_TLS_VERIFY)
  {
    if (rt->ca) catb(&cafile, rt->ca, rt->calen) ;
    else cat(&cafile, CABUNDLE) ;
    if (!stralloc_0(&cafile)) die_nomem() ;
  }
  if (rt->auth)
  {
    stralloc lab = STRALLOC_ZERO ;
    catb(&lab, rt->auth, rt->authlen) ;
    if (!stralloc_0(&lab)) die_nomem() ;
    loadauth(lab.s, rt->authlen) ;
    stralloc_free(&lab) ;
  }
}
