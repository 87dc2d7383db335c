/* queue.h: the queue's on-disk contract (doc/queue.md), shared by
   postie-queue, which writes new messages, and the programs that read them. */
#ifndef QUEUE_H
#define QUEUE_H

#include <stdint.h>
#include <stddef.h>

/* Directories under queue/ are split into QUEUE_SPLIT buckets named
   0 .. QUEUE_SPLIT-1; a message's bucket is its inode number modulo this. */
#define QUEUE_SPLIT 64

/* A new queue file (queue/todo/<bucket>/<id>) is the message, then the
   envelope exactly as postie-queue received it (F..\0 T..\0 ... \0), then a
   trailer of QUEUE_TRAILER_LEN bytes: "postie-queue-1 " + 16 lowercase hex
   digits of the message's length + "\n". */
#define QUEUE_TRAILER_MAGIC "postie-queue-1 "
#define QUEUE_TRAILER_LEN 32

/* Longest queue id: 20 digits . 6 digits . 20 digits, plus NUL. */
#define QUEUE_ID_MAX 50

/* Longest address in an envelope, without its F/T and NUL. */
#define QUEUE_ADDR_MAX 1000

/* postie-queue's exit codes: qmail-queue's. */
#define QQ_OK 0
#define QQ_ADDR_TOO_LONG 11
#define QQ_PERM_REFUSED 31  /* also: message larger than control/databytes */
#define QQ_NOMEM 51
#define QQ_TIMEOUT 52
#define QQ_WRITE 53
#define QQ_READ 54
#define QQ_CONFIG 55
#define QQ_HOME 61
#define QQ_QUEUEDIR 62
#define QQ_PIDDIR 63
#define QQ_TRIGGER 64
#define QQ_TEMP_REFUSED 71
#define QQ_BUG 81
#define QQ_ENVELOPE 91

/* Bytes written to queue/trigger (doc/queue.md, "The trigger"):
   0x80 + B: a new message in queue/todo/B; QUEUE_TRIGGER_CTL: requests
   wait in queue/ctl (postie-qctl); QUEUE_TRIGGER_RETRY: every deferred
   message is due now (sendmail -q, as SIGALRM); QUEUE_TRIGGER_RELOAD:
   read the control files again (newaliases, as SIGHUP). Any other byte:
   read every bucket of queue/todo. */
#define QUEUE_TRIGGER_CTL 0x01
#define QUEUE_TRIGGER_RETRY 0x02
#define QUEUE_TRIGGER_RELOAD 0x03

/* Writes byte to the trigger at path (non-blocking). Returns 1 when it
   was written, 0 when nobody listens (no postie-send: ENXIO) or the pipe
   is full (postie-send then reads every bucket anyway), -1 with errno
   set when the trigger cannot be opened (EACCES: not the queue group). */
extern int queue_trigger (char const *path, unsigned char byte) ;

extern void queue_trailer_fmt (char *s, uint64_t msglen) ;
/* Returns 1 and sets *msglen if s (QUEUE_TRAILER_LEN bytes) is a trailer. */
extern int queue_trailer_scan (char const *s, uint64_t *msglen) ;
/* The bucket of a queue id (its last dot-separated field is the inode). */
extern unsigned int queue_bucket (char const *id) ;
/* Formats the id for a file with inode ino created at time sec.usec into s
   (QUEUE_ID_MAX bytes); returns its length. */
extern size_t queue_id_fmt (char *s, uint64_t sec, uint32_t usec, uint64_t ino) ;

/* A queue id, parsed: SEC.USEC.INO (doc/queue.md). */
typedef struct queue_id_s queue_id ;
struct queue_id_s
{
  uint64_t sec ;
  uint64_t ino ;
  uint32_t usec ;
} ;

/* Room for "queue/DIR/B/ID" (DIR at most 16 bytes) and its NUL. */
#define QUEUE_PATH_MAX (32 + QUEUE_ID_MAX)

/* Only names postie-queue makes are queue ids: 1 if s is one (parsed
   into *q, and formatting *q gives s back), 0 if not. */
extern int queue_id_scan (char const *s, queue_id *q) ;
extern int queue_id_eq (queue_id const *a, queue_id const *b) ;
extern unsigned int queue_id_bucket (queue_id const *q) ;
/* "queue/DIR/B/ID" into path (QUEUE_PATH_MAX bytes). */
extern void queue_path (char *path, char const *dir, queue_id const *q) ;
/* "queue/DIR/B" into path (QUEUE_PATH_MAX bytes). */
extern void queue_dir (char *path, char const *dir, unsigned int bucket) ;
/* A short text for a qmail-queue exit code, for log lines and replies. */
extern char const *queue_exit_str (int code) ;
/* 1 if a qmail-queue exit code is a permanent failure (11-40: the
   message will never be queued as it is), 0 if not (0, or temporary:
   try again). doc/postie-queue.md's rule, for every caller's reply. */
extern int queue_exit_permanent (int code) ;

#endif
