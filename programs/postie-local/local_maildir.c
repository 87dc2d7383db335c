/* local_maildir.c: delivery into a Maildir (https://cr.yp.to/proto/maildir.html).

   1. open DIR/tmp/NAME with O_EXCL; NAME = SECONDS.MmicrosPpidQn.HOST,
      unique: one process per pid at a time, the counter n per delivery in
      this process, the microseconds against a quick reuse of the pid.
   2. write Return-Path, Delivered-To, the message, counting its size and
      its size as POP3 sends it (maildir_size.h); fsync; close.
   3. link to DIR/new/NAME,S=size,W=wire (never overwrites), unlink the
      tmp name (or rename, where the filesystem has no hard links). The
      sizes in the name spare postie-pop3d reading every message.
   4. fsync DIR/new: only now does the message exist after a power loss.
   Any failure removes the tmp file and fails temporarily. A crash between
   3 and 4 may lose the new name, but nothing was reported delivered yet;
   one after 4 leaves at worst a stale file in tmp/, which readers ignore. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>  /* rename */
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <skalibs/stralloc.h>
#include <skalibs/types.h>
#include "clock_once.h"
#include "fsync_dir.h"
#include "local.h"
#include "maildir_size.h"
#include "postie.h"

static unsigned int counter = 0 ;

/* remove a file on the way to a failure, keeping the failure's errno */
static void undo (char const *path)
{
  int e = errno ;
  unlink(path) ;
  errno = e ;
}

/* The default delivery may create its Maildir (not its parents): mode 0700,
   tmp, new, cur, each directory fsync'ed with its parent. */
static void create (char const *dir, size_t dirlen)
{
  static char const *const sub[3] = { "tmp", "new", "cur" } ;
  stralloc sa = STRALLOC_ZERO ;
  unsigned int i ;
  int made = 0 ;
  if (!stralloc_catb(&sa, dir, dirlen) || !stralloc_0(&sa)) die_nomem() ;
  if (mkdir(sa.s, 0700) == 0) made = 1 ;
  else if (errno != EEXIST) tempsys("unable to create the maildir ", sa.s) ;
  for (i = 0 ; i < 3 ; i++)
  {
    sa.len = dirlen ;
    if (!stralloc_cats(&sa, sub[i]) || !stralloc_0(&sa)) die_nomem() ;
    if (mkdir(sa.s, 0700) == 0) made = 1 ;
    else if (errno != EEXIST) tempsys("unable to create ", sa.s) ;
  }
  if (made)
  {
    sa.len = dirlen ;
    if (!stralloc_0(&sa)) die_nomem() ;
    if (fsync_dir(sa.s) < 0) tempsys("unable to sync ", sa.s) ;
    /* and the entry of the maildir in its parent */
    sa.len = dirlen ;
    while (sa.len && sa.s[sa.len - 1] == '/') sa.len-- ;
    while (sa.len && sa.s[sa.len - 1] != '/') sa.len-- ;
    if (!sa.len && !stralloc_cats(&sa, ".")) die_nomem() ;
    if (!stralloc_0(&sa)) die_nomem() ;
    if (fsync_dir(sa.s) < 0) tempsys("unable to sync ", sa.s) ;
  }
  stralloc_free(&sa) ;
}

static void name (stralloc *sa)
{
  struct timespec now ;
  char fmt[UINT64_FMT] ;
  if (clock_once(&now) < 0) tempsys("unable to read the clock") ;
  if (!stralloc_catb(sa, fmt, uint64_fmt(fmt, (uint64_t)now.tv_sec))
   || !stralloc_cats(sa, ".M")
   || !stralloc_catb(sa, fmt, uint64_fmt(fmt, (uint64_t)(now.tv_nsec / 1000)))
   || !stralloc_cats(sa, "P")
   || !stralloc_catb(sa, fmt, uint64_fmt(fmt, (uint64_t)getpid()))
   || !stralloc_cats(sa, "Q")
   || !stralloc_catb(sa, fmt, uint_fmt(fmt, ++counter))
   || !stralloc_cats(sa, ".")
   || !stralloc_cats(sa, ctx.me)) die_nomem() ;
}

/* The message (Return-Path and Delivered-To on top) into fd, the new
   file path, its sizes counted into ms. A failure removes path. */
static void copy (int fd, char const *path, maildir_size *ms)
{
  /* the message is read straight into the output buffer: no second
     64 KiB buffer (on the stack, pages no other call touches) */
  static local_out out POSTIE_LARGE ;
  local_out *o = &out ;
  out_init(o, fd) ;
  out_put(o, ctx.rpline.s, ctx.rpline.len) ;
  maildir_size_add(ms, ctx.rpline.s, ctx.rpline.len) ;
  out_put(o, ctx.dtline.s, ctx.dtline.len) ;
  maildir_size_add(ms, ctx.dtline.s, ctx.dtline.len) ;
  if (msg_rewind() < 0) { undo(path) ; tempsys("unable to rewind the message") ; }
  while (!o->err)
  {
    ssize_t r ;
    if (o->len == sizeof o->buf && out_flush(o) < 0) break ;
    r = msg_read(o->buf + o->len, sizeof o->buf - o->len) ;
    if (r < 0) { undo(path) ; tempsys("unable to read the message") ; }
    if (!r) break ;
    maildir_size_add(ms, o->buf + o->len, (size_t)r) ;
    o->len += (size_t)r ;
  }
  if (out_flush(o) < 0) { undo(path) ; tempsys("unable to write ", path) ; }
}

void deliver_maildir (char const *dir, int create_it)
{
  size_t dirlen = strlen(dir) ;
  stralloc tmp = STRALLOC_ZERO ;
  stralloc new = STRALLOC_ZERO ;
  size_t namepos ;
  maildir_size ms = MAILDIR_SIZE_ZERO ;
  int fd ;

  if (!dirlen || dir[dirlen - 1] != '/') temp("bug: maildir path without its final slash") ;
  if (create_it) create(dir, dirlen) ;

  if (!stralloc_catb(&tmp, dir, dirlen) || !stralloc_cats(&tmp, "tmp/")) die_nomem() ;
  namepos = tmp.len ;
  name(&tmp) ;
  if (!stralloc_0(&tmp)) die_nomem() ;

  fd = open(tmp.s, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600) ;
  if (fd < 0)
  {
    if (errno == ENOENT) temp("maildir ", dir, " does not exist (no ", dir, "tmp/)") ;
    tempsys("unable to create ", tmp.s) ;
  }
  copy(fd, tmp.s, &ms) ;
  if (fsync(fd) < 0) { undo(tmp.s) ; tempsys("unable to sync ", tmp.s) ; }
  if (close(fd) < 0) { undo(tmp.s) ; tempsys("unable to close ", tmp.s) ; }
  {
    char fmt[UINT64_FMT] ;
    if (!stralloc_catb(&new, dir, dirlen) || !stralloc_cats(&new, "new/")
     || !stralloc_cats(&new, tmp.s + namepos)
     || !stralloc_cats(&new, ",S=") || !stralloc_catb(&new, fmt, uint64_fmt(fmt, ms.size))
     || !stralloc_cats(&new, ",W=") || !stralloc_catb(&new, fmt, uint64_fmt(fmt, maildir_size_wire(&ms)))
     || !stralloc_0(&new)) { undo(tmp.s) ; die_nomem() ; }
  }
  if (link(tmp.s, new.s) < 0)
  {
    /* a filesystem without hard links: rename, which may overwrite, but
       the name is unique */
    if ((errno != EPERM && errno != ENOSYS && errno != EOPNOTSUPP) || rename(tmp.s, new.s) < 0)
    {
      undo(tmp.s) ;
      tempsys("unable to move ", tmp.s, " to ", new.s) ;
    }
  }
  unlink(tmp.s) ;
  {
    size_t newdirlen = dirlen + 4 ;  /* DIR/new/ */
    char c = new.s[newdirlen] ;
    new.s[newdirlen] = 0 ;
    if (fsync_dir(new.s) < 0)
    {
      /* The name may or may not survive a crash: take it back, so that
         what is reported as not delivered does not show up later. */
      new.s[newdirlen] = c ;
      undo(new.s) ;
      tempsys("unable to sync ", dir, "new/") ;
    }
    new.s[newdirlen] = c ;
  }
  did("maildir ", dir, "new/", new.s + dirlen + 4) ;
  stralloc_free(&tmp) ;
  stralloc_free(&new) ;
}
