/* postie-tcpserver: the UCSPI-TCP super-server.
   Binds ip:port (IPv4 or IPv6), drops privileges, then for each client
   spawns prog... with the connection on fd 0 and fd 1 and the UCSPI
   environment (PROTO, TCPLOCALIP, TCPLOCALPORT, TCPREMOTEIP,
   TCPREMOTEPORT, TCPCONNNUM). Command line compatible with s6-tcpserver
   and ucspi-tcp's tcpserver where they overlap. With -i or -x it applies
   s6's access rules itself (rules.c), as postie-tcpaccess does after it:
   a refused client gets no process, an allowed one the rule's
   environment, and no exec is spent on the check. Never looks anything
   up in the DNS. Interface, log lines, exit codes: doc/postie-tcpserver.md.

   The loop is selfpipe + iopause: one fd for signals (SIGCHLD, SIGTERM,
   SIGHUP, SIGQUIT, SIGABRT), one for the listening socket. At maxconn
   connections the listening socket is not polled: new clients wait in
   the kernel's backlog until a session ends, as with tcpserver and
   s6-tcpserver. A connection over the per-address limit is accepted,
   given the -m message (if any), logged and closed at once, so that one
   busy client never stalls the others; IPv6 clients are counted per
   prefix (-n, /64 by default: one host owns a whole /64). */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <skalibs/gccattributes.h>
#include <skalibs/types.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/bytestr.h>
#include <skalibs/strerr.h>
#include <skalibs/sgetopt.h>
#include <skalibs/sig.h>
#include <skalibs/selfpipe.h>
#include <skalibs/iopause.h>
#include <skalibs/djbunix.h>
#include <skalibs/socket.h>
#include <skalibs/ip46.h>
#include <skalibs/env.h>
#include <skalibs/stralloc.h>
#include <skalibs/tai.h>
#include "accessrules.h"
#include "rules.h"

#define USAGE "postie-tcpserver [ -q | -Q | -v ] [ -4 | -6 ] [ -1 ] [ -c maxconn ] [ -C localmaxconn ] [ -n v6prefix ] [ -m message ] [ -b backlog ] [ -G gidlist ] [ -g gid ] [ -u uid ] [ -U ] [ -D ] [ -l localname ] [ -i rulesdir | -x rulescdb ] ip port prog..."
#define dieusage() strerr_dieusage(100, USAGE)

#define MAXCONN_MAX 16384
#define GIDLIST_MAX 64
#define ACCEPT_BURST 64
#define MESSAGE_MAX 400

typedef struct conn_s conn, *conn_ref ;
struct conn_s
{
  pid_t pid ;
  ip46 ip ;
  uint16_t port ;
} ;

static conn conns[MAXCONN_MAX] ;
static unsigned int nconns = 0 ;
static unsigned int maxconn = 40 ;
static unsigned int localmaxconn = 40 ;
static unsigned int v6prefix = 64 ;  /* bits of an IPv6 address that make one client */
static char refusemsg[MESSAGE_MAX + 2] ;  /* -m, with its CRLF */
static size_t refusemsglen = 0 ;
static unsigned int verbosity = 1 ;
static int flagnodelay = 0 ;
static char const *localname = 0 ;
static tain acceptpause = TAIN_ZERO ;  /* no accept() before this time */

static unsigned int scan_uint (char const *s, char const *what, unsigned int max)
{
  unsigned int u ;
  size_t n = uint0_scan(s, &u) ;
  if (!n || s[n] || u > max) strerr_dief(100, "invalid ", what, ": ", s) ;
  return u ;
}

/* A comma-separated list of numeric gids. Not skalibs' gid_scanlist,
   which also takes ':', ';' and blanks between the numbers and stops
   quietly at the first thing that is not one: -G and $GIDLIST are
   refused whole when any part is wrong (the gids of a privilege drop).
   Nor setgroups_and_gid below: it puts the gid of -g into the group list,
   where -G alone says what the list is (as ucspi-tcp's tcpserver). */
static size_t scan_gidlist (char const *s, gid_t *tab, char const *what)
{
  size_t n = 0 ;
  if (!*s) return 0 ;
  for (;;)
  {
    unsigned int u ;
    size_t len = uint_scan(s, &u) ;
    if (!len || n >= GIDLIST_MAX || (s[len] && s[len] != ',')) strerr_dief(100, "invalid ", what) ;
    tab[n++] = u ;
    s += len ;
    if (!*s) return n ;
    s++ ;
  }
}

static int is_any_zero (char const *s)
{
  return s[0] == '0' && !s[1] ;
}

/* The listening address: a numeric IPv4 or IPv6 literal, or "0" for
   0.0.0.0 as tcpserver takes it. Never a name: no DNS here. */
static void scan_ip (char const *s, ip46 *ip, int fam)
{
  size_t n ;
  if (is_any_zero(s))
  {
    if (fam == 6) { ip46_from_ip6(ip, IP6_ANY) ; return ; }
    ip46_from_ip4(ip, IP4_ANY) ;
    return ;
  }
  if (fam != 4 && strchr(s, ':'))
  {
    char ip6[16] ;
    n = ip6_scan(s, ip6) ;
    if (n && !s[n]) { ip46_from_ip6(ip, ip6) ; return ; }
  }
  else if (fam != 6)
  {
    char ip4[4] ;
    unsigned int dots = 0 ;
    char const *p = s ;
    /* ip4_scan takes 256.1.1.1: check each part ourselves. */
    for (;;)
    {
      unsigned int u ;
      size_t len = uint_scan(p, &u) ;
      if (!len || len > 3 || u > 255) break ;
      p += len ;
      if (!*p) { if (dots == 3) { n = ip4_scan(s, ip4) ; if (n == (size_t)(p - s)) { ip46_from_ip4(ip, ip4) ; return ; } } break ; }
      if (*p++ != '.' || ++dots > 3) break ;
    }
  }
  strerr_dief(100, "invalid ip address (numeric only, no DNS lookups): ", s) ;
}

/* One client: the same IPv4 address, or the same first v6prefix bits of
   an IPv6 address. */
static int same_client (ip46 const *a, ip46 const *b)
{
  unsigned int bytes, bits ;
  if (a->is6 != b->is6) return 0 ;
  if (!a->is6) return !memcmp(a->ip, b->ip, 4) ;
  bytes = v6prefix / 8 ;
  bits = v6prefix % 8 ;
  if (memcmp(a->ip, b->ip, bytes)) return 0 ;
  if (!bits) return 1 ;
  return !(((unsigned char)a->ip[bytes] ^ (unsigned char)b->ip[bytes]) & (0xff00u >> bits) & 0xff) ;
}

static unsigned int count_ip (ip46 const *ip)
{
  unsigned int n = 0 ;
  for (unsigned int i = 0 ; i < nconns ; i++)
    if (same_client(&conns[i].ip, ip)) n++ ;
  return n ;
}

/* The -m message, to a client refused by the per-address limit: one
   send that never waits (a new socket's buffer is empty, and a client
   that does not read loses only the message), then what the client has
   sent already is read and dropped, so that the close is a FIN and not
   a reset that would destroy the message on its way. */
static void tell_refused (int fd)
{
  char buf[1024] ;
  if (!refusemsglen) return ;
  if (send(fd, refusemsg, refusemsglen, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) return ;
  shutdown(fd, SHUT_WR) ;
  for (unsigned int i = 0 ; i < 16 ; i++)
    if (recv(fd, buf, sizeof buf, MSG_DONTWAIT) <= 0) break ;
}

static void killall (int sig)
{
  for (unsigned int i = 0 ; i < nconns ; i++) kill(conns[i].pid, sig) ;
}

static void fmt_conn (char *ipfmt, char *portfmt, ip46 const *ip, uint16_t port)
{
  ipfmt[ip46_fmt(ipfmt, ip)] = 0 ;
  portfmt[uint16_fmt(portfmt, port)] = 0 ;
}

static void reap (void)
{
  for (;;)
  {
    int wstat ;
    unsigned int i ;
    pid_t pid = wait_nohang(&wstat) ;
    if (pid < 0 && errno != ECHILD) strerr_diefusys(111, "wait for children") ;
    if (pid <= 0) return ;
    for (i = 0 ; i < nconns ; i++) if (conns[i].pid == pid) break ;
    if (i == nconns) continue ;  /* not one of ours (inherited) */
    if (verbosity >= 2)
    {
      char fpid[PID_FMT] ;
      char fip[IP46_FMT] ;
      char fport[UINT16_FMT] ;
      char fcode[UINT_FMT] ;
      char fn[UINT_FMT] ;
      char fmax[UINT_FMT] ;
      fpid[pid_fmt(fpid, pid)] = 0 ;
      fmt_conn(fip, fport, &conns[i].ip, conns[i].port) ;
      fcode[uint_fmt(fcode, WIFSIGNALED(wstat) ? WTERMSIG(wstat) : WEXITSTATUS(wstat))] = 0 ;
      fn[uint_fmt(fn, nconns - 1)] = 0 ;
      fmax[uint_fmt(fmax, maxconn)] = 0 ;
      strerr_warni("end pid ", fpid, " ip ", fip, " port ", fport,
        WIFSIGNALED(wstat) ? " signal " : " exit ", fcode, " conn ", fn, "/", fmax) ;
    }
    conns[i] = conns[--nconns] ;
  }
}

static void refuse (int fd, ip46 const *ip, uint16_t port, char const *why, unsigned int limit)
{
  fd_close(fd) ;
  if (verbosity >= 1)
  {
    char fip[IP46_FMT] ;
    char fport[UINT16_FMT] ;
    char flim[UINT_FMT] ;
    fmt_conn(fip, fport, ip, port) ;
    flim[uint_fmt(flim, limit)] = 0 ;
    strerr_warnw("refused ip ", fip, " port ", fport, ": ", why, " (", flim, ")") ;
  }
}

/* The child: the connection on fd 0 and fd 1, the UCSPI environment,
   signals back to normal (the mask empty, the trapped ones to their
   defaults), prog... run. posix_spawnp rather than fork + exec: glibc
   spawns with vfork semantics, so this process's page tables are not
   copied for every connection. Returns the pid, or 0 (logged). */
static pid_t spawn_child (int fd, ip46 const *ip, uint16_t port, unsigned int num, char const *const *argv, stralloc const *renv, stralloc const *rexec)
{
  static stralloc modifs = STRALLOC_ZERO ;
  extern char **environ ;
  size_t envlen = env_len((char const *const *)environ) ;
  size_t vmax = envlen + 10 + byte_count(renv->s, renv->len, '\0') + 1 ;
  char const *v[vmax] ;  /* the environment, 9 modifications, the rule's */
  char const *xargv[4] = { "execlineb", "-Pc", 0, 0 } ;
  posix_spawn_file_actions_t fa ;
  posix_spawnattr_t attr ;
  sigset_t none, trapped ;
  ip46 lip ;
  uint16_t lport ;
  char fip[IP46_FMT] ;
  char fport[UINT16_FMT] ;
  char fnum[UINT_FMT] ;
  pid_t pid ;
  int r ;

  if (socket_local46(fd, &lip, &lport) < 0) { strerr_warnwusys("getsockname") ; return 0 ; }
  if (flagnodelay && socket_tcpnodelay(fd) < 0) { strerr_warnwusys("set TCP_NODELAY") ; return 0 ; }
  modifs.len = 0 ;
  fmt_conn(fip, fport, &lip, lport) ;
  fnum[uint_fmt(fnum, num)] = 0 ;
  if (!env_addmodif(&modifs, "PROTO", "TCP")
   || !env_addmodif(&modifs, "TCPLOCALIP", fip)
   || !env_addmodif(&modifs, "TCPLOCALPORT", fport)
   || !env_addmodif(&modifs, "TCPCONNNUM", fnum)
   || !env_addmodif(&modifs, "TCPLOCALHOST", localname)
   || !env_addmodif(&modifs, "TCPREMOTEHOST", 0)
   || !env_addmodif(&modifs, "TCPREMOTEINFO", 0))
    goto nomem ;
  fmt_conn(fip, fport, ip, port) ;
  if (!env_addmodif(&modifs, "TCPREMOTEIP", fip)
   || !env_addmodif(&modifs, "TCPREMOTEPORT", fport))
    goto nomem ;
  /* The rule's env/ comes last, so it can set (or unset) anything. */
  if (renv->len && !stralloc_catb(&modifs, renv->s, renv->len)) goto nomem ;
  if (!env_merge(v, vmax, (char const *const *)environ, envlen, modifs.s, modifs.len)) goto nomem ;
  /* A rule's exec line replaces prog..., through execlineb as with
     s6-tcpserver-access and postie-tcpaccess. */
  if (rexec->len) { xargv[2] = rexec->s ; argv = xargv ; }

  sigemptyset(&none) ;
  sigemptyset(&trapped) ;
  sigaddset(&trapped, SIGCHLD) ; sigaddset(&trapped, SIGTERM) ; sigaddset(&trapped, SIGHUP) ;
  sigaddset(&trapped, SIGQUIT) ; sigaddset(&trapped, SIGABRT) ;
  r = posix_spawn_file_actions_init(&fa) ;
  if (r) { errno = r ; strerr_warnwusys("spawn ", argv[0]) ; return 0 ; }
  r = posix_spawnattr_init(&attr) ;
  if (r) { posix_spawn_file_actions_destroy(&fa) ; errno = r ; strerr_warnwusys("spawn ", argv[0]) ; return 0 ; }
  /* fd >= 3 (0, 1 and 2 are always open), so dup2 to 0 then 1 clobbers nothing */
  if (!(r = posix_spawn_file_actions_adddup2(&fa, fd, 0))
   && !(r = posix_spawn_file_actions_adddup2(&fa, fd, 1))
   && !(r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
   && !(r = posix_spawnattr_setsigmask(&attr, &none))
   && !(r = posix_spawnattr_setsigdefault(&attr, &trapped)))
    r = posix_spawnp(&pid, argv[0], &fa, &attr, (char *const *)argv, (char *const *)v) ;
  posix_spawnattr_destroy(&attr) ;
  posix_spawn_file_actions_destroy(&fa) ;
  if (r) { errno = r ; strerr_warnwusys("spawn ", argv[0]) ; return 0 ; }
  return pid ;
 nomem:
  strerr_warnwu1x("make the environment: out of memory") ;
  return 0 ;
}

/* The rules' refusal: the connection is closed, no process started. */
static void deny (int fd, ip46 const *ip, uint16_t port, char const *why)
{
  fd_close(fd) ;
  if (verbosity >= 1)
  {
    char fip[IP46_FMT] ;
    char fport[UINT16_FMT] ;
    fmt_conn(fip, fport, ip, port) ;
    strerr_warni("deny ip ", fip, " port ", fport, ": ", why) ;
  }
}

static void new_connection (int fd, ip46 const *ip, uint16_t port, char const *const *argv)
{
  static stralloc renv = STRALLOC_ZERO ;
  static stralloc rexec = STRALLOC_ZERO ;
  unsigned int n ;
  pid_t pid ;
  if (nconns >= maxconn) { refuse(fd, ip, port, "too many connections", maxconn) ; return ; }
  /* The rules first: a refused client is refused whatever the counts,
     and hears nothing (not even -m), as under postie-tcpaccess. */
  {
    char const *what ;
    switch (rules_check(ip, &renv, &rexec, &what))
    {
      case RULES_ALLOW : break ;
      case RULES_DENY : deny(fd, ip, port, "rule says deny") ; return ;
      case RULES_NOTFOUND : deny(fd, ip, port, "no rule matches") ; return ;
      default :
      {
        char fip[IP46_FMT] ;
        char fport[UINT16_FMT] ;
        int e = errno ;
        fd_close(fd) ;
        fmt_conn(fip, fport, ip, port) ;
        errno = e ;
        strerr_warnwusys(what, " access rules ", rules_dir ? rules_dir : rules_cdb,
          " for ip ", fip, " port ", fport) ;
        return ;
      }
    }
  }
  n = count_ip(ip) ;
  if (n >= localmaxconn)
  {
    tell_refused(fd) ;
    refuse(fd, ip, port, "too many connections from this ip", localmaxconn) ;
    return ;
  }
  pid = spawn_child(fd, ip, port, n + 1, argv, &renv, &rexec) ;
  fd_close(fd) ;
  if (!pid) return ;
  conns[nconns].pid = pid ;
  conns[nconns].ip = *ip ;
  conns[nconns].port = port ;
  nconns++ ;
  if (verbosity >= 2)
  {
    char fpid[PID_FMT] ;
    char fip[IP46_FMT] ;
    char fport[UINT16_FMT] ;
    char fn[UINT_FMT] ;
    char fmax[UINT_FMT] ;
    char fln[UINT_FMT] ;
    char flmax[UINT_FMT] ;
    fpid[pid_fmt(fpid, pid)] = 0 ;
    fmt_conn(fip, fport, ip, port) ;
    fn[uint_fmt(fn, nconns)] = 0 ;
    fmax[uint_fmt(fmax, maxconn)] = 0 ;
    fln[uint_fmt(fln, n + 1)] = 0 ;
    flmax[uint_fmt(flmax, localmaxconn)] = 0 ;
    strerr_warni("start pid ", fpid, " ip ", fip, " port ", fport,
      " conn ", fn, "/", fmax, " ipconn ", fln, "/", flmax) ;
  }
}

/* At maxconn: say so once, when it happens (the clients that come now
   wait in the backlog, nothing is refused). */
static void full_warn (void)
{
  static int said = 0 ;
  if (nconns < maxconn) { said = 0 ; return ; }
  if (said || verbosity < 1) return ;
  said = 1 ;
  {
    char fmax[UINT_FMT] ;
    fmax[uint_fmt(fmax, maxconn)] = 0 ;
    strerr_warnw("maxconn (", fmax, ") reached: new connections wait in the backlog") ;
  }
}

static void accept_some (int s, int is6, char const *const *argv)
{
  for (unsigned int i = 0 ; i < ACCEPT_BURST && nconns < maxconn ; i++)
  {
    ip46 ip = IP46_ZERO ;
    uint16_t port ;
    int fd = is6 ? socket_accept6_internal(s, ip.ip, &port, O_CLOEXEC)
                 : socket_accept4_internal(s, ip.ip, &port, O_CLOEXEC) ;
    if (fd < 0)
    {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return ;
      if (errno == ECONNABORTED || errno == EPROTO) continue ;
      /* Out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM):
         the connection stays in the backlog and the socket readable, so
         polling it again at once would spin. Leave it alone a second. */
      strerr_warnwusys("accept (pausing for a second)") ;
      tain_now_g() ;
      tain_addsec_g(&acceptpause, 1) ;
      return ;
    }
    ip.is6 = !!is6 ;
    new_connection(fd, &ip, port, argv) ;
  }
  full_warn() ;
}

static void notify_port (uint16_t port)
{
  char fmt[UINT16_FMT + 1] ;
  size_t n = uint16_fmt(fmt, port) ;
  fmt[n++] = '\n' ;
  if (allwrite(1, fmt, n) < n) strerr_diefusys(111, "write the port to stdout") ;
}

/* stdin and stdout are not used past the readiness line: /dev/null. */
static void close_std (void)
{
  int fd = open("/dev/null", O_RDWR | O_CLOEXEC) ;
  if (fd < 0) strerr_diefusys(111, "open /dev/null") ;
  if (fd_copy(0, fd) < 0 || fd_copy(1, fd) < 0) strerr_diefusys(111, "redirect stdin and stdout to /dev/null") ;
  fd_close(fd) ;
}

int main (int argc, char const *const *argv)
{
  int fam = 0 ;
  int flag1 = 0, flagU = 0 ;
  unsigned int backlog = 64 ;
  int hasuid = 0, hasgid = 0, hasgidlist = 0 ;
  uid_t uid = 0 ;
  gid_t gid = 0 ;
  gid_t gidlist[GIDLIST_MAX] ;
  size_t gidn = 0 ;
  ip46 ip ;
  uint16_t port ;
  int s, sfd ;
  PROG = "postie-tcpserver" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "qQv461c:C:n:m:b:G:g:u:UDdl:i:x:HRPOot:hpr", &l) ;
      if (opt == -1) break ;
      switch (opt)
      {
        case 'q' : verbosity = 0 ; break ;
        case 'Q' : verbosity = 1 ; break ;
        case 'v' : verbosity = 2 ; break ;
        case '4' : fam = 4 ; break ;
        case '6' : fam = 6 ; break ;
        case '1' : flag1 = 1 ; break ;
        case 'c' : maxconn = scan_uint(l.arg, "maxconn", MAXCONN_MAX) ; break ;
        case 'C' : localmaxconn = scan_uint(l.arg, "localmaxconn", MAXCONN_MAX) ; break ;
        case 'n' : v6prefix = scan_uint(l.arg, "v6prefix", 128) ; break ;
        case 'm' :
        {
          size_t len = strlen(l.arg) ;
          if (len > MESSAGE_MAX) strerr_dief(100, "invalid message: longer than 400 bytes") ;
          for (size_t i = 0 ; i < len ; i++)
            if ((unsigned char)l.arg[i] < 32 || l.arg[i] == 127) strerr_dief(100, "invalid message: control character") ;
          memcpy(refusemsg, l.arg, len) ;
          refusemsglen = len ;
          if (len) { refusemsg[refusemsglen++] = '\r' ; refusemsg[refusemsglen++] = '\n' ; }
          break ;
        }
        case 'b' : backlog = scan_uint(l.arg, "backlog", 65535) ; break ;
        case 'G' : gidn = scan_gidlist(l.arg, gidlist, "gidlist") ; hasgidlist = 1 ; break ;
        case 'g' : gid = scan_uint(l.arg, "gid", (unsigned int)-1 - 1) ; hasgid = 1 ; break ;
        case 'u' : uid = scan_uint(l.arg, "uid", (unsigned int)-1 - 1) ; hasuid = 1 ; break ;
        case 'U' : flagU = 1 ; break ;
        case 'D' : flagnodelay = 1 ; break ;
        case 'd' : flagnodelay = 0 ; break ;
        case 'l' : localname = l.arg ; break ;
        case 'i' : rules_dir = l.arg ; rules_cdb = 0 ; break ;
        case 'x' : rules_cdb = l.arg ; rules_dir = 0 ; break ;
        /* tcpserver options that ask for what postie-tcpserver always
           does (no DNS, no IDENT, IP options killed): accepted. */
        case 'H' : case 'R' : case 'P' : case 'O' : case 't' : break ;
        case 'o' : strerr_dief(100, "-o (keep IP options) is not supported") ;
        case 'h' : case 'p' : strerr_dief(100, "-h and -p need DNS lookups, which postie-tcpserver never does: use -H") ;
        case 'r' : strerr_dief(100, "-r needs IDENT lookups, which postie-tcpserver never does: use -R") ;
        default : dieusage() ;
      }
    }
    argc -= l.ind ; argv += l.ind ;
  }
  if (argc < 3) dieusage() ;
  if (!maxconn) strerr_dief(100, "maxconn must be at least 1") ;
  if (!localmaxconn) strerr_dief(100, "localmaxconn must be at least 1") ;
  if (!v6prefix) strerr_dief(100, "v6prefix must be at least 1") ;
  if (localmaxconn > maxconn) localmaxconn = maxconn ;
  if (!backlog) backlog = 1 ;
  scan_ip(argv[0], &ip, fam) ;
  port = scan_uint(argv[1], "port", 65535) ;

  if (flagU)
  {
    char const *x = getenv("UID") ;
    if (!x) strerr_dienotset(100, "UID") ;
    if (!hasuid) { uid = scan_uint(x, "$UID", (unsigned int)-1 - 1) ; hasuid = 1 ; }
    x = getenv("GID") ;
    if (!x) strerr_dienotset(100, "GID") ;
    if (!hasgid) { gid = scan_uint(x, "$GID", (unsigned int)-1 - 1) ; hasgid = 1 ; }
    x = getenv("GIDLIST") ;
    if (x && !hasgidlist) { gidn = scan_gidlist(x, gidlist, "$GIDLIST") ; hasgidlist = 1 ; }
  }

  /* 0, 1 and 2 always exist (on /dev/null if they did not), so that no
     socket lands on them. */
  if (!fd_sanitize()) strerr_diefusys(111, "reopen fds 0 to 2 on /dev/null") ;
  s = socket_tcp46_internal(ip.is6, O_NONBLOCK | O_CLOEXEC) ;
  if (s < 0) strerr_diefusys(111, "create socket") ;
  if (socket_bind46_reuse(s, &ip, port) < 0)
  {
    char fip[IP46_FMT] ;
    char fport[UINT16_FMT] ;
    fmt_conn(fip, fport, &ip, port) ;
    strerr_diefusys(111, "bind to ip ", fip, " port ", fport) ;
  }
  if (socket_listen(s, backlog) < 0) strerr_diefusys(111, "listen") ;
  {
    ip46 lip ;
    if (socket_local46(s, &lip, &port) < 0) strerr_diefusys(111, "getsockname") ;
  }

  /* Privileges go right after the bind, before anything else happens. */
  if (hasgidlist || hasgid)
  {
    if (!hasgidlist && hasgid) { gidlist[0] = gid ; gidn = 1 ; }
    if (setgroups(gidn, gidlist) < 0) strerr_diefusys(111, "setgroups") ;
  }
  if (hasgid && setgid(gid) < 0) strerr_diefusys(111, "setgid") ;
  if (hasuid && setuid(uid) < 0) strerr_diefusys(111, "setuid") ;

  sfd = selfpipe_init() ;
  if (sfd < 0) strerr_diefusys(111, "init selfpipe") ;
  {
    sigset_t set ;
    sigemptyset(&set) ;
    sigaddset(&set, SIGCHLD) ;
    sigaddset(&set, SIGTERM) ;
    sigaddset(&set, SIGHUP) ;
    sigaddset(&set, SIGQUIT) ;
    sigaddset(&set, SIGABRT) ;
    /* skalibs 2.13: 1 on success, 0 on failure (not -1) */
    if (!selfpipe_trapset(&set)) strerr_diefusys(111, "trap signals") ;
  }

  if (verbosity >= 2)
  {
    char fip[IP46_FMT] ;
    char fport[UINT16_FMT] ;
    char fmax[UINT_FMT] ;
    char flmax[UINT_FMT] ;
    fmt_conn(fip, fport, &ip, port) ;
    fmax[uint_fmt(fmax, maxconn)] = 0 ;
    flmax[uint_fmt(flmax, localmaxconn)] = 0 ;
    strerr_warni("listening on ip ", fip, " port ", fport, " maxconn ", fmax, " localmaxconn ", flmax) ;
  }
  if (flag1) notify_port(port) ;
  close_std() ;

  for (;;)
  {
    iopause_fd x[2] = { { .fd = sfd, .events = IOPAUSE_READ }, { .fd = s, .events = IOPAUSE_READ } } ;
    int paused, full, r ;
    tain_now_g() ;
    paused = tain_less(&STAMP, &acceptpause) ;
    full = nconns >= maxconn ;
    r = iopause_g(x, paused || full ? 1 : 2, paused ? &acceptpause : 0) ;
    if (r < 0)
    {
      if (errno == EINTR) continue ;
      strerr_diefusys(111, "iopause") ;
    }
    if (x[0].revents & (IOPAUSE_READ | IOPAUSE_EXCEPT))
    {
      for (;;)
      {
        int sig = selfpipe_read() ;
        if (sig < 0) strerr_diefusys(111, "read selfpipe") ;
        if (!sig) break ;
        switch (sig)
        {
          case SIGCHLD : reap() ; full_warn() ; break ;
          case SIGHUP : killall(SIGTERM) ; killall(SIGCONT) ; break ;
          case SIGQUIT : killall(SIGTERM) ; killall(SIGCONT) ; goto end ;
          case SIGABRT : killall(SIGKILL) ; goto end ;
          case SIGTERM : goto end ;
          default : break ;
        }
      }
    }
    if (!paused && !full && x[1].revents & (IOPAUSE_READ | IOPAUSE_EXCEPT)) accept_some(s, ip.is6, argv + 2) ;
  }

 end:
  if (verbosity >= 2)
  {
    char fn[UINT_FMT] ;
    fn[uint_fmt(fn, nconns)] = 0 ;
    strerr_warni("exiting, ", fn, " connections left to finish") ;
  }
  return 0 ;
}
