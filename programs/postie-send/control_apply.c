/* control_apply.c: carrying out postie-qctl's requests (doc/queue-ctl.md). */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>  /* rename */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/alloc.h>
#include <skalibs/djbunix.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "queue.h"
#include "fsync_dir.h"
#include "send.h"

/* No delivery of a is started any more in this pass; those running go
   on to their end. */
static void stop_starting (active *a)
{
  uint32_t i ;
  int k ;
  for (i = 0 ; i < a->n ; i++)
    if (a->r[i].state == 'P' && a->r[i].pass == 0 && a->r[i].kind != 'X') a->r[i].pass = 2 ;
  for (k = 0 ; k < 2 ; k++)
    if (a->unstarted[k])
    {
      unstarted_total[k] -= a->unstarted[k] ;
      a->unstarted[k] = 0 ;
      tostart_remove(k, a) ;
    }
}

/* Deletes that wait for a message's deliveries in flight: the request's
   name, and the message. */
typedef struct ctlwait_s ctlwait ;
struct ctlwait_s
{
  char name[CTL_NAME_MAX + 1] ;
  queue_id id ;
} ;
static ctlwait *ctlw = 0 ;
static size_t nctlw = 0, ctlwcap = 0 ;

static int ctl_waiting (char const *name)
{
  size_t i ;
  for (i = 0 ; i < nctlw ; i++) if (!strcmp(ctlw[i].name, name)) return 1 ;
  return 0 ;
}

/* The message's files, the message first and the info file last (as at
   the end of a message: a crash in between leaves an info file without
   its message, which the next activation removes), no DSN. */
static int delete_files (queue_id const *q, char const *id)
{
  static char const *const dirs[] = { "mess", "bounce", "defer", "hold", "info" } ;
  char path[QUEUE_PATH_MAX] ;
  unsigned int d ;
  for (d = 0 ; d < 5 ; d++)
  {
    queue_path(path, dirs[d], q) ;
    if (unlink(path) < 0 && errno != ENOENT)
    {
      LOG("warning: ", id, ": unable to delete ", path, ": ", strerror(errno)) ;
      return 0 ;
    }
  }
  if (fsync_parent(path) < 0) LOG("warning: ", id, ": unable to sync the directory of ", path, ": ", strerror(errno)) ;
  LOG("end msg ", id, " (deleted by postie-qctl)") ;
  return 1 ;
}

/* Called first thing at the end of a's pass: the deletes that waited for
   it. 1 when a was deleted (and freed). */
int ctl_pass_end (active *a)
{
  size_t i = 0 ;
  int deleted = 0 ;
  while (i < nctlw)
  {
    if (!queue_id_eq(&ctlw[i].id, &a->id)) { i++ ; continue ; }
    if (ctl_claim(ctlw[i].name))
    {
      if (deleted || delete_files(&a->id, a->idstr))
      {
        deleted = 1 ;
        ctl_reply(ctlw[i].name, 1, "deleted, after the deliveries that were in flight") ;
      }
      else ctl_reply(ctlw[i].name, 0, "unable to delete it (see postie-send's log)") ;
    }
    else LOG("delete ", a->idstr, ": withdrawn by postie-qctl") ;
    ctlw[i] = ctlw[--nctlw] ;
  }
  if (deleted) active_free(a) ;
  return deleted ;
}

static void ctl_hold (ctlreq const *c, queue_id const *q, active *a, int held)
{
  (void)q ;
  if (held) { ctl_reply(c->name, 1, "already held") ; return ; }
  if (hold_set(c->id) < 0)
  {
    LOG("warning: ", c->id, ": unable to hold it: ", strerror(errno)) ;
    ctl_reply(c->name, 0, "unable to create its hold mark (see postie-send's log)") ;
    return ;
  }
  LOG("hold ", c->id, " by postie-qctl") ;
  if (a)
  {
    stop_starting(a) ;
    ctl_reply(c->name, 1, a->running ? "held; the deliveries in flight go on to their end" : "held") ;
    if (pass_done(a)) pass_end(a) ;
    return ;
  }
  ctl_reply(c->name, 1, "held") ;
}

static void ctl_release (ctlreq const *c, queue_id const *q, active *a, int held)
{
  if (!held) { ctl_reply(c->name, 0, "not held") ; return ; }
  if (hold_clear(c->id) < 0)
  {
    LOG("warning: ", c->id, ": unable to release it: ", strerror(errno)) ;
    ctl_reply(c->name, 0, "unable to remove its hold mark (see postie-send's log)") ;
    return ;
  }
  LOG("release ", c->id, " by postie-qctl") ;
  if (a) { ctl_reply(c->name, 1, "released; its deliveries in flight end first, then it is retried on its schedule (postie-qctl retry ID: now)") ; return ; }
  dest_force(q) ;
  due_now(q) ;
  ctl_reply(c->name, 1, "released, delivery now") ;
}

static void ctl_retry (ctlreq const *c, queue_id const *q, active *a, int held)
{
  if (held) { ctl_reply(c->name, 0, "held: release it (postie-qctl release ID), which retries it") ; return ; }
  LOG("retry ", c->id, " now by postie-qctl") ;
  if (a) { ctl_reply(c->name, 1, "being delivered now") ; return ; }
  dest_force(q) ;
  due_now(q) ;
  ctl_reply(c->name, 1, "retrying now") ;
}

static void ctl_delete (ctlreq const *c, queue_id const *q, active *a, int held)
{
  (void)held ;
  if (a)
  {
    /* never behind a delivery's back: it waits for the pass to end;
       the request goes back to NAME.req, so that postie-qctl may
       withdraw it meanwhile and a restart finds it */
    char from[32 + CTL_NAME_MAX], to[32 + CTL_NAME_MAX] ;
    memcpy(from, "queue/ctl/", 10) ; memcpy(from + 10, c->name, strlen(c->name)) ; memcpy(from + 10 + strlen(c->name), ".run", 5) ;
    memcpy(to, from, 10 + strlen(c->name)) ; memcpy(to + 10 + strlen(c->name), ".req", 5) ;
    if (rename(from, to) < 0) { ctl_reply(c->name, 0, "unable to keep the request while the deliveries run") ; return ; }
    if (nctlw == ctlwcap)
    {
      size_t nc = ctlwcap ? 2 * ctlwcap : 8 ;
      ctlwait *p = realloc(ctlw, nc * sizeof(ctlwait)) ;
      if (!p) die_nomem() ;
      ctlw = p ; ctlwcap = nc ;
    }
    memcpy(ctlw[nctlw].name, c->name, strlen(c->name) + 1) ;
    ctlw[nctlw++].id = *q ;
    LOG("delete ", c->id, " by postie-qctl: after the deliveries in flight") ;
    stop_starting(a) ;
    if (pass_done(a)) pass_end(a) ;
    return ;
  }
  if (delete_files(q, c->id)) ctl_reply(c->name, 1, "deleted") ;
  else ctl_reply(c->name, 0, "unable to delete it (see postie-send's log)") ;
}

void ctl_apply (ctlreq const *c)
{
  char path[QUEUE_PATH_MAX] ;
  queue_id q ;
  active *a ;
  int held ;
  if (ctl_waiting(c->name)) return ;  /* a delete waiting for its deliveries */
  if (!c->claimed && !ctl_claim(c->name)) return ;  /* withdrawn */
  if (!queue_id_scan(c->id, &q)) { ctl_reply(c->name, 0, "not a queue id") ; return ; }
  queue_path(path, "info", &q) ;
  if (pickup_busy(&q) || access(path, F_OK) < 0)
  {
    queue_path(path, "todo", &q) ;
    if (pickup_busy(&q) || access(path, F_OK) == 0) ctl_reply(c->name, 0, "not picked up yet: try again in a moment") ;
    else ctl_reply(c->name, 0, "no such message in the queue") ;
    return ;
  }
  a = active_find(&q) ;
  held = hold_is(c->id) ;
  if (!strcmp(c->cmd, "hold")) ctl_hold(c, &q, a, held) ;
  else if (!strcmp(c->cmd, "release")) ctl_release(c, &q, a, held) ;
  else if (!strcmp(c->cmd, "retry")) ctl_retry(c, &q, a, held) ;
  else if (!strcmp(c->cmd, "delete")) ctl_delete(c, &q, a, held) ;
  else ctl_reply(c->name, 0, "unknown command: not delete, hold, release or retry") ;
}
