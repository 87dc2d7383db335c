/* records.c: the bounce records (queue/bounce/B/ID, doc/bounce.md) and
   the deferral reasons (queue/defer/B/ID) of the messages being worked on. */

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

void status_of (char const *text, char cls, char *st)
{
  size_t i, n = strlen(text) ;
  for (i = 0 ; i + 5 <= n ; i++)
  {
    size_t j = i + 1, k ;
    if (text[i] != cls || text[j] != '.' || (i && ((text[i-1] >= '0' && text[i-1] <= '9') || text[i-1] == '.'))) continue ;
    j++ ;
    k = j ;
    while (j < n && j - k < 3 && text[j] >= '0' && text[j] <= '9') j++ ;
    if (j == k || j >= n || text[j] != '.') continue ;
    j++ ;
    k = j ;
    while (j < n && j - k < 3 && text[j] >= '0' && text[j] <= '9') j++ ;
    if (j == k || (j < n && ((text[j] >= '0' && text[j] <= '9') || text[j] == '.'))) continue ;  /* not an IP address */
    memcpy(st, text + i, j - i) ;
    st[j - i] = 0 ;
    return ;
  }
  st[0] = cls ; memcpy(st + 1, ".0.0", 5) ;
}

/* Appends a record to the message's bounce file: address, original
   recipient, status, diagnostic. Not synced: bounce_sync does that. */
static stralloc bbuf = STRALLOC_ZERO ;

void bounce_add (active *a, rcpt const *r, char const *status, char const *dtype, char const *text, char const *prefix)
{
  if (!stralloc_cats(&bbuf, info_str(a, r->addr)) || !stralloc_catb(&bbuf, "\t", 1)
   || !stralloc_cats(&bbuf, info_str(a, r->orig)) || !stralloc_catb(&bbuf, "\t", 1)
   || !stralloc_cats(&bbuf, status) || !stralloc_catb(&bbuf, "\t", 1)
   || !stralloc_cats(&bbuf, dtype) || !stralloc_catb(&bbuf, "; ", 2)
   || !stralloc_cats(&bbuf, prefix) || !stralloc_cats(&bbuf, text) || !stralloc_catb(&bbuf, "\n", 1))
    die_nomem() ;
}

/* The records reach the disk before any recipient is marked failed.
   Returns 1 when they are on disk; 0 when they could not be written
   (a full disk, an I/O error: logged): the file is put back as it was
   and the caller leaves those recipients pending, to be tried again,
   and recorded again, at the message's next retry. */
int bounce_sync (active *a)
{
  char path[QUEUE_PATH_MAX] ;
  struct stat st ;
  int fd, created = 0, e ;
  if (!bbuf.len) return 1 ;
  queue_path(path, "bounce", &a->id) ;
  fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW) ;
  if (fd < 0 && errno == ENOENT)
  {
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640) ;
    created = 1 ;
  }
  if (fd < 0) { e = errno ; goto fail ; }
  if (fstat(fd, &st) < 0) { e = errno ; fd_close(fd) ; goto fail ; }
  if (allwrite(fd, bbuf.s, bbuf.len) < bbuf.len || fsync(fd) < 0)
  {
    e = errno ? errno : EIO ;
    /* no torn record may stay in front of the next one */
    if (created) unlink(path) ;
    else if (ftruncate(fd, st.st_size) < 0)
      LOG("warning: ", a->idstr, ": unable to cut ", path, " back to its last whole record: ", strerror(errno)) ;
    fd_close(fd) ;
    goto fail ;
  }
  fd_close(fd) ;
  if (created && fsync_parent(path) < 0)
  {
    /* a name that may not survive a crash must not be built upon */
    e = errno ;
    unlink(path) ;
    goto fail ;
  }
  bbuf.len = 0 ;
  a->hasbounce = 1 ;
  return 1 ;
 fail:
  bbuf.len = 0 ;
  LOG("warning: ", a->idstr, ": unable to record the failures in ", path, ": ", strerror(e), ": those recipients are tried again at the next retry") ;
  return 0 ;
}

void defer_add (active *a, char const *addr, char const *prefix, char const *text, size_t max)
{
  size_t m = strlen(text), at, i ;
  if (m > max) m = max ;
  if (!stralloc_cats(&a->defer, addr) || !stralloc_catb(&a->defer, "\t", 1) || !stralloc_cats(&a->defer, prefix)) die_nomem() ;
  at = a->defer.len ;
  if (!stralloc_catb(&a->defer, text, m) || !stralloc_catb(&a->defer, "\n", 1)) die_nomem() ;
  for (i = at ; i < at + m ; i++) if ((unsigned char)a->defer.s[i] < 32) a->defer.s[i] = '?' ;
}

/* queue/defer/B/ID: why the pending recipients are pending, for
   postie-qread. Informational only: written to work/defer and renamed,
   never fsync'ed (a crash may lose it or leave an older one; nothing
   depends on it). Kept as is when a pass deferred nobody. */
void defer_write (active *a)
{
  char path[QUEUE_PATH_MAX] ;
  static char const tmp[] = "queue/work/defer" ;
  int fd ;
  if (!a->defer.len) return ;
  queue_path(path, "defer", &a->id) ;
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600) ;
  if (fd >= 0)
  {
    int ok = allwrite(fd, a->defer.s, a->defer.len) == a->defer.len ;
    if (close(fd) < 0) ok = 0 ;
    if (ok && rename(tmp, path) == 0) return ;
    { int e = errno ; unlink(tmp) ; errno = e ; }
  }
  LOG("warning: ", a->idstr, ": unable to record the deferral reasons in ", path, ": ", strerror(errno)) ;
}
