/* queue_info.h: postie-send's per-message info files (queue/info/B/ID,
   format in doc/queue.md): the one writer (postie-send) and the one
   parser (postie-send, and the queue readers postie-qstat and
   postie-qread, which never lock or write). */
#ifndef QUEUE_INFO_H
#define QUEUE_INFO_H

#include <stdint.h>
#include <stddef.h>
#include <skalibs/stralloc.h>

#define QUEUE_INFO_MAGIC "postie-info-1\n"
/* The largest info file a reader loads. */
#define QUEUE_INFO_MAX (256UL << 20)

/* ---------- writing ---------- */

/* Appends the head of an info file: the magic, the message's length,
   the envelope sender's line (senderlen bytes, no newline or tab).
   Return 1, or 0 out of memory. */
extern int queue_info_head (stralloc *out, uint64_t msglen, char const *sender, size_t senderlen) ;

/* Appends one recipient line: state, kind, a tab, then ADDR ORIG and the
   five fields f (USER LOCAL EXT DOMAIN REASON), tab-separated. */
extern int queue_info_line (stralloc *out, char state, char kind, char const *addr, char const *orig, char const *const *f) ;

/* ---------- reading ---------- */

typedef struct queue_info_s queue_info ;
struct queue_info_s
{
  uint64_t msglen ;
  char const *sender ;   /* into the stralloc given to queue_info_load */
  size_t first ;         /* offset of the first recipient line */
  size_t nrcpt ;         /* how many recipient lines */
  int64_t mtime ;        /* the next retry time */
} ;

/* The fields of one recipient line, as offsets into the parsed file. */
enum { QI_ADDR, QI_ORIG, QI_USER, QI_LOCAL, QI_EXT, QI_DOMAIN, QI_REASON, QI_FIELDS } ;
typedef struct queue_info_rcpt_s queue_info_rcpt ;
struct queue_info_rcpt_s
{
  size_t off ;   /* the state byte: postie-send rewrites it in place */
  char state ;   /* 'P' pending, 'D' delivered, 'F' failed */
  char kind ;    /* 'L' local, 'R' remote, 'X' unknown local user */
  size_t field[QI_FIELDS] ;
} ;

/* Reads and checks path into sa (tabs and newlines become NULs).
   Returns 1, 0 if the file is gone (finished meanwhile), -1 on error
   (errno; EINVAL for a malformed file). */
extern int queue_info_load (char const *path, stralloc *sa, queue_info *qi) ;

/* The checks and the split of queue_info_load, on the file's contents
   in sa (sa->len bytes, room for one more). Every recipient line is
   checked (a state, a kind, seven fields). Returns 1 (qi filled but for
   mtime), or 0 when sa is not an info file. */
extern int queue_info_parse (stralloc *sa, queue_info *qi) ;

/* The recipient line at *pos of a parsed file into *r. Returns 1 and
   advances *pos, or 0 at the end. */
extern int queue_info_rcpt_next (stralloc const *sa, size_t *pos, queue_info_rcpt *r) ;

/* The same, for readers that want the state, kind and final address. */
extern int queue_info_next (stralloc const *sa, size_t *pos, char *state, char *kind, char const **addr) ;

#endif
