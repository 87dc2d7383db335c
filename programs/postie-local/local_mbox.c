/* local_mbox.c: appending to an mbox file.

   The file is opened for appending (created 0600 if missing), locked with
   fcntl (a write lock on the whole file, waiting at most locktimeout
   seconds: mutt, procmail and Dovecot take the same lock), and its size
   noted. Then: the From_ line, Return-Path, Delivered-To, the message with
   every line that matches /^>*From / quoted by one more '>' (mboxrd), a
   line end if the message lacks a final one, and one empty line; fsync.
   On any failure the file is truncated back to its size before we
   started, so that a full disk never leaves half a message that would
   corrupt the mail after it, and the delivery fails temporarily. */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <skalibs/types.h>
#include "local.h"
#include "postie.h"

static local_out out POSTIE_LARGE ;

/* mboxrd quoting over a stream: at the start of a line we hold back a run
   of '>' (only counted, it may be long) and up to 5 bytes of "From ". */
static int bol = 1 ;
static size_t gts = 0 ;
static unsigned int matched = 0 ;
static char last = '\n' ;

static void putgts (size_t n)
{
  static char const many[64] = ">>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>" ;
  while (n)
  {
    size_t k = n < sizeof many ? n : sizeof many ;
    out_put(&out, many, k) ;
    n -= k ;
  }
}

static void release (void)
{
  putgts(gts) ;
  out_put(&out, "From ", matched) ;
  gts = 0 ; matched = 0 ; bol = 0 ;
}

static void quote (char const *s, size_t n)
{
  while (n)
  {
    if (bol)
    {
      char c = *s ;
      if (!matched && c == '>') { gts++ ; last = c ; s++ ; n-- ; continue ; }
      if (c == "From "[matched])
      {
        last = c ; s++ ; n-- ;
        if (++matched == 5)
        {
          out_put(&out, ">", 1) ;
          release() ;
        }
        continue ;
      }
      release() ;
    }
    {
      char const *nl = memchr(s, '\n', n) ;
      size_t k = nl ? (size_t)(nl - s) + 1 : n ;
      out_put(&out, s, k) ;
      last = s[k - 1] ;
      s += k ; n -= k ;
      if (nl) bol = 1 ;
    }
  }
}

static void asctime_utc (char *s, time_t t)
{
  static char const days[] = "SunMonTueWedThuFriSat" ;
  static char const months[] = "JanFebMarAprMayJunJulAugSepOctNovDec" ;
  struct tm tm ;
  if (!gmtime_r(&t, &tm)) { memset(&tm, 0, sizeof tm) ; tm.tm_mday = 1 ; tm.tm_year = 70 ; tm.tm_wday = 4 ; }
  memcpy(s, days + 3 * tm.tm_wday, 3) ;
  s[3] = ' ' ;
  memcpy(s + 4, months + 3 * tm.tm_mon, 3) ;
  s[7] = ' ' ;
  s[8] = tm.tm_mday < 10 ? ' ' : '0' + tm.tm_mday / 10 ;
  s[9] = '0' + tm.tm_mday % 10 ;
  s[10] = ' ' ;
  s[11] = '0' + tm.tm_hour / 10 ; s[12] = '0' + tm.tm_hour % 10 ; s[13] = ':' ;
  s[14] = '0' + tm.tm_min / 10 ; s[15] = '0' + tm.tm_min % 10 ; s[16] = ':' ;
  s[17] = '0' + tm.tm_sec / 10 ; s[18] = '0' + tm.tm_sec % 10 ; s[19] = ' ' ;
  {
    unsigned int y = (unsigned int)tm.tm_year + 1900 ;
    s[20] = '0' + y / 1000 % 10 ; s[21] = '0' + y / 100 % 10 ;
    s[22] = '0' + y / 10 % 10 ; s[23] = '0' + y % 10 ;
  }
  s[24] = 0 ;
}

/* "From SENDER DATE\n": MAILER-DAEMON for the null sender; blanks in the
   sender would cut the line's fields, so they become '_'. */
void local_ufline (stralloc *sa, char const *sender, time_t now)
{
  char date[25] ;
  size_t start ;
  asctime_utc(date, now) ;
  if (!stralloc_cats(sa, "From ")) die_nomem() ;
  start = sa->len ;
  if (!stralloc_cats(sa, *sender ? sender : "MAILER-DAEMON")) die_nomem() ;
  for (; start < sa->len ; start++)
    if (sa->s[start] == ' ' || sa->s[start] == '\t') sa->s[start] = '_' ;
  if (!stralloc_cats(sa, " ") || !stralloc_cats(sa, date) || !stralloc_cats(sa, "\n") || !stralloc_0(sa)) die_nomem() ;
  sa->len-- ;
}

void deliver_mbox (char const *path)
{
  struct stat st ;
  struct flock fl ;
  off_t size ;
  char buf[65536] ;
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0600) ;
  if (fd < 0) tempsys("unable to open mbox ", path) ;
  if (fstat(fd, &st) < 0) tempsys("unable to stat mbox ", path) ;
  if (!S_ISREG(st.st_mode)) temp("mbox ", path, " is not a regular file") ;
  {
    int flags = fcntl(fd, F_GETFL) ;
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) tempsys("unable to set up mbox ", path) ;
  }

  memset(&fl, 0, sizeof fl) ;
  fl.l_type = F_WRLCK ;
  fl.l_whence = SEEK_SET ;
  fl.l_start = 0 ;
  fl.l_len = 0 ;
  local_alarm(ctx.locktimeout) ;
  while (fcntl(fd, F_SETLKW, &fl) < 0)
  {
    int e = errno ;
    if (e == EINTR && !local_timedout) continue ;
    local_alarm(0) ;
    if (e == EINTR) temp("timed out waiting for the lock on mbox ", path, " (control/locallocktimeout)") ;
    errno = e ;
    tempsys("unable to lock mbox ", path) ;
  }
  local_alarm(0) ;
  if (fstat(fd, &st) < 0) tempsys("unable to stat mbox ", path) ;
  size = st.st_size ;

  out_init(&out, fd) ;
  out_put(&out, ctx.ufline.s, ctx.ufline.len) ;
  out_put(&out, ctx.rpline.s, ctx.rpline.len) ;
  out_put(&out, ctx.dtline.s, ctx.dtline.len) ;
  bol = 1 ; gts = 0 ; matched = 0 ; last = '\n' ;
  if (msg_rewind() < 0) { int e = errno ; if (ftruncate(fd, size) < 0) { } errno = e ; tempsys("unable to rewind the message") ; }
  for (;;)
  {
    ssize_t r = msg_read(buf, sizeof buf) ;
    if (r < 0)
    {
      int e = errno ;
      if (ftruncate(fd, size) < 0) { /* reported below as the read error */ }
      errno = e ;
      tempsys("unable to read the message") ;
    }
    if (!r) break ;
    quote(buf, r) ;
  }
  if (bol && (gts || matched)) release() ;
  if (last != '\n') out_put(&out, "\n", 1) ;
  out_put(&out, "\n", 1) ;
  if (out_flush(&out) < 0 || fsync(fd) < 0)
  {
    int e = errno ;
    if (ftruncate(fd, size) < 0 || fsync(fd) < 0)
    {
      char fmt[UINT64_FMT] ;
      fmt[uint64_fmt(fmt, (uint64_t)size)] = 0 ;
      errno = e ;
      tempsys("unable to write mbox ", path, ", and unable to truncate it back to ", fmt, " bytes") ;
    }
    errno = e ;
    tempsys("unable to write mbox ", path, " (truncated back)") ;
  }
  if (close(fd) < 0) tempsys("unable to close mbox ", path) ;
  did("mbox ", path) ;
}
