/* send.h: what postie-send's files share. */
#ifndef SEND_H
#define SEND_H

#include <stdint.h>
#include <skalibs/stralloc.h>
#include "queue.h"

/* One log line on stderr: "postie-send: " then the pieces. */
extern void logv (char const *const *s, unsigned int n) ;
#define LOG(...) logv(((char const *const[]){__VA_ARGS__}), sizeof((char const *const[]){__VA_ARGS__}) / sizeof(char const *))

/* The envelope sender of a double bounce (a DSN about a null-sender
   message): it is never bounced, never dropped. */
#define DOUBLEBOUNCE_SENDER "#@[]"

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
} ;
extern settings set ;

/* Writes and injects the DSN for message id (its bounce file), whose
   envelope sender is sender. Returns 0 when injected (or deliberately
   dropped), -1 on a temporary failure (logged). */
extern int bounce_send (char const *id, unsigned int bucket, char const *sender, int64_t birth) ;

#endif
