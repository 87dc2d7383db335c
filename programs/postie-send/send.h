/* send.h: what postie-send's files share. */
#ifndef SEND_H
#define SEND_H

#include <stdint.h>
#include <skalibs/stralloc.h>
#include <sys/types.h>
#include "queue.h"
#include "local_resolve.h"

#define CONC_MAX 1000  /* the largest concurrency: delivery slots per spawner */
#define PICKUP_CAP 1024  /* the largest control/pickupmax */

/* ---------- postie-send.c: the scheduler ---------- */

extern void die_nomem (void) ;
extern int64_t now (void) ;
extern int stopping ;  /* SIGTERM: no new work, the running deliveries end */

/* One log line on stderr: "postie-send: " then the pieces. */
extern void logv (char const *const *s, unsigned int n) ;
#define LOG(...) logv(((char const *const[]){__VA_ARGS__}), sizeof((char const *const[]){__VA_ARGS__}) / sizeof(char const *))

/* The envelope sender of a double bounce (a DSN about a null-sender
   message): it is never bounced, never dropped. */
#define DOUBLEBOUNCE_SENDER "#@[]"

/* Settings read from control/ (at start-up and on SIGHUP). */
typedef struct send_settings_s send_settings ;
struct send_settings_s
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
extern send_settings settings ;

/* ---------- settings.c ---------- */

extern local_resolver resolver ;
/* Reads control/: 1, or 0 (warned) when a file could not be read. */
extern int settings_read (void) ;
/* SIGHUP, or the trigger's QUEUE_TRIGGER_RELOAD (newaliases). */
extern void settings_reload (void) ;

/* ---------- messages being worked on (activate.c) ---------- */

typedef struct rcpt_s rcpt ;
struct rcpt_s
{
  uint32_t off ;     /* offset of the state byte in the info file */
  uint32_t addr, orig, user, local, ext, domain, reason ;  /* into text */
  char kind ;        /* L R X */
  char state ;       /* P D F */
  char pass ;        /* 0 to start, 1 running, 2 finished this pass */
} ;

typedef struct active_s active ;
struct active_s
{
  active *prev, *next ;
  queue_id id ;
  char idstr[QUEUE_ID_MAX] ;
  char mess[QUEUE_PATH_MAX] ;
  int fd ;
  stralloc text ;
  uint32_t sender ;
  uint64_t msglen ;
  rcpt *r ;
  uint32_t n ;
  uint32_t running ;
  uint32_t unstarted[2] ;   /* local, remote */
  active *wprev[2], *wnext[2] ;  /* in tostart[k] while unstarted[k] */
  uint32_t cur[2] ;
  int hasbounce ;
  int tried ;         /* a remote delivery of this pass deferred someone */
  int64_t skipwait ;  /* recipients held for a dead destination: its next retry (0: none) */
  uint32_t syncing ;  /* fdatasync jobs of marks not yet completed */
  stralloc defer ;   /* this pass's deferrals: ADDR\tTEXT\n (queue/defer/) */
} ;

extern active *active_head, *active_tail ;
extern unsigned int nactive ;
extern uint32_t unstarted_total[2] ;
extern active *tostart[2], *tostart_tail[2] ;
extern void tostart_add (int k, active *a) ;
extern void tostart_remove (int k, active *a) ;
/* Reads the message's info file and starts its pass (or ends it at once). */
extern void activate (queue_id const *q) ;
extern active *active_find (queue_id const *q) ;
extern void active_free (active *a) ;
extern int pass_done (active const *a) ;
/* The pass is over: the message is finished, bounced, or rescheduled. */
extern void pass_end (active *a) ;
extern int is_doublebounce (active const *a) ;

/* ---------- schedule.c ---------- */

/* The next retry time of a message deferred at t. */
extern int64_t next_retry (active const *a, int64_t t) ;
extern void heap_push (int64_t next, queue_id const *q) ;
/* The earliest retry time in the heap: 1 and *next, or 0 if empty. */
extern int heap_top (int64_t *next) ;
extern void heap_pop (queue_id *q) ;
extern size_t heap_len (void) ;
extern void newq_push (queue_id const *q) ;
/* The oldest new message: 1 (removed into *q), or 0 if there is none. */
extern int newq_pop (queue_id *q) ;
extern int newq_empty (void) ;
/* Due now (not for an active message): moved to the heap's top. */
extern void due_now (queue_id const *q) ;
/* SIGALRM (s6-svc -a), or the trigger's QUEUE_TRIGGER_RETRY (sendmail -q). */
extern void retry_all (void) ;

/* ---------- housekeeping.c ---------- */

extern void mkdirs (void) ;
extern void clean_tmp (void) ;
extern void clean_work (void) ;
extern void scan_info (void) ;

/* ---------- syncjobs.c ---------- */

enum { JOB_FREE, JOB_PICKUP, JOB_DIRSYNC, JOB_MARK } ;
/* Hands an fsync (fdatasync if data) of fd to the threads; its
   completion calls pickup_step(p), pickup_dirsync_done(p) or
   mark_done(p, k, slot). */
extern void sync_submit (unsigned char kind, void *p, int fd, int data, int k, unsigned int slot) ;
extern void sync_completions (void) ;
/* Hands the jobs submitted since the last call to the threads, together:
   called before the loop waits. */
extern void sync_kick (void) ;
extern unsigned int sync_jobs (void) ;  /* in flight */

/* ---------- pickup.c ---------- */

extern unsigned int npickups ;
extern uint64_t rescan ;
extern void pickup_step (void *p, int err) ;
extern void pickup_dirsync_done (void *p, int err) ;
/* Starts the shared directory fsyncs the pickups wait for. */
extern void pickup_dirsync_flush (void) ;
extern int pickup_busy (queue_id const *q) ;
extern void scan_todo (int addnew) ;
extern void scan_todo_bucket (unsigned int b, int addnew) ;
extern void rescan_todo (void) ;
/* local_resolve's lines for orig as pending info lines: how many, -1 nomem. */
extern int info_lines (stralloc *out, stralloc const *res, char const *orig) ;

/* ---------- trigger.c ---------- */

extern void trigger_read (int trig, int scan) ;

/* ---------- marks.c ---------- */

/* The text at offset off of a's info file. */
extern char const *info_str (active const *a, uint32_t off) ;
extern int info_mark (active *a, rcpt *r, char state) ;
extern void info_sync (active *a, int k, unsigned int slot) ;
extern void mark_done (void *p, int k, unsigned int slot, int err) ;

/* ---------- records.c ---------- */

extern void status_of (char const *text, char cls, char *st) ;
extern void bounce_add (active *a, rcpt const *r, char const *status, char const *dtype, char const *text, char const *prefix) ;
extern int bounce_sync (active *a) ;
/* One deferral reason for postie-qread: ADDR TAB PREFIX TEXT (at most
   max bytes of TEXT, control characters made '?'). */
extern void defer_add (active *a, char const *addr, char const *prefix, char const *text, size_t max) ;
extern void defer_write (active *a) ;

/* ---------- destinations.c ---------- */

extern int same_domain (char const *a, char const *b) ;
extern void dest_down (char const *domain, char const *text, int64_t t) ;
extern void dest_up (char const *domain) ;
extern void dest_clear (void) ;
extern void dest_force (queue_id const *q) ;
extern int dest_hold (active *a) ;

/* ---------- deliveries.c and spawners.c ---------- */

typedef struct delivery_s delivery ;
struct delivery_s
{
  active *a ;
  uint32_t *rc ;
  uint32_t nrc, cap ;
  int used ;
  int marking ;  /* reported; its marks' fdatasync not yet completed */
} ;

typedef struct spawner_s spawner ;
struct spawner_s
{
  char const *prog ;
  char kindch ;
  pid_t pid ;
  int to, from ;
  stralloc w ;
  size_t wpos ;
  stralloc r ;
  unsigned int running ;
  delivery d[CONC_MAX] ;
} ;

extern spawner spawners[2] ;
extern unsigned long concurrency (int k) ;
extern void start (int k, active *a) ;
extern void result (int k, unsigned int slot, char const *const *lines, unsigned int nlines) ;
extern void slot_release (int k, unsigned int slot) ;
extern void spawner_start (int k) ;
extern void spawner_write (int k) ;
extern void spawner_read (int k) ;
extern void spawners_finish (int sfd) ;

/* ---------- privileges.c ---------- */

extern int ids_get (char const *uvar, char const *gvar, uid_t *u, gid_t *g) ;
extern void become (uid_t u, gid_t g, char const *listvar) ;


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

/* ---------- control_apply.c ---------- */

/* Carries out one request (ctl_scan's apply). */
extern void ctl_apply (ctlreq const *c) ;
/* Called first at the end of a's pass: 1 when a deleted (and freed) it. */
extern int ctl_pass_end (active *a) ;

#endif
