/* postie-pop3d: the POP3 TRANSACTION and UPDATE states (RFC 1939) on one
   Maildir, for a client on fd 0 and fd 1, after a checkpassword program
   has logged the user in:

     postie-pop3d [ -t timeout ] [ maildir ]

   The maildir is the argument, else $MAILDIR (from postie-checkpassword),
   else Maildir/; relative to the current directory (HOME).

   At start: every file in new/ moves to cur/ with ":2," (as qmail-pop3d
   does), then the session works on a snapshot of cur/: messages arriving
   later are for the next session. DELE and the seen flag (S, for RETR)
   take effect only at QUIT (the UPDATE state); a dropped connection, a
   timeout or too many bad commands change nothing. UIDL is the unique
   part of the file name (before ':'), so it survives the new/ -> cur/
   move and flag changes. Memory: one small record and the name per
   message. */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>  /* rename */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>
#include <skalibs/bytestr.h>
#include <skalibs/gccattributes.h>
#include <skalibs/djbunix.h>
#include <skalibs/genalloc.h>
#include <skalibs/sgetopt.h>
#include <skalibs/sha1.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>
#include "fsync_dir.h"
#include "pop3_cmd.h"
#include "postie.h"
#include "timedio.h"
#include "logline.h"
#include "pop3d.h"

#define USAGE "postie-pop3d [ -t timeout ] [ maildir ]"

#define LINE_MAX 255   /* RFC 2449: a command line, CRLF included */
#define UIDL_MAX 70    /* RFC 1939 */

#define F_DELETED 1
#define F_RETRIEVED 2
#define F_NEW 4        /* still in new/ (could not move it) */

typedef struct msg_s msg ;
struct msg_s
{
  uint64_t size ;   /* as sent: CRLF line ends (pop3d_sizes.c) */
  uint32_t name ;   /* offset in names: "cur/NAME\0" or "new/NAME\0" */
  unsigned char flags ;
} ;

static stralloc names = STRALLOC_ZERO ;
static genalloc msgs = GENALLOC_ZERO ;  /* msg */
static msg *m ;
static size_t nmsgs = 0 ;

static unsigned long timeout = 600 ;
static unsigned long maxbad = 10 ;
static unsigned long nbad = 0 ;

/* One more byte than each side holds: a skalibs buffer keeps one free. */
static char inbuf[4096 + 1] ;
static char outbuf[16384 + 1] ;
static timedio io = TIMEDIO_INIT(0, inbuf, sizeof inbuf, 1, outbuf, sizeof outbuf) ;

/* The log: a line at login and one at the end of the session, on
   stderr (the service's logger), like postie-smtpd's session lines. */

static size_t nretrieved = 0, ndeleted = 0 ;

static void logsession (char const *what, logline *l)
{
  logline_start(l, "postie-pop3d") ;
  logline_cat(l, what) ;
  logline_env(l, "user", "USER") ;
  logline_env(l, "ip", "TCPREMOTEIP") ;
  logline_env(l, "port", "TCPREMOTEPORT") ;
}

/* Every end of a session once the +OK was sent: logged, exit 0. */
static void finish (char const *why) gccattr_noreturn ;
static void finish (char const *why)
{
  logline l ;
  logsession("session", &l) ;
  logline_cat(&l, " retrieved=") ; logline_num(&l, nretrieved) ;
  logline_cat(&l, " deleted=") ; logline_num(&l, ndeleted) ;
  logline_cat(&l, " end=") ; logline_cat(&l, why) ;
  logline_end(&l) ;
  _exit(0) ;
}

/* Output. Any write failure or write timeout ends the session with no
   update; exit 0 because the session had started (see doc). */

static void write_failed (void) gccattr_noreturn ;
static void write_failed (void) { finish(errno == ETIMEDOUT ? "timeout" : "writeerror") ; }
static void flush (void) { if (!timedio_flush_within(&io, timeout)) write_failed() ; }
static void put (char const *s, size_t n) { if (!timedio_put(&io, s, n, timeout)) write_failed() ; }

static void put_str (char const *s) { put(s, strlen(s)) ; }
static void putnum (uint64_t u) { char f[UINT64_FMT] ; put(f, uint64_fmt(f, u)) ; }

static void err (char const *s) { put_str("-ERR ") ; put_str(s) ; put_str("\r\n") ; flush() ; }
static void bad (char const *s)
{
  err(s) ;
  if (++nbad >= maxbad) { err("too many bad commands") ; finish("toomanyerrors") ; }
}
static void die_temp (char const *what)
{
  strerr_diefusys(111, what) ;  /* before the greeting: say nothing */
}

/* Starting the session: the snapshot of the Maildir. */

static int cmpmsg (void const *a, void const *b)
{
  char const *x = names.s + ((msg const *)a)->name + 4 ;
  char const *y = names.s + ((msg const *)b)->name + 4 ;
  return strcmp(x, y) ;
}

static void add (char const *dir, char const *name, uint64_t size, unsigned char flags)
{
  msg x = { .size = size, .name = names.len, .flags = flags } ;
  if (names.len > UINT32_MAX - 4096) strerr_dief(111, "too many messages") ;
  if (!stralloc_cats(&names, dir) || !stralloc_catb(&names, "/", 1)
   || !stralloc_cats(&names, name) || !stralloc_0(&names)
   || !genalloc_append(msg, &msgs, &x)) die_temp("allocate memory") ;
}

static void scan (char const *dir)
{
  DIR *d = opendir(dir) ;
  stralloc path = STRALLOC_ZERO ;
  if (!d) die_temp(dir[0] == 'n' ? "open new/" : "open cur/") ;
  for (;;)
  {
    struct dirent *de ;
    struct stat st ;
    size_t base ;
    errno = 0 ;
    de = readdir(d) ;
    if (!de) break ;
    if (de->d_name[0] == '.') continue ;
    path.len = 0 ;
    if (!stralloc_cats(&path, dir) || !stralloc_catb(&path, "/", 1)) die_temp("allocate memory") ;
    base = path.len ;
    if (!stralloc_cats(&path, de->d_name) || !stralloc_0(&path)) die_temp("allocate memory") ;
    if (lstat(path.s, &st) < 0) { if (errno == ENOENT) continue ; die_temp("stat a message") ; }
    if (!S_ISREG(st.st_mode)) continue ;
    if (dir[0] == 'n')
    {
      /* new/NAME -> cur/NAME:2, (a name that has an info part already
         keeps it) */
      stralloc to = STRALLOC_ZERO ;
      int hasinfo = !!strchr(de->d_name, ':') ;
      if (!stralloc_cats(&to, "cur/") || !stralloc_cats(&to, de->d_name)
       || (!hasinfo && !stralloc_cats(&to, ":2,")) || !stralloc_0(&to)) die_temp("allocate memory") ;
      if (rename(path.s, to.s) == 0) add("cur", to.s + 4, sizes_wire(to.s, to.s + 4, &st), 0) ;
      else if (errno != ENOENT) add("new", path.s + base, sizes_wire(path.s, path.s + base, &st), F_NEW) ;
      stralloc_free(&to) ;
    }
    else add("cur", path.s + base, sizes_wire(path.s, path.s + base, &st), 0) ;
  }
  if (errno) die_temp("read a Maildir directory") ;
  closedir(d) ;
  stralloc_free(&path) ;
}

/* Message numbers */

static size_t msgnum (char const *s, int *ok)
{
  size_t n ;
  *ok = 0 ;
  if (!pop3_num_scan(s, 10, &n)) { bad("syntax: a message number") ; return 0 ; }
  if (!n || n > nmsgs) { err("no such message") ; return 0 ; }
  if (m[n-1].flags & F_DELETED) { err("message deleted") ; return 0 ; }
  *ok = 1 ;
  return n - 1 ;
}

/* The UIDL of message i: the unique part of its name if it is 1 to 70
   printable characters, else the hex SHA-1 of it. */
static void putuidl (size_t i)
{
  char const *name = names.s + m[i].name + 4 ;
  size_t len = strcspn(name, ":"), j = 0 ;
  int ok = len && len <= UIDL_MAX ;
  for (; ok && j < len ; j++) if ((unsigned char)name[j] < 0x21 || (unsigned char)name[j] > 0x7e) ok = 0 ;
  if (ok) put(name, len) ;
  else
  {
    SHA1Schedule ctx ;
    char digest[20] ;
    char hex[40] ;
    sha1_init(&ctx) ;
    sha1_update(&ctx, name, len) ;
    sha1_final(&ctx, digest) ;
    for (j = 0 ; j < 20 ; j++)
    {
      hex[2*j] = "0123456789abcdef"[(unsigned char)digest[j] >> 4] ;
      hex[2*j+1] = "0123456789abcdef"[digest[j] & 15] ;
    }
    put(hex, 40) ;
  }
}

/* Send message i: CRLF line ends whatever the file has, byte-stuffing,
   then ".". With top >= 0, only the header, the blank line and top lines
   of the body. */
static int send_message (size_t i, long top)
{
  char buf[65536] ;
  /* the file may have been replaced since the scan: not through a
     symlink (the scan skips them too), and not a FIFO that would hang */
  int fd = open(names.s + m[i].name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY) ;
  int linestart = 1, prevcr = 0, inheader = 1, linecontent = 0 ;
  long bodylines = 0 ;
  struct stat st ;
  if (fd < 0) return 0 ;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) { close(fd) ; return 0 ; }
  put_str("+OK ") ;
  if (top < 0) { putnum(m[i].size) ; put_str(" octets") ; }
  else put_str("top of message follows") ;
  put_str("\r\n") ;
  for (;;)
  {
    ssize_t r = read(fd, buf, sizeof buf) ;
    ssize_t j ;
    if (r < 0) { if (errno == EINTR) continue ; close(fd) ; strerr_warnwu2sys("read ", names.s + m[i].name) ; finish("readerror") ; }
    if (!r) break ;
    for (j = 0 ; j < r ; )
    {
      ssize_t k ;
      char const *nl ;
      if (top >= 0 && !inheader && bodylines >= top) goto done ;
      if (linestart && buf[j] == '.') put(".", 1) ;
      if (buf[j] == '\n')
      {
        if (!prevcr) put("\r", 1) ;
        put("\n", 1) ;
        linestart = 1 ;
        if (inheader) { if (!linecontent) inheader = 0 ; }
        else bodylines++ ;
        linecontent = 0 ;
        prevcr = 0 ;
        j++ ;
        continue ;
      }
      /* the bytes up to the next LF go as they are, in one put */
      nl = memchr(buf + j, '\n', r - j) ;
      k = nl ? nl - (buf + j) : r - j ;
      put(buf + j, k) ;
      linestart = 0 ;
      for (ssize_t t = j ; t < j + k && !linecontent ; t++) if (buf[t] != '\r') linecontent = 1 ;
      prevcr = buf[j + k - 1] == '\r' ;
      j += k ;
    }
  }
  if (!linestart) put(prevcr ? "\n" : "\r\n", prevcr ? 1 : 2) ;
 done:
  close(fd) ;
  put(".\r\n", 3) ;
  flush() ;
  return 1 ;
}

/* A deleted message whose name is gone: another session (or a client
   on the Maildir) renamed it meanwhile, e.g. to mark it seen, which keeps
   its unique part (the name up to ':'). Removes it under whatever name
   it has now in cur/ or new/. Returns 1 removed or nowhere to be found
   (deleted by someone else), 0 on an error (logged). */
static int unlink_moved (char const *path)
{
  char const *base = path + 4 ;  /* "cur/" or "new/" */
  size_t ulen = strcspn(base, ":") ;
  unsigned int tries ;
  if (!ulen) return 1 ;  /* no unique part to look for */
  for (tries = 0 ; tries < 5 ; tries++)
  {
    static char const *const dirs[2] = { "cur", "new" } ;
    int again = 0 ;
    for (unsigned int k = 0 ; k < 2 ; k++)
    {
      DIR *d = opendir(dirs[k]) ;
      if (!d) { strerr_warnwusys("open ", dirs[k], "/ to find ", path) ; return 0 ; }
      for (;;)
      {
        struct dirent *de ;
        char name[4 + 256] ;
        size_t n ;
        errno = 0 ;
        de = readdir(d) ;
        if (!de) break ;
        if (strncmp(de->d_name, base, ulen) || (de->d_name[ulen] && de->d_name[ulen] != ':')) continue ;
        n = strlen(de->d_name) ;
        if (n > 255) continue ;
        memcpy(name, dirs[k], 3) ; name[3] = '/' ;
        memcpy(name + 4, de->d_name, n + 1) ;
        if (unlink(name) == 0) { closedir(d) ; return 1 ; }
        if (errno != ENOENT) { strerr_warnwusys("unlink ", name) ; closedir(d) ; return 0 ; }
        again = 1 ;  /* renamed once more under our eyes: look again */
      }
      if (errno) { strerr_warnwusys("read ", dirs[k], "/ to find ", path) ; closedir(d) ; return 0 ; }
      closedir(d) ;
    }
    if (!again) return 1 ;
  }
  strerr_warnw("unable to unlink ", path, ": renamed again and again") ;
  return 0 ;
}

/* The UPDATE state. Returns 1 if every change was made. */
static int update (void)
{
  size_t i = 0 ;
  int ok = 1, touchednew = 0, touchedcur = 0 ;
  stralloc to = STRALLOC_ZERO ;
  for (; i < nmsgs ; i++)
  {
    char const *path = names.s + m[i].name ;
    if (m[i].flags & F_DELETED)
    {
      if (unlink(path) < 0)
      {
        if (errno != ENOENT) { strerr_warnwusys("unlink ", path) ; ok = 0 ; }
        else if (!unlink_moved(path)) ok = 0 ;
        else ndeleted++ ;
        touchednew = 1 ;
      }
      else ndeleted++ ;
      if (m[i].flags & F_NEW) touchednew = 1 ; else touchedcur = 1 ;
    }
    else if (m[i].flags & F_RETRIEVED)
    {
      /* add the S flag: cur/NAME:2,FLAGS with FLAGS kept in ASCII order */
      char const *info = strchr(path + 4, ':') ;
      size_t pos ;
      to.len = 0 ;
      if (!info)
      {
        if (!stralloc_cats(&to, "cur/") || !stralloc_cats(&to, path + 4) || !stralloc_cats(&to, ":2,S")) goto nomem ;
      }
      else if (!strncmp(info, ":2,", 3))
      {
        char const *fl = info + 3 ;
        if (strchr(fl, 'S')) continue ;
        pos = fl - path ;
        while (path[pos] && (unsigned char)path[pos] < 'S') pos++ ;
        if (!stralloc_cats(&to, "cur/") || !stralloc_catb(&to, path + 4, pos - 4)
         || !stralloc_catb(&to, "S", 1) || !stralloc_cats(&to, path + pos)) goto nomem ;
      }
      else continue ;
      if (!stralloc_0(&to)) goto nomem ;
      if (rename(path, to.s) < 0 && errno != ENOENT) strerr_warnwusys("mark as seen ", path) ;
      if (m[i].flags & F_NEW) touchednew = 1 ;
      touchedcur = 1 ;
    }
  }
  stralloc_free(&to) ;
  /* best effort: QUIT's reply does not wait on these */
  if (touchednew) fsync_dir("new") ;
  if (touchedcur) fsync_dir("cur") ;
  return ok ;
 nomem:
  stralloc_free(&to) ;
  return 0 ;
}

static void readcontrols (void)
{
  int here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  if (here < 0) die_temp("open the current directory") ;
  if (chdir(postie_home()) == 0)
  {
    if (control_readulong(&timeout, "pop3timeout", timeout) < 0) strerr_warnwu("read control/pop3timeout: ", control_strerror()) ;
    if (control_readulong(&maxbad, "pop3maxbad", maxbad) < 0) strerr_warnwu("read control/pop3maxbad: ", control_strerror()) ;
  }
  else strerr_warnwusys("chdir to ", postie_home(), " to read control/: using the defaults") ;
  if (fchdir(here) < 0) die_temp("return to the current directory") ;
  close(here) ;
}

/* ---------- the commands of the TRANSACTION state (RFC 1939 5), one
   function each; the argument is 0 when there is none. The reply is
   flushed by the loop after each. */

static void pop3_quit (char *arg)
{
  if (arg) { bad("syntax: QUIT") ; return ; }
  if (update()) put_str("+OK bye\r\n") ;
  else put_str("-ERR [SYS/TEMP] some deleted messages were not removed\r\n") ;
  flush() ;
  finish("quit") ;
}

static void pop3_stat (char *arg)
{
  uint64_t t = 0 ;
  size_t live = 0 ;
  if (arg) { bad("syntax: STAT") ; return ; }
  for (size_t i = 0 ; i < nmsgs ; i++)
    if (!(m[i].flags & F_DELETED)) { live++ ; t += m[i].size ; }
  put_str("+OK ") ; putnum(live) ; put_str(" ") ; putnum(t) ; put_str("\r\n") ;
}

/* LIST and UIDL: one message's line, or every live message's. */
static void list (char *arg, int uidl)
{
  if (arg)
  {
    int ok ;
    size_t k = msgnum(arg, &ok) ;
    if (!ok) return ;
    put_str("+OK ") ; putnum(k + 1) ; put_str(" ") ;
    if (uidl) putuidl(k) ; else putnum(m[k].size) ;
    put_str("\r\n") ;
  }
  else
  {
    put_str("+OK\r\n") ;
    for (size_t i = 0 ; i < nmsgs ; i++)
    {
      if (m[i].flags & F_DELETED) continue ;
      putnum(i + 1) ; put(" ", 1) ;
      if (uidl) putuidl(i) ; else putnum(m[i].size) ;
      put("\r\n", 2) ;
    }
    put_str(".\r\n") ;
  }
}

static void pop3_list (char *arg) { list(arg, 0) ; }
static void pop3_uidl (char *arg) { list(arg, 1) ; }

static void pop3_retr (char *arg)
{
  int ok ;
  size_t k ;
  if (!arg) { bad("syntax: RETR n") ; return ; }
  k = msgnum(arg, &ok) ;
  if (!ok) return ;
  if (!send_message(k, -1)) { err("[SYS/TEMP] cannot open the message") ; return ; }
  if (!(m[k].flags & F_RETRIEVED)) nretrieved++ ;
  m[k].flags |= F_RETRIEVED ;
}

static void pop3_top (char *arg)
{
  char *sp = arg ? strchr(arg, ' ') : 0 ;
  size_t n ;
  size_t k ;
  int ok ;
  if (!sp || !pop3_num_scan(sp + 1, 9, &n)) { bad("syntax: TOP n lines") ; return ; }
  *sp = 0 ;
  k = msgnum(arg, &ok) ;
  if (!ok) return ;
  if (!send_message(k, n)) err("[SYS/TEMP] cannot open the message") ;
}

static void pop3_dele (char *arg)
{
  int ok ;
  size_t k ;
  if (!arg) { bad("syntax: DELE n") ; return ; }
  k = msgnum(arg, &ok) ;
  if (!ok) return ;
  m[k].flags |= F_DELETED ;
  put_str("+OK message ") ; putnum(k + 1) ; put_str(" deleted\r\n") ;
}

static void pop3_rset (char *arg)
{
  if (arg) { bad("syntax: RSET") ; return ; }
  for (size_t i = 0 ; i < nmsgs ; i++) m[i].flags &= ~F_DELETED ;
  put_str("+OK\r\n") ;
}

static void pop3_noop (char *arg)
{
  if (arg) { bad("syntax: NOOP") ; return ; }
  put_str("+OK\r\n") ;
}

static void pop3_capa (char *arg)
{
  (void)arg ;
  put_str("+OK capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nIMPLEMENTATION postie\r\n.\r\n") ;
}

/* The AUTHORIZATION state's commands: postie-popup's, done already. */
static void pop3_loggedin (char *arg)
{
  (void)arg ;
  bad("already logged in") ;
}

struct command
{
  char const *name ;
  void (*run) (char *arg) ;
} ;

static struct command const commands[] =
{
  { "QUIT", &pop3_quit },
  { "STAT", &pop3_stat },
  { "LIST", &pop3_list },
  { "UIDL", &pop3_uidl },
  { "RETR", &pop3_retr },
  { "TOP", &pop3_top },
  { "DELE", &pop3_dele },
  { "RSET", &pop3_rset },
  { "NOOP", &pop3_noop },
  { "CAPA", &pop3_capa },
  { "USER", &pop3_loggedin },
  { "PASS", &pop3_loggedin },
  { "AUTH", &pop3_loggedin },
  { 0, 0 }
} ;

int main (int argc, char const *const *argv)
{
  char line[LINE_MAX + 1] ;
  char const *maildir ;
  unsigned long opt_timeout = 0 ;
  uint64_t total = 0 ;
  size_t i ;
  PROG = "postie-pop3d" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "t:", &l) ;
      if (opt == -1) break ;
      switch (opt)
      {
        case 't' : if (!ulong0_scan(l.arg, &opt_timeout) || !opt_timeout) strerr_dieusage(100, USAGE) ; break ;
        default : strerr_dieusage(100, USAGE) ;
      }
    }
    argc -= l.ind ; argv += l.ind ;
  }
  if (argc > 1) strerr_dieusage(100, USAGE) ;
  maildir = argc ? argv[0] : getenv("MAILDIR") ;
  if (!maildir || !*maildir) maildir = "Maildir/" ;

  signal(SIGPIPE, SIG_IGN) ;
  tain_now_set_stopwatch_g() ;
  tain_now_g() ;
  readcontrols() ;
  if (opt_timeout) timeout = opt_timeout ;
  if (timeout > 86400) timeout = 86400 ;
  if (!maxbad) maxbad = 1 ;

  if (chdir(maildir) < 0) die_temp("chdir to the Maildir") ;
  umask(077) ;
  sizes_load() ;
  scan("cur") ;  /* first: what scan("new") moves to cur/ is added by it */
  scan("new") ;
  sizes_save() ;
  m = genalloc_s(msg, &msgs) ;
  nmsgs = genalloc_len(msg, &msgs) ;
  if (nmsgs) qsort(m, nmsgs, sizeof(msg), &cmpmsg) ;
  for (i = 0 ; i < nmsgs ; i++) total += m[i].size ;
  if (ndelay_on(0) < 0 || ndelay_on(1) < 0) die_temp("set non-blocking mode") ;

  {
    logline l ;
    logsession("login", &l) ;
    logline_cat(&l, " ok messages=") ; logline_num(&l, nmsgs) ;
    logline_cat(&l, " octets=") ; logline_num(&l, total) ;
    logline_end(&l) ;
  }
  put_str("+OK ") ; putnum(nmsgs) ; put_str(" messages (") ; putnum(total) ; put_str(" octets)\r\n") ;
  flush() ;

  for (;;)
  {
    tain deadline ;
    size_t len, cmdlen ;
    char *arg ;
    struct command const *c ;
    int r ;
    tain_now_g() ;
    tain_addsec_g(&deadline, timeout) ;
    r = timedio_getline(&io, line, LINE_MAX, &len, &deadline) ;
    if (r == -3) { err("line too long, closing connection, no changes made") ; finish("linetoolong") ; }  /* no end in sight */
    if (r == -2) { bad("line too long") ; continue ; }
    if (r == -1 && errno == ETIMEDOUT) { err("autologout: idle for too long, no changes made") ; finish("timeout") ; }
    if (r <= 0) finish(r ? "readerror" : "eof") ;  /* dropped connection: no UPDATE */
    len-- ;
    if (len && line[len-1] == '\r') len-- ;
    line[len] = 0 ;
    if (!pop3_cmd_split(line, len, &cmdlen, &arg)) { bad("NUL byte in command") ; continue ; }
    for (c = commands ; c->name ; c++) if (pop3_cmd_is(line, cmdlen, c->name)) break ;
    if (c->name) (*c->run)(arg) ;
    else bad("unknown command") ;
    flush() ;
  }
}
