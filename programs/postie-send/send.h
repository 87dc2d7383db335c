/* send.h: what postie-send's files share. */
#ifndef SEND_H
#define SEND_H

#include <stdint.h>
#include <skalibs/stralloc.h>
#include "queue.h"

/* One log line on stderr: "postie-send: " then the pieces. */
extern void logv (char const *const *s, unsigned int n) ;
#define LOG(...) logv(((char const *const[]){__VA_ARGS__}), sizeof((char const *const[]){__VA_ARGS__}) / sizeof(char const *))

/* Settings read from control/ (at start-up and on SIGHUP). */
typedef struct settings_s settings ;
struct settings_s
{
  unsigned long conclocal, concremote ;
  unsigned long lifetime, retrymin, retrymax ;
  unsigned long tmpstale, scaninterval, termwait ;
  unsigned long remotercptmax, bounceheaderbytes ;
  unsigned long activemax, timeoutlocal, timeoutremote ;
  stralloc me ;
  stralloc doublebounceto ;
  unsigned long spawnwait ;  /* last: objects built before it stay compatible */
  unsigned long syncthreads ;
  unsigned long pickupmax ;  /* pickups waiting on their fsyncs at once */
  unsigned long bouncemessagebytes ;  /* a DSN returns the whole message up to this */
} ;
extern settings set ;

/* Writes and injects the DSN for message id (its bounce file), whose
   envelope sender is sender. Returns 0 when injected (or deliberately
   dropped), -1 on a temporary failure (logged). */
extern int bounce_send (char const *id, unsigned int bucket, char const *sender, int64_t birth) ;

/* postie-qctl's requests (control.c, doc/queue-ctl.md): queue/ctl/NAME.req
   holds "COMMAND ID\n"; postie-send claims it (renamed NAME.run), carries
   it out and answers in NAME.re ("ok TEXT" or "error TEXT"). */
#define CTL_NAME_MAX 20
#define CTL_REQ_MAX 128
typedef struct ctlreq_s ctlreq ;
struct ctlreq_s
{
  char name[CTL_NAME_MAX + 1] ;
  char cmd[16] ;
  char id[QUEUE_ID_MAX] ;
  int claimed ;  /* NAME.run, not NAME.req */
} ;
/* Calls apply for each request waiting in queue/ctl. */
extern void ctl_scan (void (*apply) (ctlreq const *)) ;
/* NAME.req to NAME.run: 1 when ours, 0 when withdrawn by postie-qctl. */
extern int ctl_claim (char const *name) ;
/* Writes NAME.re, removes NAME.run. */
extern void ctl_reply (char const *name, int ok, char const *text) ;
/* The hold marks, queue/hold/B/ID: 1 held, 0 not; set and clear return
   0 or -1 (errno set). */
extern int hold_is (char const *id) ;
extern int hold_set (char const *id) ;
extern int hold_clear (char const *id) ;

#endif
