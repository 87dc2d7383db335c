/* postie-tlsd: the server side of UCSPI-TLS, with BearSSL. Runs under a
   UCSPI-TCP server with the client's connection on fd 0 and fd 1, keeps
   it, and runs prog... beside itself:

   - by default (implicit TLS, ports 465 and 995, as s6-tlsd): it makes
     the handshake first, then runs prog with pipes on fd 0 and fd 1 and
     SSL_PROTOCOL, SSL_CIPHER, ... in its environment;
   - with -r (handshake on request, as s6-ucspitlsd): prog runs at once
     with the connection itself on fd 0 and fd 1, and SSLCTLFD, SSLREADFD
     and SSLWRITEFD in its environment; when prog writes 'Y' (or 'y') on
     SSLCTLFD, the handshake starts on the connection and prog then reads
     and writes cleartext on the two pipes. After 'Y', the environment
     block comes back on SSLCTLFD once the handshake is done.

   The certificate chain and key are opened in the instance's tls/ at
   every connection, before anything touches the network; then, when
   TLS_UID/TLS_GID are set, this process becomes that uid (prog keeps the
   uid it was started with: a chain-loader after postie-tlsd drops it).
   They are read and decoded only for a handshake: at once in the
   implicit mode, at prog's request with -r, so that a session that
   stays in clear text never pays for it. prog never holds the key or
   its descriptor. Interface, log lines, exit codes:
   doc/postie-tlsd.md. */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <skalibs/types.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/bytestr.h>
#include <skalibs/djbunix.h>
#include <skalibs/setgroups.h>
#include <skalibs/sgetopt.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include "postie.h"
#include "envmod.h"
#include "exec_sibling.h"
#include "tlsd.h"

extern char **environ ;

#define USAGE "postie-tlsd [ -r ] [ -v verbosity ] [ -K timeout ] prog..."
#define dieusage() strerr_dieusage(100, USAGE)

static unsigned int verbosity = 1 ;
static unsigned int timeoutms = 30000 ;
static char const *remote = "unknown" ;
static tlsd_keys keys ;
static br_ssl_server_context sc ;
static unsigned char iobuf[BR_SSL_BUFSIZE_BIDI] ;
/* prog's path, when found next to this program (spawnprog). Defined
   here, GCC lays it out right after the small variables defined below
   and before the big buffers above, so that the few bytes every
   connection writes into it share the data's last page with those
   variables (each page first written is a page fault per connection:
   nm shows the layout). */
static char sib[4096] ;

static void logwhy (char const *what, char const *why)
{
  if (errno) strerr_warnwu5sys(remote, ": ", what, ": ", why) ;
  else strerr_warnw5x(remote, ": ", what, ": ", why) ;
}

/* The key and certificate files, under the instance: opened as the
   connection starts (before the privileges are dropped: the key may be
   readable by the starting uid only), decoded by loadkeys when a
   handshake is to be made. */
/* The two paths live in main's frame, as long as the instance's name
   needs: two static 4 KiB buffers cost two page faults per connection. */
static char const *certpath, *keypath ;
static char const *home ;
static int certfd = -1, keyfd = -1 ;

static int openkeys (char const **why, char const **file)
{
  if (!certpath) { errno = ENAMETOOLONG ; *why = "the instance directory" ; *file = home ; return 0 ; }
  return tlsd_keys_open(&certfd, &keyfd, certpath, keypath, why, file) ;
}

static void closekeys (void)
{
  if (certfd >= 0) fd_close(certfd) ;
  if (keyfd >= 0) fd_close(keyfd) ;
  certfd = keyfd = -1 ;
}

static int loadkeys (char const **why, char const **file)
{
  int r = tlsd_keys_load(&keys, certfd, keyfd, why) ;
  certfd = keyfd = -1 ;  /* closed by tlsd_keys_load */
  /* Which file: the chain is read first. */
  if (!r) *file = keys.chainlen ? keypath : certpath ;
  return r ;
}

/* TLS_UID/TLS_GID (system mode: postie-setup's run scripts give the
   tls account), read before anything runs: both or neither, since one
   without the other would keep root's uid, or gid 0 and root's groups. */
static int flagdrop = 0 ;
static uid_t dropuid ;
static gid_t dropgid ;

static void readpriv (void)
{
  char const *u = getenv("TLS_UID") ;
  char const *g = getenv("TLS_GID") ;
  if (!u != !g) strerr_dief(100, "TLS_UID and TLS_GID must be set together") ;
  if (!u) return ;
  if (!gid0_scan(g, &dropgid)) strerr_dief(100, "invalid TLS_GID") ;
  if (!uid0_scan(u, &dropuid)) strerr_dief(100, "invalid TLS_UID") ;
  flagdrop = 1 ;
}

/* Become them, before anything touches the network. */
static void droppriv (void)
{
  if (!flagdrop) return ;
  if (setgroups_and_gid(dropgid, 0, 0) < 0 || setgid(dropgid) < 0) strerr_diefu(111, "setgid to TLS_GID") ;
  if (setuid(dropuid) < 0) strerr_diefu(111, "setuid to TLS_UID") ;
}

/* The variables of the UCSPI-TLS protocol, unset where postie-tlsd does
   not set them: a stale SSL_PROTOCOL would tell the program that TLS is
   active, a stale SSLCTLFD offer it descriptors that are not ours. */
#define UNSET_BLOCK "SSL_PROTOCOL\0SSL_CIPHER\0"
#define UNSET_FDS "SSLCTLFD\0SSLREADFD\0SSLWRITEFD\0"

static void die_toomany (void)
{
  strerr_dief(111, "the environment holds more than " ENVMOD_MAXS " variables") ;
}

/* Execs prog (as exec_sibling finds it) with our environment changed
   by modifs, n bytes ("VAR=value\0" sets, "VAR\0" unsets, every entry
   of that name, a duplicate included: envmod), built on the stack:
   setenv and unsetenv would malloc, and the allocator alone is 8 KiB
   of text and the heap's first pages (page faults). */
static void execwith (char const *const *argv, char const *modifs, size_t n)
{
  size_t vmax = envmod_size((char const *const *)environ, modifs, n) ;
  if (!vmax) die_toomany() ;
  {
    char const *v[vmax] ;
    if (envmod(v, vmax, (char const *const *)environ, modifs, n) < 0)
      strerr_diefu(111, "set the environment") ;
    environ = (char **)v ;
    exec_sibling(argv[0], argv) ;
  }
  strerr_dieexec(111, argv[0]) ;
}

/* TLS not available (-r): the program runs without any of them. */
static void execwithout (char const *const *argv)
{
  static char const unset[] = UNSET_BLOCK UNSET_FDS ;
  execwith(argv, unset, sizeof unset - 1) ;
}

static int waitchild (pid_t pid)
{
  int wstat ;
  if (wait_pid(pid, &wstat) < 0) strerr_diefu(111, "wait for ", "the program") ;
  return wait_estatus(wstat) ;
}

/* Applies an environment block ("VAR=value\0", "VAR\0" unsets, then
   one more "\0"; env has room for UNSET_FDS after its n bytes) and
   execs prog: SSLCTLFD, SSLREADFD and SSLWRITEFD are unset, prog holds
   no such descriptors. */
static void execprog (char const *const *argv, char *env, size_t n)
{
  size_t m = 0 ;
  while (m < n && env[m])
  {
    char const *z = memchr(env + m, 0, n - m) ;
    if (!z) break ;  /* a last variable cut short is left out */
    m = z - env + 1 ;
  }
  memcpy(env + m, UNSET_FDS, sizeof UNSET_FDS - 1) ;
  execwith(argv, env, m + sizeof UNSET_FDS - 1) ;
}

/* "NAME=fd\0" at s; returns its length. */
static size_t fdvar (char *s, char const *name, int fd)
{
  size_t n = strlen(name) ;
  memcpy(s, name, n) ;
  s[n++] = '=' ;
  n += uint_fmt(s + n, (unsigned int)fd) ;
  s[n++] = 0 ;
  return n ;
}

static int handshake (char const **why)
{
  tain deadline ;
  if (ndelay_on(0) < 0 || ndelay_on(1) < 0) strerr_diefu(111, "set the connection non-blocking") ;
  tlsd_server_init(&sc, &keys, iobuf, sizeof iobuf) ;
  if (!br_ssl_server_reset(&sc))
  {
    errno = 0 ;
    *why = tls_error_str(br_ssl_engine_last_error(&sc.eng)) ;
    return 0 ;
  }
  tain_now_set_stopwatch_g() ;
  tain_from_millisecs(&deadline, timeoutms) ;
  tain_add_g(&deadline, &deadline) ;
  return tls_handshake(&sc.eng, 0, 1, &deadline, why) ;
}

static void loginfo (void)
{
  if (verbosity >= 2)
  {
    br_ssl_session_parameters params ;
    br_ssl_engine_get_session_parameters(&sc.eng, &params) ;
    byte_zzero((char *)params.master_secret, sizeof params.master_secret) ;
    strerr_warni4x(remote, ": handshake done: TLSv1.2 ", tls_suite_name(params.cipher_suite), "") ;
  }
}

/* After the handshake: the session, then the program's end. */
static int session (int appin, int appout, pid_t pid)
{
  char const *why ;
  loginfo() ;
  if (ndelay_on(appin) < 0 || ndelay_on(appout) < 0) strerr_diefu(111, "set the pipes non-blocking") ;
  if (!tls_pump(&sc.eng, 0, 1, &appin, &appout, timeoutms, &why) && verbosity)
    logwhy("TLS session ended", why) ;
  if (appin >= 0) fd_close(appin) ;
  if (appout >= 0) fd_close(appout) ;
  fd_shutdown(1, 1) ;
  fd_close(0) ; fd_close(1) ;
  return waitchild(pid) ;
}

/* Implicit TLS: the program waits, in a child, for the environment
   block; it is forked before the key is read, so it never holds it. */
static int implicit (char const *const *argv)
{
  int toapp[2], fromapp[2], notif[2] ;
  char const *why, *file ;
  char env[TLS_ENVMAX + sizeof UNSET_FDS] ;
  size_t n ;
  pid_t pid ;
  if (pipe(toapp) < 0 || pipe(fromapp) < 0 || pipe(notif) < 0) strerr_diefu(111, "create pipes") ;
  pid = fork() ;
  if (pid < 0) strerr_diefu(111, "fork") ;
  if (!pid)
  {
    size_t got = 0 ;
    fd_close(toapp[1]) ; fd_close(fromapp[0]) ; fd_close(notif[1]) ;
    if (fd_move(0, toapp[0]) < 0 || fd_move(1, fromapp[1]) < 0) strerr_diefu(111, "move descriptors") ;
    for (;;)
    {
      ssize_t r = fd_read(notif[0], env + got, TLS_ENVMAX - got) ;
      if (r < 0) strerr_diefu(111, "read the handshake's result") ;
      if (!r) break ;
      got += r ;
      if (got == TLS_ENVMAX) break ;
    }
    if (!got) _exit(0) ;  /* no handshake: postie-tlsd said why */
    fd_close(notif[0]) ;
    execprog(argv, env, got) ;
  }
  signal(SIGPIPE, SIG_IGN) ;
  fd_close(toapp[0]) ; fd_close(fromapp[1]) ; fd_close(notif[0]) ;
  if (!openkeys(&why, &file) || !loadkeys(&why, &file))
  {
    logwhy(file, why) ;
    fd_close(notif[1]) ;
    waitchild(pid) ;
    return 111 ;
  }
  droppriv() ;
  if (!handshake(&why))
  {
    if (verbosity) logwhy("handshake failed", why) ;
    tlsd_keys_wipe(&keys) ;
    fd_close(notif[1]) ;
    fd_close(0) ; fd_close(1) ;
    waitchild(pid) ;
    return 1 ;
  }
  tlsd_keys_wipe(&keys) ;
  n = tls_envblock(&sc.eng, env, 1) ;
  if (allwrite(notif[1], env, n) < n) strerr_diefu(111, "write the environment to the program") ;
  fd_close(notif[1]) ;
  return session(fromapp[0], toapp[1], pid) ;
}

/* Runs prog beside us, by posix_spawn: vfork semantics, so no copy of
   this process (its page tables, the key among its pages) and no
   copy-on-write faults afterwards, on every connection of port 25. prog
   is found as exec_sibling finds it; envp is its environment. Our ends
   of the pipes are close-on-exec, so no file actions are needed (musl
   mallocs one per action: the heap's first pages, two page faults per
   connection). */
static pid_t spawnprog (char const *const *argv, char const *const *envp)
{
  pid_t pid ;
  int r ;
  int bypath = 0 ;
  char const *path = argv[0] ;
  if (!strchr(path, '/'))
  {
    if (sibling_path(sib, sizeof sib, path)) path = sib ;
    else bypath = 1 ;
  }
  r = bypath ? posix_spawnp(&pid, path, 0, 0, (char *const *)argv, (char *const *)envp)
             : posix_spawn(&pid, path, 0, 0, (char *const *)argv, (char *const *)envp) ;
  if (r) { errno = r ; strerr_dieexec(111, argv[0]) ; }
  return pid ;
}

/* The program spawned on two pipes and a control socket, its ends named
   in SSLREADFD, SSLWRITEFD and SSLCTLFD (and closed here once it runs).
   Returns its pid; toapp[1], fromapp[0] and ctl[1] stay ours. */
static pid_t start_program (char const *const *argv, int *toapp, int *fromapp, int *ctl)
{
  pid_t pid ;
  /* All close-on-exec; then the program's ends are made inheritable. */
  if (pipecoe(toapp) < 0 || pipecoe(fromapp) < 0) strerr_diefu(111, "create pipes") ;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) < 0) strerr_diefu(111, "create the control socket") ;
  if (fcntl(toapp[0], F_SETFD, 0) < 0 || fcntl(fromapp[1], F_SETFD, 0) < 0 || fcntl(ctl[0], F_SETFD, 0) < 0)
    strerr_diefu(111, "set the program's descriptors") ;
  /* The program's environment: ours, without a stale SSL_PROTOCOL or
     SSL_CIPHER, and the three descriptors, built on the stack (setenv
     would malloc, and the heap's first pages are page faults on every
     connection). The key and certificate descriptors are close-on-exec
     (O_CLOEXEC): the program never holds them. */
  {
    char modifs[sizeof UNSET_BLOCK + 3 * (sizeof "SSLWRITEFD=" + UINT_FMT)] ;
    size_t m = sizeof UNSET_BLOCK - 1 ;
    size_t vmax ;
    memcpy(modifs, UNSET_BLOCK, m) ;
    m += fdvar(modifs + m, "SSLCTLFD", ctl[0]) ;
    m += fdvar(modifs + m, "SSLREADFD", toapp[0]) ;
    m += fdvar(modifs + m, "SSLWRITEFD", fromapp[1]) ;
    vmax = envmod_size((char const *const *)environ, modifs, m) ;
    if (!vmax) die_toomany() ;
    {
      char const *v[vmax] ;
      if (envmod(v, vmax, (char const *const *)environ, modifs, m) < 0)
        strerr_diefu(111, "set the environment") ;
      pid = spawnprog(argv, v) ;
    }
  }
  signal(SIGPIPE, SIG_IGN) ;
  fd_close(toapp[0]) ; fd_close(fromapp[1]) ; fd_close(ctl[0]) ;
  return pid ;
}

/* The environment block to the program, after the handshake. In a frame
   of its own (noinline): 4 KiB in onrequest's frame would push the
   handshake's deeper frames one stack page further, a page fault more
   per session. */
static void __attribute__((noinline)) sendenv (int fd)
{
  char env[TLS_ENVMAX] ;
  size_t n = tls_envblock(&sc.eng, env, 1) ;
  if (allwrite(fd, env, n) < n && verbosity)
    strerr_warnwu2sys(remote, ": write the environment to the program") ;
}

/* Handshake on request: the program runs at once, on the connection. */
static int onrequest (char const *const *argv)
{
  int toapp[2], fromapp[2], ctl[2] ;
  char const *why, *file ;
  char c ;
  pid_t pid ;
  ssize_t r ;
  if (!openkeys(&why, &file))
  {
    /* No TLS to offer: the program runs without SSLCTLFD, and says so to
       a client that asks (STARTTLS gets 454). Only opened here: decoding
       them is most of postie-tlsd's start-up, wasted on the sessions
       that never ask for TLS, so it waits for the request. */
    logwhy(file, why) ;
    if (verbosity) strerr_warnw2x(remote, ": TLS not available: running the program without it") ;
    execwithout(argv) ;
  }
  pid = start_program(argv, toapp, fromapp, ctl) ;
  droppriv() ;
  do r = fd_read(ctl[1], &c, 1) ; while (r < 0 && errno == EINTR) ;
  if (r < 0) strerr_diefu(111, "read the control socket") ;
  if (!r || (c != 'Y' && c != 'y'))
  {
    /* The program ended, or never asked: the connection is its own. */
    if (r) strerr_warnw2x(remote, ": unknown command on the control socket") ;
    closekeys() ;
    fd_close(ctl[1]) ; fd_close(toapp[1]) ; fd_close(fromapp[0]) ;
    fd_close(0) ; fd_close(1) ;
    if (!r) return waitchild(pid) ;
    waitchild(pid) ;
    return 100 ;
  }
  if (!loadkeys(&why, &file))
  {
    /* Opened but not usable: the program has already told the client to
       go ahead, so the connection ends, as after a failed handshake. */
    logwhy(file, why) ;
    fd_close(ctl[1]) ; fd_close(toapp[1]) ; fd_close(fromapp[0]) ;
    fd_close(0) ; fd_close(1) ;
    waitchild(pid) ;
    return 111 ;
  }
  if (!handshake(&why))
  {
    if (verbosity) logwhy("handshake failed", why) ;
    tlsd_keys_wipe(&keys) ;
    fd_close(ctl[1]) ; fd_close(toapp[1]) ; fd_close(fromapp[0]) ;
    fd_close(0) ; fd_close(1) ;
    waitchild(pid) ;
    return 1 ;
  }
  tlsd_keys_wipe(&keys) ;
  if (c == 'Y') sendenv(ctl[1]) ;
  fd_close(ctl[1]) ;
  return session(fromapp[0], toapp[1], pid) ;
}

int main (int argc, char const *const *argv)
{
  int flagrequest = 0 ;
  PROG = "postie-tlsd" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "rv:K:", &l) ;
      if (opt == -1) break ;
      switch (opt)
      {
        case 'r' : flagrequest = 1 ; break ;
        case 'v' : if (!uint0_scan(l.arg, &verbosity)) dieusage() ; break ;
        case 'K' : if (!uint0_scan(l.arg, &timeoutms) || !timeoutms || timeoutms > 3600000) dieusage() ; break ;
        default : dieusage() ;
      }
    }
    argc -= l.ind ; argv += l.ind ;
  }
  if (!argc) dieusage() ;
  readpriv() ;
  {
    char const *ip = getenv("TCPREMOTEIP") ;
    if (ip && *ip && strlen(ip) < 64) remote = ip ;
  }
  {
    size_t n ;
    home = postie_home() ;
    n = strlen(home) ;
    if (n + 14 > 4096) n = 0 ;  /* no such path: openkeys says so */
    {
      char paths[2 * n + 27] ;
      if (n)
      {
        memcpy(paths, home, n) ; memcpy(paths + n, "/tls/cert.pem", 14) ;
        memcpy(paths + n + 14, home, n) ; memcpy(paths + 2 * n + 14, "/tls/key.pem", 13) ;
        certpath = paths ;
        keypath = paths + n + 14 ;
      }
      return flagrequest ? onrequest(argv) : implicit(argv) ;
    }
  }
}
