/* spawn_loop.c: the event loop postie-lspawn and postie-rspawn share
   (spawn.h): requests on fd 0, one child per request, reports on fd 1. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/alloc.h>
#include <skalibs/djbunix.h>
#include <skalibs/iopause.h>
#include <skalibs/selfpipe.h>
#include <skalibs/sig.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include "errdesc.h"

extern char **environ ;
#include <skalibs/tai.h>
#include <skalibs/types.h>
#include "queue.h"
#include "spawn.h"

typedef struct child_s child ;
struct child_s
{
  pid_t pid ;
  int fd ;
  stralloc req ;
  stralloc out ;
  size_t outmax ;
  tain deadline ;
  int timedout ;
} ;

static unsigned int timeout = 0 ;

static child *kids ;
static unsigned int nkids = 0 ;
static char const *fields[SPAWN_FIELDS_MAX] ;

static void die_proto (void)
{
  strerr_dief(100, "malformed request from postie-send") ;
}

/* The report's two blocks are kept from one report to the next (at
   most the longest report made, bounded by outmax), freed at the end of
   the loop: freed after each, they emptied a group of musl's malloc,
   which unmapped it, one munmap (a TLB shootdown when we have run on
   both CPUs) every few deliveries, and an mmap for the next. */
static stralloc repout = STRALLOC_ZERO ;
static stralloc reprec = STRALLOC_ZERO ;

static void report (spawn_ops const *ops, child *k, int wstat)
{
  stralloc *const out = &repout ;
  stralloc *const rec = &reprec ;
  int n = spawn_split(k->req.s, k->req.len, fields, SPAWN_FIELDS_MAX) ;
  if (n < 2) die_proto() ;
  out->len = 0 ;
  rec->len = 0 ;
  if (!stralloc_catb(out, fields[0], strlen(fields[0]) + 1)) strerr_diefu(111, "allocate") ;
  if (!(*ops->report)(out, fields + 2, (unsigned int)n - 2, k->out.s, k->out.len, wstat)) strerr_diefu(111, "allocate") ;
  {
    char fmt[SIZE_FMT] ;
    if (!stralloc_catb(rec, fmt, size_fmt(fmt, out->len)) || !stralloc_catb(rec, ":", 1)
     || !stralloc_catb(rec, out->s, out->len) || !stralloc_catb(rec, ",", 1))
      strerr_diefu(111, "allocate") ;
  }
  /* postie-send gone: nobody to tell; it retries this delivery later */
  if (allwrite(1, rec->s, rec->len) < rec->len && errno != EPIPE) strerr_diefusys(111, "write to postie-send") ;
}

static void drain (child *k)
{
  char buf[4096] ;
  for (;;)
  {
    ssize_t r ;
    if (k->fd < 0) return ;
    r = fd_read(k->fd, buf, sizeof buf) ;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return ;
    if (r <= 0) { fd_close(k->fd) ; k->fd = -1 ; return ; }
    if (k->out.len < k->outmax)
    {
      size_t n = (size_t)r < k->outmax - k->out.len ? (size_t)r : k->outmax - k->out.len ;
      if (!stralloc_catb(&k->out, buf, n)) strerr_diefu(111, "allocate") ;
    }
  }
}

/* A message file name as postie-send makes it, and nothing else:
   "queue/mess/B/ID", B a bucket (0 to QUEUE_SPLIT-1, no leading zero),
   ID digits and dots (a queue id), not starting with a dot. Returns the
   offset of "B/ID" (past "queue/mess/"), or 0. */
static size_t msgpath_ok (char const *s)
{
  size_t i = 11, n = 0, b = 0 ;
  if (strncmp(s, "queue/mess/", 11)) return 0 ;
  while (s[i + n] >= '0' && s[i + n] <= '9') { b = b * 10 + (size_t)(s[i + n] - '0') ; if (++n > 3) return 0 ; }
  if (!n || (n > 1 && s[i] == '0') || b >= QUEUE_SPLIT || s[i + n] != '/') return 0 ;
  n++ ;
  if (s[i + n] < '0' || s[i + n] > '9') return 0 ;
  {
    size_t j = i + n ;
    while ((s[j] >= '0' && s[j] <= '9') || s[j] == '.') j++ ;
    if (s[j] || j - (i + n) >= QUEUE_ID_MAX) return 0 ;
  }
  return i ;
}

/* Prepared in the parent for the vfork child (spawn.h): the signals whose
   disposition the child must reset, its signal mask, the candidates for
   argv[0] along PATH, and the argv of the ENOEXEC fallback. */
static int resetsig[NSIG] ;
static unsigned int nresetsig = 0 ;
static sigset_t childmask ;
static stralloc pathname = STRALLOC_ZERO ;   /* the argv[0] cands is for */
static stralloc cands = STRALLOC_ZERO ;      /* "path\0path\0..." */
static stralloc shargv = STRALLOC_ZERO ;     /* char const *[]: /bin/sh, path, argv[1]... */

static void plan_init (void)
{
  int sig ;
  /* posix_spawn's rule: a signal caught in the spawner gets its default
     action in the child (a handler of ours must never run there); and
     SIGPIPE, ignored here, gets its default back too. Other ignored
     signals stay ignored, as across a fork and exec. */
  for (sig = 1 ; sig < NSIG ; sig++)
  {
    struct sigaction sa ;
    if (sig == SIGKILL || sig == SIGSTOP) continue ;
    if (sigaction(sig, 0, &sa) < 0) continue ;
    if (sig == SIGPIPE || (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN))
      resetsig[nresetsig++] = sig ;
  }
  /* the mask the child execs with: ours, without what selfpipe blocks */
  if (sigprocmask(SIG_SETMASK, 0, &childmask) < 0) strerr_diefusys(111, "sigprocmask") ;
  sigdelset(&childmask, SIGCHLD) ;
}

/* The candidate paths for name, as execvp tries them (glibc): a name
   with a '/' as is, else each PATH element (default /bin:/usr/bin; an
   empty one is the current directory) with "/name". Built once. */
static void plan_paths (char const *name)
{
  char const *path ;
  size_t namelen = strlen(name) ;
  if (pathname.len == namelen + 1 && !memcmp(pathname.s, name, namelen)) return ;
  pathname.len = 0 ;
  cands.len = 0 ;
  if (!stralloc_catb(&pathname, name, namelen + 1)) strerr_diefu(111, "allocate") ;
  if (strchr(name, '/'))
  {
    if (!stralloc_catb(&cands, name, namelen + 1)) strerr_diefu(111, "allocate") ;
    return ;
  }
  path = getenv("PATH") ;
  if (!path) path = "/bin:/usr/bin" ;
  for (;;)
  {
    size_t n = strcspn(path, ":") ;
    if ((n && (!stralloc_catb(&cands, path, n) || !stralloc_catb(&cands, "/", 1)))
     || !stralloc_catb(&cands, name, namelen + 1))
      strerr_diefu(111, "allocate") ;
    if (!path[n]) return ;
    path += n + 1 ;
  }
}

static void plan_shargv (char const *const *argv)
{
  size_t argc = 0, i ;
  char const **v ;
  while (argv[argc]) argc++ ;
  if (!argc) argc = 1 ;  /* execvp's script fallback: no argv[1] then */
  if (!stralloc_ready(&shargv, (argc + 2) * sizeof(char const *))) strerr_diefu(111, "allocate") ;
  v = (char const **)(void *)shargv.s ;
  v[0] = "/bin/sh" ;
  v[1] = 0 ;
  for (i = 1 ; i < argc ; i++) v[i + 1] = argv[i] ;
  v[argc + 1] = 0 ;
}

/* From here to child_run: the vfork child, sharing our memory and stack.
   Only system calls and code that touches nothing shared: no stdio, no
   allocation, no strerror (its text for a locale), no glibc set*id
   wrappers (their setxid broadcast), no return from start(). errno is
   the parent's (one thread, one TLS): the child's system calls set it,
   which is harmless, since the parent reads errno only after calls of
   its own. */

static void child_write (char const *s, size_t n)
{
  if (n && allwrite(1, s, n) < n) { }
}

/* "TEXT: strerror\n" as postie-lspawn always wrote it: TEXT cut at 200
   bytes, the error's text at 90: errdesc, the C-locale text, a static
   string (errdesc.c). */
static void __attribute__((noreturn)) child_diesys (char const *s, int e)
{
  char buf[300] ;
  size_t n = strlen(s), m ;
  char const *d = errdesc(e) ;
  if (n > 200) n = 200 ;
  memcpy(buf, s, n) ;
  buf[n++] = ':' ; buf[n++] = ' ' ;
  if (d)
  {
    m = strlen(d) ;
    if (m > 90) m = 90 ;
    memcpy(buf + n, d, m) ; n += m ;
  }
  else
  {
    memcpy(buf + n, "Unknown error ", 14) ; n += 14 ;
    if (e < 0) { buf[n++] = '-' ; e = -e ; }
    n += uint_fmt(buf + n, (unsigned int)e) ;
  }
  buf[n++] = '\n' ;
  child_write(buf, n) ;
  _exit(111) ;
}

static void __attribute__((noreturn)) child_die (char const *s, int code)
{
  child_write(s, strlen(s)) ;
  _exit(code) ;
}

/* execvp's search (glibc's execvpe) over the candidates built in the
   parent: go on after ENOENT, ENOTDIR, ESTALE, ENODEV, ETIMEDOUT and
   EACCES (reported if nothing else works), stop at any other error; a
   file without #! (ENOEXEC) runs with /bin/sh. */
static int child_exec (char const *const *argv)
{
  char const *s = cands.s ;
  char const *end = cands.s + cands.len ;
  char const **sh = (char const **)(void *)shargv.s ;
  int eacces = 0 ;
  for (; s < end ; s += strlen(s) + 1)
  {
    execve(s, (char *const *)argv, environ) ;
    if (errno == ENOEXEC)
    {
      sh[1] = s ;
      execve(sh[0], (char *const *)sh, environ) ;
    }
    switch (errno)
    {
      case EACCES : eacces = 1 ;
      /* fall through */
      case ENOENT : case ESTALE : case ENOTDIR : case ENODEV : case ETIMEDOUT : break ;
      default : return errno ;
    }
  }
  return eacces ? EACCES : errno ;
}

/* The 32-bit ABIs (i386, arm) keep the old 16-bit calls under the plain
   names: a uid or gid above 65535 would be truncated (65536 -> 0). */
#ifdef SYS_setresuid32
# define SYS_SETGROUPS SYS_setgroups32
# define SYS_SETRESGID SYS_setresgid32
# define SYS_SETRESUID SYS_setresuid32
# define SYS_GETUID SYS_getuid32
# define SYS_GETEUID SYS_geteuid32
# define SYS_GETGID SYS_getgid32
# define SYS_GETEGID SYS_getegid32
#else
# define SYS_SETGROUPS SYS_setgroups
# define SYS_SETRESGID SYS_setresgid
# define SYS_SETRESUID SYS_setresuid
# define SYS_GETUID SYS_getuid
# define SYS_GETEUID SYS_geteuid
# define SYS_GETGID SYS_getgid
# define SYS_GETEGID SYS_getegid
#endif

/* The message file "B/ID" (msgpath_ok), opened beneath queue/mess with
   no symbolic link at any step: queue/ belongs to the send uid, which
   could otherwise plant a link at any component and have root open what
   it points to. "queue" itself is the instance's (root's: it may be a
   link to the spool, made by postie-setup) and is followed; from "mess"
   on nothing is: openat2 with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS
   (Linux 5.6), or, where the kernel lacks it (ENOSYS) or the headers
   lack its number, one component at a time with O_NOFOLLOW. Raw system
   calls only (a vfork child). */
#ifdef SYS_openat2
struct postie_open_how
{
  uint64_t flags ;
  uint64_t mode ;
  uint64_t resolve ;
} ;
# define POSTIE_RESOLVE_NO_XDEV 0x01
# define POSTIE_RESOLVE_NO_MAGICLINKS 0x02
# define POSTIE_RESOLVE_NO_SYMLINKS 0x04
# define POSTIE_RESOLVE_BENEATH 0x08
#endif

static int msg_open (char const *rel)
{
  int const dflags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY ;
  int const fflags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY ;
  int qfd, mfd, fd, e ;
  qfd = open("queue", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY) ;
  if (qfd < 0) return -1 ;
  mfd = openat(qfd, "mess", dflags) ;
  e = errno ;
  close(qfd) ;
  if (mfd < 0) { errno = e ; return -1 ; }
#ifdef SYS_openat2
  {
    struct postie_open_how how ;
    memset(&how, 0, sizeof how) ;
    how.flags = (uint64_t)fflags ;
    how.resolve = POSTIE_RESOLVE_BENEATH | POSTIE_RESOLVE_NO_SYMLINKS | POSTIE_RESOLVE_NO_MAGICLINKS | POSTIE_RESOLVE_NO_XDEV ;
    fd = (int)syscall(SYS_openat2, mfd, rel, &how, sizeof how) ;
    /* ENOSYS: an older kernel; EPERM: a seccomp filter that does not
       know the call. The fallback is as strict. */
    if (fd >= 0 || (errno != ENOSYS && errno != EPERM)) { e = errno ; close(mfd) ; errno = e ; return fd ; }
  }
#endif
  {
    /* "B/ID": the bucket, then the file, neither through a link */
    char b[4] ;
    size_t n = 0 ;
    int bfd ;
    while (rel[n] != '/') { b[n] = rel[n] ; n++ ; }
    b[n] = 0 ;
    bfd = openat(mfd, b, dflags) ;
    e = errno ;
    close(mfd) ;
    if (bfd < 0) { errno = e ; return -1 ; }
    fd = openat(bfd, rel + n + 1, fflags) ;
    e = errno ;
    close(bfd) ;
    errno = e ;
    return fd ;
  }
}

/* noinline: its locals must live in a frame of their own, not in slots of
   start()'s frame that the parent reads again after the vfork. */
static void __attribute__((noreturn, noinline)) child_run (spawn_plan const *p, char const *msg, size_t msgok, int wfd)
{
  struct stat st ;
  struct sigaction dfl ;
  unsigned int i ;
  int mfd ;
  /* Every signal is blocked (start()): reset the dispositions, and only
     then, just before the exec, unblock what the program gets unblocked. */
  memset(&dfl, 0, sizeof dfl) ;
  dfl.sa_handler = SIG_DFL ;
  sigemptyset(&dfl.sa_mask) ;
  for (i = 0 ; i < nresetsig ; i++) sigaction(resetsig[i], &dfl, 0) ;
  setpgid(0, 0) ;  /* a timeout kills whatever the delivery started too */
  if (fd_move(1, wfd) < 0) _exit(111) ;
  /* These texts have no kind byte: the spawner's report function adds
     the result's (exit 111: Z), as for its program's own output.
     postie-lspawn opens it as root and hands it to the recipient: only
     a regular file inside the instance, never through a symlink, so
     that whoever can write requests cannot read /etc/shadow. */
  if (!msgok) child_die("message file outside the instance\n", 111) ;
  mfd = msg_open(msg + msgok) ;
  /* one link: a queue file is renamed, never linked; a second name is
     a hard link someone made to a file that is not a message */
  if (mfd < 0 || fstat(mfd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 || ndelay_off(mfd) < 0)
    child_die("unable to open the message file\n", 111) ;
  if (fd_move(0, mfd) < 0) _exit(111) ;  /* dup2: fd 0 survives exec */
  if (p->fail) child_die(p->fail, p->failcode) ;
  if (p->setids)
  {
    /* raw system calls: glibc's wrappers would go through its setxid
       broadcast to other threads (there are none, but it is shared
       state that a vfork child must not touch) */
    gid_t g = p->gid ;
    if (syscall(SYS_SETGROUPS, 1, &g) < 0) child_diesys("unable to setgroups (#4.3.0)", errno) ;
    if (syscall(SYS_SETRESGID, g, g, g) < 0) child_diesys("unable to setgid (#4.3.0)", errno) ;
    if (syscall(SYS_SETRESUID, p->uid, p->uid, p->uid) < 0) child_diesys("unable to setuid (#4.3.0)", errno) ;
    if (!syscall(SYS_GETUID) || !syscall(SYS_GETEUID)) child_die("still root after setuid (#4.3.0)\n", 111) ;
    if (!syscall(SYS_GETGID) || !syscall(SYS_GETEGID)) child_die("still group root after setgid (#4.3.0)\n", 111) ;
  }
  if (p->dir && chdir(p->dir) < 0) child_diesys(p->direrr, errno) ;
  sigprocmask(SIG_SETMASK, &childmask, 0) ;
  {
    int e = child_exec(p->argv) ;
    if (p->execerrno) child_diesys(p->execerr, e) ;
    child_die(p->execerr, 111) ;
  }
}

static void start (spawn_ops const *ops, char const *p, size_t len)
{
  child *k = kids + nkids ;
  spawn_plan pl ;
  size_t msgok ;
  int pfd[2] ;
  pid_t pid ;
  sigset_t all, old ;
  int n = spawn_split(p, len, fields, SPAWN_FIELDS_MAX) ;
  if (n < 2) die_proto() ;
  k->req = stralloc_zero ;
  k->out = stralloc_zero ;
  if (!stralloc_catb(&k->req, p, len)) strerr_diefu(111, "allocate") ;
  k->outmax = (*ops->outmax)((unsigned int)n - 2) ;
  k->timedout = 0 ;
  if (timeout) tain_addsec_g(&k->deadline, (int)timeout) ;
  else k->deadline = tain_infinite ;
  /* all the work that needs memory or parsing, before the child exists */
  memset(&pl, 0, sizeof pl) ;
  msgok = msgpath_ok(fields[1]) ;
  if (msgok) (*ops->plan)(&pl, fields + 2, (unsigned int)n - 2) ;
  if (msgok && !pl.fail)
  {
    plan_paths(pl.argv[0]) ;
    plan_shargv(pl.argv) ;
  }
  if (pipecoe(pfd) < 0) strerr_diefusys(111, "create a pipe") ;
  /* vfork, not fork: no copy of our page tables for a child that only
     execs. Signals stay blocked until the child has reset their
     dispositions (child_run), as posix_spawn does: a handler of ours
     must never run on our stack in the child. vfork rather than
     clone(CLONE_VM | CLONE_VFORK) on a stack of its own: the child never
     returns from here (child_run is noreturn), the compiler knows that
     vfork returns twice, and the sanitizers intercept vfork but not a
     raw clone sharing their memory.
     But fork when the child changes uid (postie-lspawn as root): from its
     setresuid to its exec the child belongs to the recipient, who may
     SIGSTOP it, or hang it in chdir on a home directory the user mounted;
     a vfork parent would stay suspended with it, and with it the
     timeouts of every delivery. A forked child only stops itself. */
  sigfillset(&all) ;
  if (sigprocmask(SIG_SETMASK, &all, &old) < 0) strerr_diefusys(111, "sigprocmask") ;
  if (pl.setids) pid = fork() ;
  else pid = vfork() ;
  if (!pid) child_run(&pl, fields[1], msgok, pfd[1]) ;
  sigprocmask(SIG_SETMASK, &old, 0) ;
  if (pid < 0) strerr_diefusys(111, "fork") ;
  fd_close(pfd[1]) ;
  ndelay_on(pfd[0]) ;
  k->pid = pid ;
  k->fd = pfd[0] ;
  nkids++ ;
}

static void reap (spawn_ops const *ops)
{
  for (;;)
  {
    int wstat ;
    unsigned int i ;
    pid_t pid = waitpid(-1, &wstat, WNOHANG) ;
    if (pid <= 0) return ;
    for (i = 0 ; i < nkids ; i++) if (kids[i].pid == pid) break ;
    if (i == nkids) continue ;
    drain(kids + i) ;
    if (kids[i].fd >= 0) { fd_close(kids[i].fd) ; kids[i].fd = -1 ; }
    if (kids[i].timedout)
    {
      char fmt[UINT_FMT] ;
      fmt[uint_fmt(fmt, timeout)] = 0 ;
      kids[i].out.len = 0 ;
      if (!stralloc_cats(&kids[i].out, "delivery timed out after ") || !stralloc_cats(&kids[i].out, fmt)
       || !stralloc_cats(&kids[i].out, " seconds (#4.4.2)\n"))
        strerr_diefu(111, "allocate") ;
      wstat = 111 << 8 ;
    }
    report(ops, kids + i, wstat) ;
    stralloc_free(&kids[i].req) ;
    stralloc_free(&kids[i].out) ;
    kids[i] = kids[--nkids] ;
  }
}

/* About 100 lines, on purpose: the spawner's one event loop (selfpipe,
   requests in, children's output, reports out), as s6's loops are. */
void spawn_loop (spawn_ops const *ops, unsigned int maxchildren, unsigned int tmo)
{
  stralloc in = STRALLOC_ZERO ;
  iopause_fd *x ;
  int eof = 0 ;
  int sfd ;
  if (!maxchildren) maxchildren = 1 ;
  timeout = tmo ;
  kids = alloc(sizeof(child) * maxchildren) ;
  x = alloc(sizeof(iopause_fd) * (maxchildren + 2)) ;
  if (!kids || !x) strerr_diefu(111, "allocate") ;
  sig_ignore(SIGPIPE) ;
  sfd = selfpipe_init() ;
  if (sfd < 0) strerr_diefusys(111, "selfpipe_init") ;
  if (!selfpipe_trap(SIGCHLD)) strerr_diefusys(111, "trap SIGCHLD") ;
  plan_init() ;
  ndelay_on(0) ;
  tain_now_g() ;
  for (;;)
  {
    unsigned int n = 1, i ;
    int inidx = -1 ;
    /* start what complete requests we hold, as far as the limit allows */
    while (nkids < maxchildren && in.len)
    {
      size_t st, pl ;
      ssize_t r = spawn_get(in.s, in.len, SPAWN_RECORD_MAX, &st, &pl) ;
      if (r < 0) die_proto() ;
      if (!r) break ;
      start(ops, in.s + st, pl) ;
      memmove(in.s, in.s + r, in.len - (size_t)r) ;
      in.len -= (size_t)r ;
    }
    if (eof && !nkids)
    {
      if (in.len) die_proto() ;
      /* every child reported: what we allocated goes back (the
         sanitizers' leak check runs at exit) */
      stralloc_free(&in) ;
      alloc_free(x) ;
      alloc_free(kids) ;
      kids = 0 ;
      stralloc_free(&pathname) ;
      stralloc_free(&cands) ;
      stralloc_free(&shargv) ;
      stralloc_free(&repout) ;
      stralloc_free(&reprec) ;
      return ;
    }
    x[0].fd = sfd ; x[0].events = IOPAUSE_READ ;
    if (!eof && nkids < maxchildren)
    {
      inidx = n ;
      x[n].fd = 0 ; x[n].events = IOPAUSE_READ ; n++ ;
    }
    for (i = 0 ; i < nkids ; i++)
      if (kids[i].fd >= 0) { x[n].fd = kids[i].fd ; x[n].events = IOPAUSE_READ ; n++ ; }
    {
      tain deadline = tain_infinite ;
      for (i = 0 ; i < nkids ; i++)
        if (!kids[i].timedout && tain_less(&kids[i].deadline, &deadline)) deadline = kids[i].deadline ;
      if (iopause_g(x, n, &deadline) < 0) strerr_diefusys(111, "iopause") ;
      for (i = 0 ; i < nkids ; i++)
        if (!kids[i].timedout && !tain_less(&STAMP, &kids[i].deadline))
        {
          kids[i].timedout = 1 ;
          kill(-kids[i].pid, SIGKILL) ;
          kill(kids[i].pid, SIGKILL) ;
        }
    }
    for (i = 0 ; i < nkids ; i++) drain(kids + i) ;
    if (x[0].revents & IOPAUSE_READ)
    {
      int sig ;
      while ((sig = selfpipe_read()) > 0) if (sig == SIGCHLD) reap(ops) ;
      if (sig < 0) strerr_diefusys(111, "selfpipe_read") ;
    }
    if (inidx >= 0 && x[inidx].revents & (IOPAUSE_READ | IOPAUSE_EXCEPT))
    {
      ssize_t r ;
      if (!stralloc_readyplus(&in, 65536)) strerr_diefu(111, "allocate") ;
      r = fd_read(0, in.s + in.len, 65536) ;
      if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) strerr_diefusys(111, "read from postie-send") ;
      if (!r)
      {
        /* postie-send exited (or stops after its wait): a result can no
           longer be recorded, so a delivery still running would only be
           made again later. Stop them. */
        eof = 1 ;
        for (i = 0 ; i < nkids ; i++)
        {
          kill(-kids[i].pid, SIGTERM) ;
          kill(kids[i].pid, SIGTERM) ;
        }
      }
      if (r > 0) in.len += (size_t)r ;
      if (in.len > SPAWN_RECORD_MAX + 16 && spawn_get(in.s, in.len, SPAWN_RECORD_MAX, &(size_t){0}, &(size_t){0}) == 0)
        die_proto() ;
    }
  }
}
