/* bounce.c: postie-send's delivery status notifications (RFC 3464),
   injected through the queue program. Format: doc/bounce.md. */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/selfpipe.h>
#include <skalibs/stralloc.h>
#include <skalibs/types.h>
#include "queue.h"
#include "postie_queue.h"
#include "rfc5322.h"
#include "send.h"

#define BOUNCE_FILE_MAX (16UL << 20)

static int readfile (stralloc *sa, char const *path, size_t max, int cut_at_header_end)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) ;
  sa->len = 0 ;
  if (fd < 0) return -1 ;
  for (;;)
  {
    ssize_t r ;
    size_t want = max - sa->len < 65536 ? max - sa->len : 65536 ;
    if (!want) break ;
    if (!stralloc_readyplus(sa, want)) { fd_close(fd) ; return -1 ; }
    r = fd_read(fd, sa->s + sa->len, want) ;
    if (r < 0) { fd_close(fd) ; return -1 ; }
    if (!r) break ;
    sa->len += (size_t)r ;
    if (cut_at_header_end)
    {
      size_t i ;
      for (i = 0 ; i + 1 < sa->len ; i++)
        if (sa->s[i] == '\n' && (sa->s[i+1] == '\n' || (sa->s[i+1] == '\r' && i + 2 < sa->len && sa->s[i+2] == '\n')))
        {
          sa->len = i + 1 ;
          fd_close(fd) ;
          return 0 ;
        }
    }
  }
  fd_close(fd) ;
  if (cut_at_header_end && sa->len == max)
  {
    /* too long a header: whole lines only */
    while (sa->len && sa->s[sa->len - 1] != '\n') sa->len-- ;
  }
  return 0 ;
}

/* A remote server's reply in postie-remote's text ("HOST [IP] said after
   RCPT: 550 5.1.1 ...", "HOST [IP] greeted with: 554 ...",
   doc/remote-results.md): the reply, for Diagnostic-Code "smtp; REPLY"
   (RFC 3464 2.3.6), and the server's name, for Remote-MTA (2.3.5).
   Returns 0 when the text is postie-remote's own reason (no reply). */
static int remote_reply (char const *s, size_t n, char const **reply, size_t *rlen, char const **mta, size_t *mlen)
{
  static char const *const marks[] = { " said after ", " greeted with: ", 0 } ;
  unsigned int k ;
  for (k = 0 ; marks[k] ; k++)
  {
    size_t ml = strlen(marks[k]), i, j, e ;
    for (i = 0 ; i + ml <= n ; i++) if (!memcmp(s + i, marks[k], ml)) break ;
    if (i + ml > n) continue ;
    j = i + ml ;
    if (k == 0)
    {
      while (j + 1 < n && !(s[j] == ':' && s[j+1] == ' ')) j++ ;
      if (j + 1 >= n) continue ;
      j += 2 ;
    }
    if (n - j < 3 || s[j] < '2' || s[j] > '5' || s[j+1] < '0' || s[j+1] > '9' || s[j+2] < '0' || s[j+2] > '9') continue ;
    *reply = s + j ; *rlen = n - j ;
    /* the label: after a "last error: " prefix (an expired message),
       its first word, a name or an [address] without its port */
    {
      size_t b = 0 ;
      static char const le[] = "last error: " ;
      for (e = 0 ; e + sizeof le - 1 <= i ; e++) if (!memcmp(s + e, le, sizeof le - 1)) b = e + sizeof le - 1 ;
      e = b ;
      while (e < i && s[e] != ' ') e++ ;
      if (e > b && s[b] == '[') { size_t c = b ; while (c < e && s[c] != ']') c++ ; if (c < e) e = c + 1 ; }
      *mta = s + b ; *mlen = e - b ;
    }
    return 1 ;
  }
  return 0 ;
}

static int cats (stralloc *sa, char const *s)
{
  return stralloc_cats(sa, s) ;
}

/* The lines of the bounce file, the last one for each address kept. */
static int wanted (stralloc const *b, size_t at)
{
  char const *addr = b->s + at ;
  size_t alen = strchr(addr, '\t') - addr ;
  size_t i = strchr(addr, '\n') - b->s + 1 ;
  while (i < b->len)
  {
    char const *s = b->s + i ;
    char const *tab = strchr(s, '\t') ;
    if (tab && (size_t)(tab - s) == alen && !memcmp(s, addr, alen)) return 0 ;
    i = strchr(s, '\n') - b->s + 1 ;
  }
  return 1 ;
}

/* The bounce record at b->s + i, if this DSN wants it, split into its four
   fields ADDR, ORIG, STATUS, DIAGNOSTIC. Returns 1, or 0 to skip it. */
static int record (stralloc const *b, size_t i, char const *f[4], size_t fl[4])
{
  size_t j = i ;
  unsigned int k ;
  if (!wanted(b, i)) return 0 ;
  for (k = 0 ; k < 4 ; k++)
  {
    size_t e = j ;
    while (b->s[e] != '\n' && (k == 3 || b->s[e] != '\t')) e++ ;
    f[k] = b->s + j ; fl[k] = e - j ;
    j = e + 1 ;
    if (b->s[e] == '\n' && k < 3) break ;
  }
  return k == 4 ;
}

/* "queue/DIR/B/ID" for the id as a string. */
static void id_path (char *path, char const *dir, unsigned int bucket, char const *id)
{
  size_t n ;
  queue_dir(path, dir, bucket) ;
  n = strlen(path) ;
  path[n++] = '/' ;
  memcpy(path + n, id, strlen(id) + 1) ;
}

/* The bounce file's whole records into b, NUL-terminated (a torn last
   line is dropped). Returns 1, 0 when there is none, -1 on a failure
   (logged). */
static int bounce_records (stralloc *b, char const *path, char const *id)
{
  if (readfile(b, path, BOUNCE_FILE_MAX, 0) < 0)
  {
    if (errno == ENOENT) return 0 ;
    LOG("warning: ", id, ": unable to read the bounce file: ", strerror(errno)) ;
    return -1 ;
  }
  if (!stralloc_0(b)) { LOG("warning: ", id, ": out of memory writing the bounce") ; return -1 ; }
  b->len-- ;
  while (b->len && b->s[b->len - 1] != '\n') b->len-- ;  /* a torn last line */
  b->s[b->len] = 0 ;
  return b->len ? 1 : 0 ;
}

/* The DSN's header and the start of its human-readable part. Returns 1,
   or 0 out of memory. */
static int bounce_head (stralloc *m, char const *id, char const *to, int doublebounce, char const *date, char const *tfmt, char const *boundary)
{
  return cats(m, "From: Mail Delivery System <MAILER-DAEMON@") && cats(m, settings.me.s) && cats(m, ">\n")
   && cats(m, "To: <") && cats(m, to) && cats(m, ">\n")
   && cats(m, doublebounce ? "Subject: Undelivered Mail: double bounce\n" : "Subject: Undelivered Mail Returned to Sender\n")
   && cats(m, "Date: ") && cats(m, date) && cats(m, "\n")
   && cats(m, "Message-ID: <") && cats(m, id) && cats(m, ".") && cats(m, tfmt) && cats(m, ".dsn@") && cats(m, settings.me.s) && cats(m, ">\n")
   && cats(m, "Auto-Submitted: auto-replied\n")
   && cats(m, "MIME-Version: 1.0\n")
   && cats(m, "Content-Type: multipart/report; report-type=delivery-status;\n\tboundary=\"") && cats(m, boundary) && cats(m, "\"\n\n")
   && cats(m, "This is a MIME-encapsulated message.\n\n--") && cats(m, boundary) && cats(m, "\n")
   && cats(m, "Content-Description: Notification\nContent-Type: text/plain; charset=us-ascii\n\n")
   && cats(m, "This is the mail system at ") && cats(m, settings.me.s) && cats(m, ".\n\n")
   && cats(m, doublebounce ? "A delivery status notification could not be delivered to its\nrecipient (the sender of the original message, whose address is below).\n\n"
                             : "I am sorry to have to tell you that your message could not be delivered\nto one or more recipients. The reasons are below.\n\n") ;
}

/* The delivery-status part's per-recipient fields (RFC 3464), one group
   for each record of the bounce file b. Returns 1, or 0 out of memory. */
static int bounce_status (stralloc *m, stralloc const *b)
{
  size_t i ;
  for (i = 0 ; i < b->len ; i = strchr(b->s + i, '\n') - b->s + 1)
  {
    char const *f[4] ;
    size_t fl[4] ;
    char const *reply, *mta ;
    size_t rlen, mlen ;
    if (!record(b, i, f, fl)) continue ;
    if (!cats(m, "\nFinal-Recipient: rfc822; ") || !stralloc_catb(m, f[0], fl[0]) || !cats(m, "\n")) return 0 ;
    if ((fl[1] != fl[0] || memcmp(f[0], f[1], fl[0]))
     && (!cats(m, "Original-Recipient: rfc822; ") || !stralloc_catb(m, f[1], fl[1]) || !cats(m, "\n"))) return 0 ;
    if (!cats(m, "Action: failed\nStatus: ") || !stralloc_catb(m, f[2], fl[2]) || !cats(m, "\n")) return 0 ;
    if (fl[3] > 6 && !memcmp(f[3], "smtp; ", 6) && remote_reply(f[3] + 6, fl[3] - 6, &reply, &rlen, &mta, &mlen))
    {
      if (!cats(m, "Remote-MTA: dns; ") || !stralloc_catb(m, mta, mlen)
       || !cats(m, "\nDiagnostic-Code: smtp; ") || !stralloc_catb(m, reply, rlen) || !cats(m, "\n")) return 0 ;
    }
    else if (fl[3] > 6 && !memcmp(f[3], "smtp; ", 6))
    {
      /* postie-remote's own reason: no SMTP reply to quote */
      if (!cats(m, "Diagnostic-Code: x-postie; ") || !stralloc_catb(m, f[3] + 6, fl[3] - 6) || !cats(m, "\n")) return 0 ;
    }
    else if (!cats(m, "Diagnostic-Code: ") || !stralloc_catb(m, f[3], fl[3]) || !cats(m, "\n")) return 0 ;
  }
  return 1 ;
}

/* The queue program: the DSN m from a file (queue/work/bounce), its
   envelope through a pipe, the new id through another. Returns 0 when
   queued (or deliberately dropped), -1 on a temporary failure (logged). */
static int bounce_queue (char const *id, stralloc const *m, char const *envsender, char const *to, int doublebounce)
{
  stralloc env = STRALLOC_ZERO ;
  char const *qprog = postie_queue_prog() ;
  char newid[QUEUE_ID_MAX + 2] ;
  int mfd, ep[2], ip[2], wstat, ret = -1 ;
  pid_t pid ;
  if (strlen(to) > 1000) { LOG("warning: ", id, ": bounce recipient too long: dropping the bounce") ; return 0 ; }
  if (!postie_queue_envelope(&env, envsender, strlen(envsender), to, strlen(to) + 1)) { LOG("warning: ", id, ": out of memory writing the bounce") ; return -1 ; }
  mfd = open("queue/work/bounce", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640) ;
  if (mfd < 0) { LOG("warning: ", id, ": unable to create queue/work/bounce: ", strerror(errno)) ; goto end ; }
  if (allwrite(mfd, m->s, m->len) < m->len || lseek(mfd, 0, SEEK_SET) < 0)
  {
    LOG("warning: ", id, ": unable to write queue/work/bounce: ", strerror(errno)) ;
    fd_close(mfd) ;
    goto end ;
  }
  if (pipecoe(ep) < 0) { fd_close(mfd) ; goto end ; }
  if (pipecoe(ip) < 0) { fd_close(mfd) ; fd_close(ep[0]) ; fd_close(ep[1]) ; goto end ; }
  if (allwrite(ep[1], env.s, env.len) < env.len) { LOG("warning: ", id, ": unable to write the bounce envelope") ; }
  fd_close(ep[1]) ;
  pid = postie_queue_spawn(qprog, mfd, ep[0], ip[1]) ;
  if (pid < 0) { fd_close(mfd) ; fd_close(ep[0]) ; fd_close(ip[0]) ; fd_close(ip[1]) ; LOG("warning: ", id, ": unable to fork for the bounce: ", strerror(errno)) ; goto end ; }
  fd_close(mfd) ; fd_close(ep[0]) ; fd_close(ip[1]) ;
  postie_queue_id_read(ip[0], newid, sizeof newid, 0) ;
  fd_close(ip[0]) ;
  if (waitpid(pid, &wstat, 0) < 0) { LOG("warning: ", id, ": unable to wait for the queue program: ", strerror(errno)) ; goto end ; }
  unlink("queue/work/bounce") ;
  if (WIFEXITED(wstat) && !WEXITSTATUS(wstat))
  {
    LOG("bounce ", id, ": ", doublebounce ? "double bounce to <" : "to <", to, "> queued as ", newid[0] ? newid : "?") ;
    ret = 0 ;
  }
  else
  {
    char fmt[UINT_FMT] ;
    int code = WIFEXITED(wstat) ? WEXITSTATUS(wstat) : 81 ;
    fmt[uint_fmt(fmt, (unsigned int)code)] = 0 ;
    LOG("warning: ", id, ": unable to queue the bounce: ", qprog, " exited ", fmt, ": ", queue_exit_str(code)) ;
  }
 end:
  stralloc_free(&env) ;
  return ret ;
}

/* The DSN (RFC 3464) to to: the head, a line per failed recipient of
   the bounce records b, the delivery-status part, then h, the message
   (returned) or its header. 1, or 0 out of memory. */
static int bounce_dsn (stralloc *m, char const *id, char const *to, int doublebounce, stralloc const *b,
                       stralloc const *h, int returned, int64_t now, int64_t birth)
{
  char date[RFC5322_DATE_FMT], adate[RFC5322_DATE_FMT] ;
  size_t i ;
  rfc5322_date_fmt(date, now) ;
  rfc5322_date_fmt(adate, birth) ;
  {
    char boundary[QUEUE_ID_MAX + 32] ;
    char tfmt[UINT64_FMT] ;
    size_t bn = 0 ;
    memcpy(boundary, "postie-dsn-", 11) ; bn = 11 ;
    memcpy(boundary + bn, id, strlen(id)) ; bn += strlen(id) ;
    boundary[bn] = 0 ;
    tfmt[uint64_fmt(tfmt, (uint64_t)now)] = 0 ;
    if (!bounce_head(m, id, to, doublebounce, date, tfmt, boundary)) return 0 ;
    for (i = 0 ; i < b->len ; i = strchr(b->s + i, '\n') - b->s + 1)
    {
      char const *f[4] ;
      size_t fl[4] ;
      if (!record(b, i, f, fl)) continue ;
      if (!cats(m, "<") || !stralloc_catb(m, f[0], fl[0]) || !cats(m, ">: ")
       || !stralloc_catb(m, f[3], fl[3]) || !cats(m, "\n")) return 0 ;
    }
    if (!cats(m, "\n--") || !cats(m, boundary) || !cats(m, "\n")
     || !cats(m, "Content-Description: Delivery report\nContent-Type: message/delivery-status\n\n")
     || !cats(m, "Reporting-MTA: dns; ") || !cats(m, settings.me.s) || !cats(m, "\n")
     || !cats(m, "X-Postie-Queue-ID: ") || !cats(m, id) || !cats(m, "\n")
     || !cats(m, "Arrival-Date: ") || !cats(m, adate) || !cats(m, "\n"))
      return 0 ;
    if (!bounce_status(m, b)) return 0 ;
    if (!cats(m, "\n--") || !cats(m, boundary) || !cats(m, "\n")
     || !cats(m, returned ? "Content-Description: Undelivered Message\nContent-Type: message/rfc822\n\n"
                           : "Content-Description: Undelivered Message Headers\nContent-Type: text/rfc822-headers\n\n")
     || !stralloc_catb(m, h->s, h->len)
     || !cats(m, "\n--") || !cats(m, boundary) || !cats(m, "--\n"))
      return 0 ;
  }
  return 1 ;
}

int bounce_send (char const *id, unsigned int bucket, char const *sender, int64_t birth)
{
  stralloc b = STRALLOC_ZERO, m = STRALLOC_ZERO, h = STRALLOC_ZERO ;
  char path[QUEUE_PATH_MAX] ;
  char const *to, *envsender ;
  int doublebounce = 0, returned = 0 ;
  int ret = -1 ;
  struct timespec ts ;
  clock_gettime(CLOCK_REALTIME, &ts) ;

  if (!strcmp(sender, DOUBLEBOUNCE_SENDER))
  {
    LOG("bounce ", id, ": a double bounce failed: dropping it") ;
    return 0 ;
  }
  if (!*sender)
  {
    if (settings.doublebounceto.len <= 1)
    {
      LOG("bounce ", id, ": no bounce for the null sender, and no control/doublebounceto: dropping it") ;
      return 0 ;
    }
    to = settings.doublebounceto.s ;
    envsender = DOUBLEBOUNCE_SENDER ;
    doublebounce = 1 ;
  }
  else { to = sender ; envsender = "" ; }

  id_path(path, "bounce", bucket, id) ;
  {
    int r = bounce_records(&b, path, id) ;
    if (r <= 0) { stralloc_free(&b) ; return r ; }
  }
  id_path(path, "mess", bucket, id) ;
  /* the whole message up to control/bouncemessagebytes, else its header */
  {
    int whole = 0 ;
    if (settings.bouncemessagebytes && readfile(&h, path, settings.bouncemessagebytes + 1, 0) == 0 && h.len <= settings.bouncemessagebytes) whole = 1 ;
    else if (readfile(&h, path, settings.bounceheaderbytes ? settings.bounceheaderbytes : 1, 1) < 0) h.len = 0 ;
    returned = whole ;
  }

  if (!bounce_dsn(&m, id, to, doublebounce, &b, &h, returned, ts.tv_sec, birth)) goto nomem ;

  ret = bounce_queue(id, &m, envsender, to, doublebounce) ;
 end:
  stralloc_free(&b) ; stralloc_free(&m) ; stralloc_free(&h) ;
  return ret ;
 nomem:
  LOG("warning: ", id, ": out of memory writing the bounce") ;
  goto end ;
}
