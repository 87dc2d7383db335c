/* queue_format.c: queue ids, queue paths and the queue file trailer
   (doc/queue.md). */
#include <string.h>
#include <skalibs/types.h>
#include "queue.h"

void queue_trailer_fmt (char *s, uint64_t msglen)
{
  static char const hex[] = "0123456789abcdef" ;
  size_t i = 16 ;
  memcpy(s, QUEUE_TRAILER_MAGIC, 15) ;
  while (i--) { s[15 + i] = hex[msglen & 15] ; msglen >>= 4 ; }
  s[31] = '\n' ;
}

int queue_trailer_scan (char const *s, uint64_t *msglen)
{
  uint64_t v = 0 ;
  size_t i ;
  if (memcmp(s, QUEUE_TRAILER_MAGIC, 15) || s[31] != '\n') return 0 ;
  for (i = 15 ; i < 31 ; i++)
  {
    char c = s[i] ;
    if (c >= '0' && c <= '9') v = (v << 4) | (uint64_t)(c - '0') ;
    else if (c >= 'a' && c <= 'f') v = (v << 4) | (uint64_t)(c - 'a' + 10) ;
    else return 0 ;
  }
  *msglen = v ;
  return 1 ;
}

unsigned int queue_bucket (char const *id)
{
  char const *p = strrchr(id, '.') ;
  uint64_t ino = 0 ;
  p = p ? p + 1 : id ;
  uint64_scan(p, &ino) ;
  return (unsigned int)(ino % QUEUE_SPLIT) ;
}

size_t queue_id_fmt (char *s, uint64_t sec, uint32_t usec, uint64_t ino)
{
  size_t n = uint64_fmt(s, sec) ;
  s[n++] = '.' ;
  s[n++] = '0' + usec / 100000 % 10 ;
  s[n++] = '0' + usec / 10000 % 10 ;
  s[n++] = '0' + usec / 1000 % 10 ;
  s[n++] = '0' + usec / 100 % 10 ;
  s[n++] = '0' + usec / 10 % 10 ;
  s[n++] = '0' + usec % 10 ;
  s[n++] = '.' ;
  n += uint64_fmt(s + n, ino) ;
  s[n] = 0 ;
  return n ;
}

int queue_id_scan (char const *s, queue_id *q)
{
  char buf[QUEUE_ID_MAX] ;
  size_t n = uint64_scan(s, &q->sec), m ;
  uint32_t u = 0 ;
  unsigned int i ;
  if (!n || s[n] != '.') return 0 ;
  for (i = 1 ; i <= 6 ; i++)
  {
    if (s[n + i] < '0' || s[n + i] > '9') return 0 ;
    u = u * 10 + (uint32_t)(s[n + i] - '0') ;
  }
  q->usec = u ;
  if (s[n + 7] != '.') return 0 ;
  m = uint64_scan(s + n + 8, &q->ino) ;
  if (!m || s[n + 8 + m]) return 0 ;
  queue_id_fmt(buf, q->sec, q->usec, q->ino) ;
  return !strcmp(buf, s) ;
}

int queue_id_eq (queue_id const *a, queue_id const *b)
{
  return a->sec == b->sec && a->usec == b->usec && a->ino == b->ino ;
}

unsigned int queue_id_bucket (queue_id const *q)
{
  return (unsigned int)(q->ino % QUEUE_SPLIT) ;
}

void queue_dir (char *path, char const *dir, unsigned int bucket)
{
  size_t n = 6, m = strlen(dir) ;
  memcpy(path, "queue/", 6) ;
  memcpy(path + n, dir, m) ; n += m ;
  path[n++] = '/' ;
  n += uint_fmt(path + n, bucket) ;
  path[n] = 0 ;
}

void queue_path (char *path, char const *dir, queue_id const *q)
{
  size_t n ;
  queue_dir(path, dir, queue_id_bucket(q)) ;
  n = strlen(path) ;
  path[n++] = '/' ;
  queue_id_fmt(path + n, q->sec, q->usec, q->ino) ;
}

char const *queue_exit_str (int code)
{
  switch (code)
  {
    case QQ_OK : return "ok" ;
    case QQ_ADDR_TOO_LONG : return "address too long" ;
    case QQ_PERM_REFUSED : return "message refused (too large, or refused by a filter)" ;
    case QQ_NOMEM : return "out of memory" ;
    case QQ_TIMEOUT : return "timeout" ;
    case QQ_WRITE : return "unable to write to the queue (disk full?)" ;
    case QQ_READ : return "unable to read the message or envelope" ;
    case QQ_CONFIG : return "unable to read the configuration" ;
    case QQ_HOME : return "problem with the instance directory" ;
    case QQ_QUEUEDIR : return "problem with the queue directory" ;
    case QQ_PIDDIR : return "problem with the queue's tmp directory" ;
    case QQ_TRIGGER : return "problem with the queue trigger" ;
    case QQ_TEMP_REFUSED : return "message temporarily refused" ;
    case QQ_BUG : return "internal bug" ;
    case QQ_ENVELOPE : return "envelope format error" ;
    default : return queue_exit_permanent(code) ? "permanent queue failure" : "temporary queue failure" ;
  }
}

int queue_exit_permanent (int code)
{
  return code >= 11 && code <= 40 ;
}
