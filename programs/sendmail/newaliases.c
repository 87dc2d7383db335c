/* newaliases.c: sendmail -bi and the name newaliases. postie has no
   aliases database to rebuild: control/aliases is read as it is, by
   postie-smtpd at each session and by postie-send at start-up and when
   told to. So newaliases checks the file (every alias must reach someone)
   and tells postie-send to read it again, through the trigger. */
#include <errno.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>
#include <skalibs/buffer.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "postie.h"
#include "queue.h"
#include "local_resolve.h"
#include "sendmail.h"

static void out (char const *s)
{
  buffer_puts(buffer_1, s) ;
}

/* Resolves each alias; warns about targets nobody receives. Returns the
   number of bad ones, or -1 when the users database cannot be read. */
static int check (local_resolver *r, unsigned int *count)
{
  stralloc res = STRALLOC_ZERO, addr = STRALLOC_ZERO ;
  size_t i = 0 ;
  int bad = 0 ;
  *count = 0 ;
  while (i < r->aliases.len)
  {
    char const *name = r->aliases.s + i ;
    char const *targets = name + strlen(name) + 1 ;
    size_t j = 0 ;
    int n ;
    (*count)++ ;
    i = (targets - r->aliases.s) + strlen(targets) + 1 ;
    /* name@ the first local domain (a bare name has no domain) */
    res.len = 0 ;
    addr.len = 0 ;
    if (!stralloc_cats(&addr, name)
     || (r->locals.len && (!stralloc_catb(&addr, "@", 1) || !stralloc_cats(&addr, r->locals.s)))) strerr_diefusys(EX_OSERR, "allocate") ;
    n = local_resolve(r, addr.s, addr.len, &res) ;
    if (n < 0) { stralloc_free(&res) ; stralloc_free(&addr) ; return -1 ; }
    while (n-- > 0)
    {
      char kind = res.s[j++] ;
      char const *f[6] ;
      unsigned int k ;
      for (k = 0 ; k < 6 ; k++) { f[k] = res.s + j ; j += strlen(res.s + j) + 1 ; }
      if (kind == 'X')
      {
        strerr_warnw("alias ", name, ": <", f[0], ">: ", f[5]) ;
        bad++ ;
      }
    }
  }
  stralloc_free(&res) ;
  stralloc_free(&addr) ;
  return bad ;
}

void newaliases (void)
{
  local_resolver r = LOCAL_RESOLVER_ZERO ;
  unsigned int count ;
  int bad, t ;
  char fmt[UINT_FMT] ;
  if (chdir(postie_home()) < 0) strerr_diefusys(EX_CONFIG, "enter the instance directory ", postie_home()) ;
  if (local_resolve_init(&r) < 0) strerr_diefusys(EX_CONFIG, "read ", r.errfile && *r.errfile ? r.errfile : "control/locals, virtualdomains, aliases, extsep or me") ;
  bad = check(&r, &count) ;
  fmt[uint_fmt(fmt, count)] = 0 ;
  out("newaliases: postie reads control/aliases as it is (no database to rebuild): ") ;
  out(fmt) ; out(count == 1 ? " alias" : " aliases") ;
  if (bad < 0)
  {
    int e = errno ;
    out(", not checked: unable to read ") ; out(r.errfile && *r.errfile ? r.errfile : "the users database") ;
    out(" (") ; out(strerror(e)) ; out(")") ;
  }
  else if (bad) out(", some with targets nobody receives (above)") ;
  else out(", every one reaches someone") ;
  out("\n") ;
  t = queue_trigger("queue/trigger", QUEUE_TRIGGER_RELOAD) ;
  if (t > 0) out("newaliases: postie-send reads the control files again now; postie-smtpd reads them at each session\n") ;
  else if (!t) out("newaliases: postie-send is not running: it reads the control files when it starts; postie-smtpd reads them at each session\n") ;
  else out("newaliases: unable to tell postie-send (only root or the instance's owner may): run s6-svc -h on the send service so that it reads control/aliases now; postie-smtpd reads it at each session\n") ;
  if (!buffer_flush(buffer_1)) strerr_diefusys(EX_IOERR, "write to stdout") ;
  local_resolve_free(&r) ;
  _exit(bad > 0 ? EX_DATAERR : t < 0 ? EX_NOPERM : 0) ;
}
