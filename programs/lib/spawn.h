/* spawn.h: the protocol between postie-send and its delivery spawners
   (postie-lspawn, postie-rspawn), and the spawners' shared event loop.
   Format: doc/spawn-protocol.md.

   Every record either way is a netstring "LEN:PAYLOAD," whose payload is
   a sequence of NUL-terminated fields. A request's first field is the
   delivery number (decimal), the second the message file (relative to the
   instance), then the spawner's own fields. A report's first field is the
   delivery number, then one result line per recipient of the request,
   each a kind byte K, D or Z (accepted, permanent failure, temporary
   failure) followed by its text. */
#ifndef SPAWN_H
#define SPAWN_H

#include <stddef.h>
#include <sys/types.h>
#include <skalibs/stralloc.h>

#define SPAWN_RECORD_MAX (16 << 20)   /* largest request or report */
#define SPAWN_FIELDS_MAX 10000        /* most fields in a request */
#define SPAWN_LINE_MAX 1000           /* a result line is cut there */

/* Appends the netstring of n fields to out. 1 ok, 0 out of memory. */
extern int spawn_put (stralloc *out, char const *const *fields, unsigned int n) ;

/* Looks for one complete netstring at the start of buf (len bytes).
   Returns its total length and sets *start, *plen to its payload; 0 when
   incomplete; -1 when malformed or larger than max. */
extern ssize_t spawn_get (char const *buf, size_t len, size_t max, size_t *start, size_t *plen) ;

/* Splits a payload into at most max NUL-terminated fields. Returns their
   number, or -1 if the payload does not end with a NUL or has too many. */
extern int spawn_split (char const *p, size_t len, char const **fields, unsigned int max) ;

/* Appends one result line (kind K/D/Z, then text cleaned: control
   characters become '?', at most SPAWN_LINE_MAX bytes) and its NUL. */
extern int spawn_result (stralloc *out, char kind, char const *text, size_t len) ;

/* What a request's child is to do, decided in the spawner (the parent)
   by its plan() before the child exists: the child is a vfork child and
   may only make async-signal-safe system calls, so everything that
   allocates or parses (the users database, argv) happens in plan(). The
   child, in this order: own process group, stdout on the output pipe,
   the message file on fd 0 (the checks of doc/spawn-protocol.md); then
   if fail is set, writes it and _exits failcode; else switches to
   uid/gid (setids), enters dir, and execs argv (argv[0] looked up in
   PATH as execvp does). A failure of these writes its text and exits
   111. Every string and array must stay valid until plan()'s next call. */
typedef struct spawn_plan_s spawn_plan ;
struct spawn_plan_s
{
  char const *fail ;        /* written as is ("" is allowed) */
  int failcode ;
  int setids ;              /* setgroups(gid), setresgid, setresuid; then neither real nor effective uid may be 0 */
  uid_t uid ;
  gid_t gid ;
  char const *dir ;         /* or 0 */
  char const *direrr ;      /* "TEXT: strerror\n" when chdir fails */
  char const *const *argv ;
  char const *execerr ;     /* when the exec fails: */
  int execerrno ;           /* 1: "TEXT: strerror\n"; 0: TEXT as is */
} ;

/* The spawner's loop: reads requests on fd 0, runs one child per request
   (up to maxchildren at once, more wait), reports on fd 1, exits 0 when
   fd 0 ends and every child has been reported.
   plan(): runs in the spawner for each request (p zeroed), fields are
   the request's fields after the message file; fills p (see above).
   report(): appends to out the result lines for a finished child, from
   what it wrote on its stdout and its wait status.
   outmax(): how many bytes of a child's output to keep.
   timeout: seconds a child may run (0: no limit); then it and its process
   group are killed and the result is a temporary failure. */
typedef struct spawn_ops_s spawn_ops ;
struct spawn_ops_s
{
  void (*plan) (spawn_plan *p, char const *const *fields, unsigned int n) ;
  int (*report) (stralloc *out, char const *const *fields, unsigned int n, char const *output, size_t outlen, int wstat) ;
  size_t (*outmax) (unsigned int n) ;
} ;
extern void spawn_loop (spawn_ops const *ops, unsigned int maxchildren, unsigned int timeout) ;

#endif
