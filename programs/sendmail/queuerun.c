/* queuerun.c: sendmail -q. postie-send runs the queue on its own; -q
   makes every deferred message due now, as s6-svc -a (SIGALRM) does,
   through the trigger (doc/queue.md), which the queue group and the
   instance's owner may write. */
#include <errno.h>
#include <sysexits.h>
#include <unistd.h>
#include <skalibs/buffer.h>
#include <skalibs/strerr.h>
#include "postie.h"
#include "queue.h"
#include "sendmail.h"

void queuerun (void)
{
  int r ;
  if (chdir(postie_home()) < 0) strerr_diefusys(EX_CONFIG, "enter the instance directory ", postie_home()) ;
  r = queue_trigger("queue/trigger", QUEUE_TRIGGER_RETRY) ;
  if (r < 0)
  {
    if (errno == EACCES || errno == EPERM)
      strerr_dief(EX_NOPERM, "-q: only root or the instance's owner may write ", postie_home(), "/queue/trigger: run sendmail -q as root, or s6-svc -a on the send service (postie-send retries on its own schedule anyway)") ;
    strerr_diefusys(EX_OSERR, "open ", postie_home(), "/queue/trigger") ;
  }
  if (!r) strerr_dief(EX_TEMPFAIL, "-q: postie-send is not running (or is busy): it retries every message when it starts") ;
  buffer_putsflush(buffer_1, "sendmail: postie-send retries every deferred message now\n") ;
  _exit(0) ;
}
