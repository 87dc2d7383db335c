/* rules.c: postie-tcpserver's access rules: s6's, by client address
   (lib/accessrules.c, which postie-tcpaccess uses too), checked in the
   server itself, so that a session needs no postie-tcpaccess exec and a
   refused client gets no process at all.

   The server lives long and the admin may rebuild the cdb at any time
   (s6-accessrules-cdb-from-fs renames the new file over the old): each
   connection stats the file (one system call) and, when its device,
   inode, size, modification or change time differ from those of the copy
   held, reads it again. The copy is read into memory rather than mapped:
   a file truncated in place under a mapping would kill the server with
   SIGBUS at the next lookup, where a copy only gives the decisions of
   what was read (the cdb reader checks every offset against the size).
   No client input is parsed here: the address comes from accept(). */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <skalibs/cdb.h>
#include <skalibs/djbunix.h>
#include <skalibs/stralloc.h>
#include "accessrules.h"
#include "rules.h"

char const *rules_dir = 0 ;
char const *rules_cdb = 0 ;

static stralloc copy = STRALLOC_ZERO ;
static struct stat copyst ;
static int have = 0 ;

static int same (struct stat const *a, struct stat const *b)
{
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size
    && a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec
    && a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec ;
}

/* The cdb as it is now: the copy held, or a new one. */
static int refresh (char const **what)
{
  struct stat st ;
  int fd ;
  *what = "stat" ;
  if (stat(rules_cdb, &st) < 0) return 0 ;
  if (have && same(&st, &copyst)) return 1 ;
  have = 0 ;
  *what = "open" ;
  fd = openc_readb(rules_cdb) ;
  if (fd < 0) return 0 ;
  *what = "read" ;
  if (fstat(fd, &st) < 0) goto err ;
  if (st.st_size > UINT32_MAX) { errno = EFBIG ; goto err ; }
  copy.len = 0 ;
  if (!slurp(&copy, fd)) goto err ;
  fd_close(fd) ;
  copyst = st ;
  have = 1 ;
  return 1 ;
 err:
  fd_close(fd) ;
  return 0 ;
}

int rules_check (ip46 const *ip, stralloc *env, stralloc *exec, char const **what)
{
  ip46 a = *ip ;
  env->len = exec->len = 0 ;
  *what = "check" ;
  if (a.is6 && !memcmp(a.ip, "\0\0\0\0\0\0\0\0\0\0\377\377", 12))
  {
    char ip4[4] ;
    memcpy(ip4, a.ip + 12, 4) ;
    ip46_from_ip4(&a, ip4) ;
  }
  if (rules_dir) return accessrules_fs(&a, rules_dir, env, exec) ;
  if (rules_cdb)
  {
    cdb c ;
    if (!refresh(what)) return RULES_ERROR ;
    *what = "check" ;
    c.map = copy.s ;
    c.size = copy.len ;
    return accessrules_cdb(&a, &c, env, exec) ;
  }
  return RULES_ALLOW ;
}
