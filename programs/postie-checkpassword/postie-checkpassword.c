/* postie-checkpassword: the checkpassword interface on the users database.

   Reads "user\0password\0..." (at most 512 bytes) from fd 3, looks the user
   up in users/users.cdb and its hash in users/passwords.cdb (or, in a
   database compiled by an older postie-users, which has no passwords.cdb
   and a hash in users.cdb, there; a missing passwords.cdb next to a
   users.cdb without hashes is a temporary failure), compares crypt(3) hashes in constant time, and on
   success sets USER, HOME, SHELL and MAILDIR, drops to the user's uid and
   gid when run as root, chdirs to HOME and execs the rest of its argv.
   Exit 1 bad login, 2 misuse, 111 temporary error.

   In system mode it is set-gid to the group that alone may read
   passwords.cdb (postie-setup makes it so): that group is given up for
   good before anything else runs.

   -a (authentication only, e.g. for SMTP AUTH): set the environment and
   exec prog, but change neither the uid nor the directory.

   An unknown user, a user without a password and a uid 0 user cost one
   crypt(3) of a dummy hash made with the same method, so that the time
   taken does not tell which names exist. */

#define _GNU_SOURCE  /* setresgid */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <crypt.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/exec.h>
#include <skalibs/sgetopt.h>
#include <skalibs/setgroups.h>
#include <skalibs/strerr.h>
#include "postie.h"
#include "envmod.h"
#include "usersdb.h"
#include "userspw.h"

extern char **environ ;

#define USAGE "postie-checkpassword [ -a ] prog..."
#define INPUT_MAX 512

/* No allocation anywhere (the databases' records go into fixed buffers,
   prog's environment is built on the stack by envmod): musl's malloc
   stays out of this program's text (doc/design.md, "Size"). */
static char up[INPUT_MAX + 1] ;
static struct crypt_data cd ;
static char rec[USERSDB_RECORD_MAX] ;
static char pwrec[USERSDB_RECORD_MAX] ;
/* USER=, HOME=, SHELL=/bin/sh and MAILDIR=, each NUL-terminated */
static char modifs[USERSDB_RECORD_MAX + 64] ;

static void wipe (void)
{
  memset(up, 0, sizeof up) ;
  memset(&cd, 0, sizeof cd) ;
  memset(pwrec, 0, sizeof pwrec) ;
}

static size_t addvar (size_t m, char const *var, char const *value)
{
  size_t vlen = strlen(var), len = strlen(value) ;
  if (m + vlen + len + 1 > sizeof modifs) strerr_dief(101, "the environment does not fit (a bug: modifs is larger than any record)") ;
  memcpy(modifs + m, var, vlen) ;
  memcpy(modifs + m + vlen, value, len + 1) ;
  return m + vlen + len + 1 ;
}

static void die_usage (void) { wipe() ; strerr_dieusage(2, USAGE) ; }

/* Execs prog (through PATH) with our environment, every USER, HOME,
   SHELL and MAILDIR in it (a duplicate included) replaced by modifs'. */
static void execprog (char const *const *argv, size_t m)
{
  size_t vmax = envmod_size((char const *const *)environ, modifs, m) ;
  if (!vmax) strerr_dief(111, "the environment holds more than " ENVMOD_MAXS " variables") ;
  {
    char const *v[vmax] ;
    if (envmod(v, vmax, (char const *const *)environ, modifs, m) < 0) strerr_diefusys(111, "set the environment") ;
    exec_ae(argv[0], argv, v) ;
  }
  strerr_diefusys(111, "exec ", argv[0]) ;
}
static void die_temp (char const *what) { wipe() ; strerr_diefusys(111, what) ; }

/* The name as it may appear in a log line: printable ASCII, at most 64
   bytes. */
static void logname (char *out, char const *name)
{
  size_t i = 0 ;
  for (; name[i] && i < 64 ; i++)
    out[i] = (unsigned char)name[i] > 32 && (unsigned char)name[i] < 127 ? name[i] : '?' ;
  out[i] = 0 ;
}

static void die_bad (char const *name, char const *why)
{
  char n[65] ;
  char const *ip = getenv("TCPREMOTEIP") ;
  logname(n, name) ;
  wipe() ;
  strerr_warni("login failed for ", n, ip ? " from " : "", ip ? ip : "", ": ", why) ;
  _exit(1) ;
}

/* 1 if the NUL-terminated strings are equal; the time taken depends only
   on the length of want. */
static int ctequal (char const *got, char const *want)
{
  size_t glen = strlen(got), wlen = strlen(want), i = 0 ;
  unsigned char d = glen != wlen ;
  for (; i < wlen ; i++) d |= (unsigned char)want[i] ^ (unsigned char)(i < glen ? got[i] : 0) ;
  return !d ;
}

/* The work an unknown user costs: one crypt(3) with the preferred method,
   as postie-users uses for new hashes. */
static void dummyhash (char const *pw)
{
  char salt[CRYPT_GENSALT_OUTPUT_SIZE] ;
  if (!crypt_gensalt_rn(0, 0, 0, 0, salt, sizeof salt)) die_temp("make a salt") ;
  crypt_rn(pw, salt, &cd, sizeof cd) ;
}

/* Over 80 lines: the checkpassword steps in their order (read fd 3,
   look up, check, set the environment, drop to the user, exec), each
   wiping what it must on failure. */
int main (int argc, char const *const *argv)
{
  usersdb_entry e ;
  char const *hash = "" ;
  size_t len = 0, ulen, m = 0 ;
  char const *name, *pw, *h ;
  int r ;
  int authonly = 0 ;
  int here = -1 ;
  PROG = "postie-checkpassword" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "a", &l) ;
      if (opt == -1) break ;
      switch (opt)
      {
        case 'a' : authonly = 1 ; break ;
        default : die_usage() ;
      }
    }
    argc -= l.ind ; argv += l.ind ;
  }
  if (argc < 1) die_usage() ;

  for (;;)
  {
    ssize_t n = fd_read(3, up + len, INPUT_MAX - len) ;
    if (n < 0) { if (errno == EBADF) die_usage() ; die_temp("read fd 3") ; }
    if (!n) break ;
    len += n ;
    if (len == INPUT_MAX) break ;
  }
  close(3) ;
  name = up ;
  {
    char const *z = memchr(up, 0, len) ;
    if (!z) die_usage() ;
    ulen = z - up ;
    pw = z + 1 ;
    if (!memchr(pw, 0, len - ulen - 1)) die_usage() ;
  }

  if (authonly)
  {
    here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
    if (here < 0) die_temp("open the current directory") ;
  }
  if (chdir(postie_home()) < 0) die_temp("chdir to the instance") ;
  r = ulen ? usersdb_findb(name, ulen, &e, rec, sizeof rec) : 0 ;
  if (r < 0) die_temp("read " USERSDB_FILE) ;
  if (r)
  {
    int p = userspw_find(name, ulen, pwrec, sizeof pwrec) ;
    if (p > 0) hash = pwrec ;
    else if (p < 0 && errno == ENOENT && e.hash[0]) hash = e.hash ;  /* an older database */
    else if (p < 0) die_temp("read " USERSPW_FILE) ;
  }
  if (!r || !hash[0] || hash[0] == '!' || hash[0] == '*')
  {
    dummyhash(pw) ;
    die_bad(name, r ? "no password set" : "unknown user") ;
  }
  h = crypt_rn(pw, hash, &cd, sizeof cd) ;
  if (!h || !ctequal(h, hash)) die_bad(name, h ? "wrong password" : "unusable hash") ;
  if (!e.uid) die_bad(name, "uid 0 may not log in") ;
  if (!e.gid) die_bad(name, "gid 0 may not log in") ;
  /* usersdb keeps a database mapped between lookups: the hashes of
     every user are not to stay mapped past the check (the records used
     below were copied into rec). */
  usersdb_close() ;
  wipe() ;
  /* The set-gid group (the right to read the hashes) ends here, saved
     gid included, before the next program runs. */
  if (getegid() != getgid())
  {
    gid_t g = getgid() ;
    if (setresgid(g, g, g) < 0) die_temp("give up the set-gid group") ;
  }

  m = addvar(m, "USER=", e.name) ;
  m = addvar(m, "HOME=", e.home) ;
  m = addvar(m, "SHELL=", "/bin/sh") ;
  m = addvar(m, "MAILDIR=", e.maildir) ;
  if (authonly)
  {
    if (fchdir(here) < 0) die_temp("return to the current directory") ;
    goto exec ;
  }
  if (geteuid() == 0)
  {
    if (setgroups_and_gid(e.gid, 0, 0) < 0 || setgid(e.gid) < 0) die_temp("set the gid") ;
    if (setuid(e.uid) < 0) die_temp("set the uid") ;
  }
  if (chdir(e.home) < 0) die_temp("chdir to the home directory") ;
 exec:
  execprog(argv, m) ;
}
