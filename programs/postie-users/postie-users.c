/* postie-users: keep the users database.

   users/users is the text source (one user a line, doc/users.md);
   users/users.cdb is what delivery and the RCPT check read (usersdb.h),
   without the hashes; users/passwords.cdb holds the hashes alone, for the
   checkpassword step (userspw.h), so that a uid that may read the first
   need not be able to read the second. Every command takes users/lock,
   edits users/users (if it edits) by writing a temporary file, fsync,
   rename, fsync of users/, then compiles passwords.cdb and users.cdb the
   same way, in that order (a user being added has its hash before it
   exists; one being deleted loses it first). A reader therefore sees the
   old database or the new one, never half of one; a crash between the
   renames leaves the new text with an old database, and the next run of
   postie-users compiles it.

   Passwords come on stdin (one line), never from argv, and are stored as
   crypt(3) hashes with libcrypt's preferred method (yescrypt on Debian 12),
   made by postie-users-hash. Every compile also runs postie-users-hash -c
   once over the hashes of users/users, and warns of each one this build's
   libxcrypt cannot verify (doc/postie-users.md, "Hash methods"). */

#define _GNU_SOURCE  /* memfd_create */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>  /* rename */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/buffer.h>
#include <skalibs/bytestr.h>
#include <skalibs/cdbmake.h>
#include <skalibs/djbunix.h>
#include <skalibs/genalloc.h>
#include <skalibs/sgetopt.h>
#include <skalibs/skamisc.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "exec_sibling.h"
#include "fsync_dir.h"
#include "postie.h"
#include "usersdb.h"
#include "usersline.h"
#include "userspw.h"

#define USAGE "postie-users [ add [ -n ] name uid gid home [ maildir ] | passwd [ -n ] name | del name | hash ]"
#define dieusage() strerr_dieusage(100, USAGE)

#define SOURCE "users/users"
#define SOURCE_TMP "users/users.tmp"
#define CDB_TMP "users/users.cdb.tmp"
#define PW_TMP "users/passwords.cdb.tmp"
#define LOCKFILE "users/lock"
#define HASH_MAX 512  /* doc/users.md */

typedef struct ent_s ent ;
struct ent_s
{
  usersline u ;
  size_t off ;       /* the line in the source text */
  size_t len ;       /* without its '\n' */
  unsigned long line ;
  int unusable ;     /* the hash is of a method this build cannot verify */
} ;

static stralloc src = STRALLOC_ZERO ;
static genalloc ents = GENALLOC_ZERO ;  /* ent */

static void die_nomem (void) { strerr_diefu(111, "allocate memory") ; }

/* Names hold no NUL (usersline_parse refuses control characters; argv
   cannot hold one), so the stop at a NUL of skalibs' case_equalb and
   case_diffb (strncasecmp in 2.13) never comes early. */
static int lowereq (char const *a, size_t alen, char const *b, size_t blen)
{
  return alen == blen && case_equalb(a, alen, b) ;
}

static int lowercmp (ent const *a, ent const *b)
{
  size_t n = a->u.namelen < b->u.namelen ? a->u.namelen : b->u.namelen ;
  int d = case_diffb(a->u.name, n, b->u.name) ;
  if (d) return d < 0 ? -1 : 1 ;
  if (a->u.namelen != b->u.namelen) return a->u.namelen < b->u.namelen ? -1 : 1 ;
  return a->line < b->line ? -1 : a->line > b->line ;
}

static int entcmp (void const *a, void const *b)
{
  return lowercmp(*(ent const *const *)a, *(ent const *const *)b) ;
}

static void warnline (unsigned long line, char const *why)
{
  char fmt[ULONG_FMT] ;
  fmt[ulong_fmt(fmt, line)] = 0 ;
  strerr_warnw(SOURCE, " line ", fmt, ": ", why) ;
}

/* Parse the whole source: every malformed line and every duplicate name is
   reported with its line number. Returns the number of errors. */
static unsigned long parse (void)
{
  unsigned long errs = 0, line = 0 ;
  size_t i = 0 ;
  ent **idx ;
  size_t n ;
  genalloc_setlen(ent, &ents, 0) ;
  while (i < src.len)
  {
    char const *why = 0 ;
    ent e ;
    char const *nl = memchr(src.s + i, '\n', src.len - i) ;
    size_t len = nl ? (size_t)(nl - (src.s + i)) : src.len - i ;
    int r ;
    line++ ;
    if (memchr(src.s + i, 0, len)) { r = -1 ; why = "NUL byte in line" ; }
    else r = usersline_parse(src.s + i, len, &e.u, &why) ;
    if (r < 0) { warnline(line, why) ; errs++ ; }
    else if (r > 0)
    {
      e.off = i ; e.len = len ; e.line = line ; e.unusable = 0 ;
      if (!genalloc_append(ent, &ents, &e)) die_nomem() ;
    }
    i += len + 1 ;
  }

  n = genalloc_len(ent, &ents) ;
  if (n < 2) return errs ;
  idx = malloc(n * sizeof(ent *)) ;
  if (!idx) die_nomem() ;
  for (i = 0 ; i < n ; i++) idx[i] = genalloc_s(ent, &ents) + i ;
  qsort(idx, n, sizeof(ent *), &entcmp) ;
  for (i = 1 ; i < n ; i++)
    if (lowereq(idx[i-1]->u.name, idx[i-1]->u.namelen, idx[i]->u.name, idx[i]->u.namelen))
    {
      char fmt[ULONG_FMT] ;
      char lfmt[ULONG_FMT] ;
      fmt[ulong_fmt(fmt, idx[i-1]->line)] = 0 ;
      lfmt[ulong_fmt(lfmt, idx[i]->line)] = 0 ;
      strerr_warnw(SOURCE, " line ", lfmt, ": duplicate name (first on line ", fmt, ")") ;
      errs++ ;
    }
  free(idx) ;
  return errs ;
}

static void load (int mustexist)
{
  src.len = 0 ;
  if (!openslurpclose(&src, SOURCE))
  {
    if (errno != ENOENT || mustexist) strerr_diefusys(111, "read ", SOURCE) ;
    src.len = 0 ;
  }
  if (parse()) strerr_dief(100, SOURCE, " has errors: nothing changed") ;
}

static ent *lookup (char const *name)
{
  size_t n = genalloc_len(ent, &ents), i = 0 ;
  size_t len = strlen(name) ;
  ent *e = genalloc_s(ent, &ents) ;
  for (; i < n ; i++)
    if (lowereq(e[i].u.name, e[i].u.namelen, name, len)) return e + i ;
  return 0 ;
}

static void syncdir (void)
{
  if (fsync_dir("users") < 0) strerr_diefusys(111, "fsync users/") ;
}

/* Give tmp the mode and owner of target if it exists, else mode def. */
static void perms (int fd, char const *tmp, char const *target, unsigned int def)
{
  struct stat st ;
  if (stat(target, &st) < 0)
  {
    if (errno != ENOENT) strerr_diefusys(111, "stat ", target) ;
    if (fchmod(fd, def) < 0) strerr_diefusys(111, "chmod ", tmp) ;
    return ;
  }
  if (geteuid() == 0 && fchown(fd, st.st_uid, st.st_gid) < 0) strerr_diefusys(111, "chown ", tmp) ;
  if (fchmod(fd, st.st_mode & 07777) < 0) strerr_diefusys(111, "chmod ", tmp) ;
}

static void commit (int fd, char const *tmp, char const *target)
{
  if (fsync(fd) < 0) strerr_diefusys(111, "fsync ", tmp) ;
  if (close(fd) < 0) strerr_diefusys(111, "close ", tmp) ;
  if (rename(tmp, target) < 0) strerr_diefusys(111, "rename ", tmp, " to ", target) ;
  syncdir() ;
}

static void writesource (void)
{
  int fd = open(SOURCE_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) ;
  if (fd < 0) strerr_diefusys(111, "create ", SOURCE_TMP) ;
  perms(fd, SOURCE_TMP, SOURCE, 0600) ;
  if (allwrite(fd, src.s, src.len) < src.len) strerr_diefusys(111, "write ", SOURCE_TMP) ;
  commit(fd, SOURCE_TMP, SOURCE) ;
}

/* One cdb: users.cdb (hashes 0: the hash field empty) or passwords.cdb
   (hashes 1: the hash alone). */
static void compile1 (int hashes, char const *tmp, char const *target, unsigned int mode)
{
  cdbmaker c = CDBMAKER_ZERO ;
  stralloc data = STRALLOC_ZERO ;
  size_t n = genalloc_len(ent, &ents), i = 0 ;
  ent const *e = genalloc_s(ent const, &ents) ;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) ;
  if (fd < 0) strerr_diefusys(111, "create ", tmp) ;
  perms(fd, tmp, target, mode) ;
  if (!cdbmake_start(&c, fd)) strerr_diefusys(111, "start ", tmp) ;
  for (; i < n ; i++)
  {
    char key[USERSDB_NAME_MAX] ;
    char fmt[UINT32_FMT] ;
    memcpy(key, e[i].u.name, e[i].u.namelen) ;
    case_lowerb(key, e[i].u.namelen) ;
    data.len = 0 ;
    if (hashes)
    {
      if (!stralloc_catb(&data, e[i].u.hash, e[i].u.hashlen) || !stralloc_0(&data)) die_nomem() ;
    }
    else if (!stralloc_0(&data)
     || !stralloc_catb(&data, fmt, uint32_fmt(fmt, e[i].u.uid)) || !stralloc_0(&data)
     || !stralloc_catb(&data, fmt, uint32_fmt(fmt, e[i].u.gid)) || !stralloc_0(&data)
     || !stralloc_catb(&data, e[i].u.home, e[i].u.homelen) || !stralloc_0(&data)
     || !stralloc_catb(&data, e[i].u.maildir, e[i].u.maildirlen) || !stralloc_0(&data))
      die_nomem() ;
    if (!cdbmake_add(&c, key, e[i].u.namelen, data.s, data.len))
      strerr_diefusys(111, "write ", tmp) ;
  }
  if (!cdbmake_finish(&c)) strerr_diefusys(111, "write ", tmp) ;
  commit(fd, tmp, target) ;
  stralloc_free(&data) ;
}

static void compile (void)
{
  compile1(1, PW_TMP, USERSPW_FILE, 0600) ;
  compile1(0, CDB_TMP, USERSDB_FILE, 0640) ;
}

static void lock (void)
{
  int fd ;
  if (mkdir("users", 0700) < 0 && errno != EEXIST) strerr_diefusys(111, "mkdir users") ;
  fd = open(LOCKFILE, O_RDWR | O_CREAT | O_CLOEXEC, 0600) ;
  if (fd < 0) strerr_diefusys(111, "open ", LOCKFILE) ;
  if (fd_lock(fd, 1, 0) < 1) strerr_diefusys(111, "lock ", LOCKFILE) ;
  /* held until exit */
}

/* Starts postie-users-hash with argv (libxcrypt is linked there alone):
   its stdin is fd in (ours when in < 0), its stdout a pipe whose reading
   end goes to *out. */
/* advisory: the run is the hash check, whose failure is only a warning
   (checkhashes): the child's exec failure is then a warning too. */
static pid_t spawnhash (char const *const *argv, int in, int *out, int advisory)
{
  int p[2] ;
  pid_t pid ;
  if (pipe(p) < 0) strerr_diefusys(111, "create a pipe") ;
  pid = fork() ;
  if (pid < 0) strerr_diefusys(111, "fork") ;
  if (!pid)
  {
    if (dup2(p[1], 1) < 0 || (in >= 0 && dup2(in, 0) < 0)) strerr_diefusys(111, "dup2") ;
    close(p[0]) ; close(p[1]) ;
    exec_sibling(argv[0], argv) ;
    if (advisory) { strerr_warnwusys("exec ", argv[0]) ; _exit(111) ; }
    strerr_diefusys(111, "exec ", argv[0]) ;
  }
  close(p[1]) ;
  *out = p[0] ;
  return pid ;
}

/* Its exit code; a crash is ours, 111. */
static int waithash (pid_t pid)
{
  int st ;
  if (waitpid(pid, &st, 0) < 0) strerr_diefusys(111, "wait for postie-users-hash") ;
  if (WIFSIGNALED(st)) strerr_dief(111, "postie-users-hash crashed") ;
  return WEXITSTATUS(st) ;
}

/* The hash of the password on stdin, into out (HASH_MAX + 2 bytes):
   postie-users-hash reads stdin and makes it; its errors are its own,
   and its exit code becomes ours. */
static void newhash (char *out)
{
  char const *argv[2] = { "postie-users-hash", 0 } ;
  size_t len = 0 ;
  int fd, st ;
  pid_t pid = spawnhash(argv, -1, &fd, 0) ;
  for (;;)
  {
    ssize_t r = fd_read(fd, out + len, HASH_MAX + 1 - len) ;
    if (r < 0) strerr_diefusys(111, "read from postie-users-hash") ;
    if (!r) break ;
    len += r ;
    if (len > HASH_MAX) break ;
  }
  close(fd) ;
  st = waithash(pid) ;
  if (st) _exit(st) ;
  if (len < 2 || len > HASH_MAX || out[len - 1] != '\n' || memchr(out, ':', len) || memchr(out, 0, len))
    strerr_dief(111, "postie-users-hash returned an unusable hash") ;
  out[len - 1] = 0 ;
}

/* The crypt(3) methods, by the prefix of their hashes (crypt(5)), to
   name the one a warning is about. The build alone knows which it
   verifies (postie-users-hash -c). */
static struct { char const *prefix ; char const *name ; } const methods[] =
{
  { "$y$", "$y$ (yescrypt)" },
  { "$gy$", "$gy$ (gost-yescrypt)" },
  { "$7$", "$7$ (scrypt)" },
  { "$2b$", "$2b$ (bcrypt)" },
  { "$2y$", "$2y$ (bcrypt)" },
  { "$2a$", "$2a$ (bcrypt)" },
  { "$2x$", "$2x$ (bcrypt)" },
  { "$6$", "$6$ (SHA-512 crypt)" },
  { "$5$", "$5$ (SHA-256 crypt)" },
  { "$sha1", "$sha1 (SHA-1 crypt)" },
  { "$md5", "$md5 (Sun MD5 crypt)" },
  { "$1$", "$1$ (MD5 crypt)" },
  { "$3$", "$3$ (NT hash)" },
  { "_", "_ (BSDi extended DES)" },
} ;

static int dessaltchar (char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '/' ;
}

/* The name of the method of a hash, 0 if none: a hash that is no crypt(3)
   hash at all, or that holds a byte crypt(5) says no hash holds (only
   printable ASCII, no ';', '*', '!' or '\'; users/users already refuses
   spaces, ':' and control characters). */
static char const *methodof (char const *h, size_t len)
{
  size_t i = 0 ;
  for (; i < len ; i++)
    if (h[i] == ';' || h[i] == '*' || h[i] == '!' || h[i] == '\\' || (unsigned char)h[i] >= 127) return 0 ;
  for (i = 0 ; i < sizeof methods / sizeof *methods ; i++)
  {
    size_t n = strlen(methods[i].prefix) ;
    if (len >= n && !memcmp(h, methods[i].prefix, n)) return methods[i].name ;
  }
  if (h[0] == '$') return 0 ;
  return len >= 2 && dessaltchar(h[0]) && dessaltchar(h[1]) ? "DES (traditional crypt, no $ prefix)" : 0 ;
}

static int nologin (usersline const *u)
{
  return !u->hashlen || u->hash[0] == '!' || u->hash[0] == '*' ;
}

/* One run of postie-users-hash -c over every hash that allows a login
   (its stdin a memfd, so that neither side waits on a full pipe):
   libxcrypt's crypt_checksalt, in this build, of each; then a warning
   for each user whose hash this build cannot verify. The compile goes
   on: one user's hash must not stop everyone's database (doc/users.md);
   the warning says how to repair it. The check is advice: when it
   cannot be made (postie-users-hash missing, crashed or answering
   oddly), one warning says why and the compile goes on without it, so
   that a broken helper never stops an admin from revoking a user. */
static void checkhashes_warn (char const *why, char const *why2, char const *why3, int e)
{
  if (e) strerr_warnw("unable to check the hash methods: ", why, why2, why3, ": ", strerror(e), "; compiled without the check") ;
  else strerr_warnw("unable to check the hash methods: ", why, why2, why3, "; compiled without the check") ;
}

static void checkhashes (void)
{
  char const *argv[3] = { "postie-users-hash", "-c", 0 } ;
  size_t n = genalloc_len(ent, &ents), i = 0 ;
  ent *e = genalloc_s(ent, &ents) ;
  stralloc in = STRALLOC_ZERO ;
  char const *why = 0 ;
  int why_errno = 0 ;
  char buf[4096] ;
  buffer b ;
  int fd, out, st ;
  pid_t pid ;
  for (; i < n ; i++)
    if (!nologin(&e[i].u) && (!stralloc_catb(&in, e[i].u.hash, e[i].u.hashlen) || !stralloc_catb(&in, "\n", 1)))
      die_nomem() ;
  if (!in.len) return ;
  fd = memfd_create("postie-users-hashes", MFD_CLOEXEC) ;
  if (fd < 0) { stralloc_free(&in) ; checkhashes_warn("create a memfd for postie-users-hash -c", "", "", errno) ; return ; }
  if (allwrite(fd, in.s, in.len) < in.len || lseek(fd, 0, SEEK_SET) < 0)
  {
    int err = errno ;
    close(fd) ; stralloc_free(&in) ;
    checkhashes_warn("write the hashes for postie-users-hash -c", "", "", err) ;
    return ;
  }
  stralloc_free(&in) ;
  pid = spawnhash(argv, fd, &out, 1) ;
  close(fd) ;
  buffer_init(&b, &buffer_read, out, buf, sizeof buf) ;
  for (i = 0 ;; i++)
  {
    char v[16] ;
    size_t w = 0 ;
    int r ;
    while (i < n && nologin(&e[i].u)) i++ ;
    r = getlnmax(&b, v, sizeof v, &w, '\n') ;
    if (r < 0 && errno != ERANGE) { why = "read from postie-users-hash -c" ; why_errno = errno ; break ; }
    if (!r && !w) break ;
    if (r <= 0 || i >= n) { why = "postie-users-hash -c gave an unexpected answer" ; break ; }
    v[w - 1] = 0 ;
    if (!strcmp(v, "invalid") || !strcmp(v, "disabled")) e[i].unusable = 1 ;
    else if (strcmp(v, "ok") && strcmp(v, "legacy") && strcmp(v, "too-cheap"))
    {
      why = "postie-users-hash -c gave an unexpected answer" ;
      break ;
    }
  }
  /* Closed before the wait: a helper still writing gets EPIPE, never
     blocks us. */
  close(out) ;
  if (waitpid(pid, &st, 0) < 0)
  {
    if (!why) { why = "wait for postie-users-hash -c" ; why_errno = errno ; }
  }
  else if (WIFSIGNALED(st))
  {
    if (!why) why = "postie-users-hash -c crashed" ;
  }
  else if (WEXITSTATUS(st) && !why)
  {
    char fmt[UINT_FMT] ;
    fmt[uint_fmt(fmt, WEXITSTATUS(st))] = 0 ;
    checkhashes_warn("postie-users-hash -c failed (exit ", fmt, ")", 0) ;
    return ;
  }
  if (!why)
  {
    while (i < n && nologin(&e[i].u)) i++ ;
    if (i < n) why = "postie-users-hash -c gave too few answers" ;
  }
  if (why) { checkhashes_warn(why, "", "", why_errno) ; return ; }

  for (i = 0 ; i < n ; i++)
    if (e[i].unusable)
    {
      char const *m = methodof(e[i].u.hash, e[i].u.hashlen) ;
      char name[USERSDB_NAME_MAX + 1] ;
      char fmt[ULONG_FMT] ;
      memcpy(name, e[i].u.name, e[i].u.namelen) ;
      name[e[i].u.namelen] = 0 ;
      fmt[ulong_fmt(fmt, e[i].line)] = 0 ;
      if (m)
        strerr_warnw(SOURCE, " line ", fmt, ": ", name, ": hash method ", m,
          " is not supported by this build; ", name, " cannot log in until given a new password (postie-users passwd ", name, ")") ;
      else
        strerr_warnw(SOURCE, " line ", fmt, ": ", name, ": hash is not a crypt(3) hash this build can verify; ",
          name, " cannot log in until given a new password (postie-users passwd ", name, ")") ;
    }
}

static void checkarg (char const *what, char const *s)
{
  for (; *s ; s++)
    if (*s == ':' || (unsigned char)*s < 32 || *s == 127)
      strerr_dief(100, "invalid ", what, ": no ':' and no control characters allowed") ;
}

static void add (int nopass, char const *const *argv)
{
  char hash[HASH_MAX + 2] = "!" ;
  stralloc line = STRALLOC_ZERO ;
  usersline u ;
  char const *why ;
  unsigned int i = 0 ;
  for (; i < 5 && argv[i] ; i++)
    checkarg(i == 0 ? "name" : i == 1 ? "uid" : i == 2 ? "gid" : i == 3 ? "home" : "maildir", argv[i]) ;
  if (!nopass) newhash(hash) ;
  if (!stralloc_cats(&line, argv[0]) || !stralloc_catb(&line, ":", 1)
   || !stralloc_cats(&line, hash)
   || !stralloc_catb(&line, ":", 1) || !stralloc_cats(&line, argv[1])
   || !stralloc_catb(&line, ":", 1) || !stralloc_cats(&line, argv[2])
   || !stralloc_catb(&line, ":", 1) || !stralloc_cats(&line, argv[3])) die_nomem() ;
  if (argv[4] && (!stralloc_catb(&line, ":", 1) || !stralloc_cats(&line, argv[4]))) die_nomem() ;
  switch (usersline_parse(line.s, line.len, &u, &why))
  {
    case 1 : break ;
    case 0 : strerr_dief(100, "invalid user: the name starts with # or a blank") ;
    default : strerr_dief(100, "invalid user: ", why) ;
  }

  lock() ;
  load(0) ;
  if (lookup(argv[0])) strerr_dief(100, "user ", argv[0], " already exists") ;
  if (src.len && src.s[src.len - 1] != '\n' && !stralloc_catb(&src, "\n", 1)) die_nomem() ;
  if (!stralloc_catb(&src, line.s, line.len) || !stralloc_catb(&src, "\n", 1)) die_nomem() ;
  stralloc_free(&line) ;
}

static void passwd (int nopass, char const *name)
{
  char hash[HASH_MAX + 2] = "!" ;
  stralloc edited = STRALLOC_ZERO ;
  ent *e ;
  size_t hoff, hlen ;
  if (!nopass) newhash(hash) ;
  lock() ;
  load(1) ;
  e = lookup(name) ;
  if (!e) strerr_dief(100, "no user ", name, " in ", SOURCE) ;
  hoff = e->u.hash - src.s ; hlen = e->u.hashlen ;
  if (!stralloc_catb(&edited, src.s, hoff) || !stralloc_cats(&edited, hash)
   || !stralloc_catb(&edited, src.s + hoff + hlen, src.len - hoff - hlen)
   || !stralloc_copyb(&src, edited.s, edited.len)) die_nomem() ;
  stralloc_free(&edited) ;
}

static void del (char const *name)
{
  ent *e ;
  size_t end ;
  lock() ;
  load(1) ;
  e = lookup(name) ;
  if (!e) strerr_dief(100, "no user ", name, " in ", SOURCE) ;
  end = e->off + e->len + 1 ;
  if (end > src.len) end = src.len ;
  memmove(src.s + e->off, src.s + end, src.len - end) ;
  src.len -= end - e->off ;
}

int main (int argc, char const *const *argv)
{
  char const *cmd ;
  int nopass = 0 ;
  PROG = "postie-users" ;
  umask(077) ;
  if (argc < 1) dieusage() ;
  argc-- ; argv++ ;
  cmd = argc ? argv[0] : "" ;

  if (!strcmp(cmd, "hash"))
  {
    char const *hargv[2] = { "postie-users-hash", 0 } ;
    if (argc != 1) dieusage() ;
    exec_sibling(hargv[0], hargv) ;
    strerr_diefusys(111, "exec ", hargv[0]) ;
  }

  if (argc && (!strcmp(cmd, "add") || !strcmp(cmd, "passwd")))
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "n", &l) ;
      if (opt == -1) break ;
      switch (opt)
      {
        case 'n' : nopass = 1 ; break ;
        default : dieusage() ;
      }
    }
    argc -= l.ind ; argv += l.ind ;
  }
  else if (argc) { argc-- ; argv++ ; }

  if (chdir(postie_home()) < 0) strerr_diefusys(111, "chdir to ", postie_home()) ;

  if (!*cmd)
  {
    lock() ;
    load(1) ;
    checkhashes() ;
    compile() ;
    return 0 ;
  }
  else if (!strcmp(cmd, "add"))
  {
    if (argc < 4 || argc > 5) dieusage() ;
    add(nopass, argv) ;
  }
  else if (!strcmp(cmd, "passwd"))
  {
    if (argc != 1) dieusage() ;
    passwd(nopass, argv[0]) ;
  }
  else if (!strcmp(cmd, "del"))
  {
    if (argc != 1) dieusage() ;
    del(argv[0]) ;
  }
  else dieusage() ;

  if (parse()) strerr_dief(101, "the edited ", SOURCE, " does not parse: nothing changed") ;
  checkhashes() ;
  writesource() ;
  compile() ;
  return 0 ;
}
