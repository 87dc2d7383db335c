/* control.c: one setting per file under control/. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/stat.h>
#include <skalibs/allreadwrite.h>
#include <string.h>
#include <skalibs/djbunix.h>
#include <skalibs/stralloc.h>
#include <skalibs/types.h>
#include "postie.h"

#define CONTROL_FILE_MAX (1 << 24)

/* What was wrong with the contents of the last file that failed, or 0 when
   it failed for a system reason (errno). */
static char const *badcontents = 0 ;

char const *control_strerror (void)
{
  return badcontents ? badcontents : strerror(errno) ;
}

/* control_list: the names in control/, read once, so that a setting
   whose file is not there costs no open(). A program that starts per
   connection (postie-smtpd) reads a dozen settings with documented
   defaults, most of them absent: one listing (open, getdents, close)
   answers for all of them. The directory is read with getdents64 into a
   small buffer on the stack: opendir would allocate its DIR (with musl,
   a mapping of its own, unmapped again by closedir: a system call each
   way, a page fault and a TLB flush). */
static stralloc listing = STRALLOC_ZERO ;
static int listed = 0 ;

struct linux_dirent64_s
{
  uint64_t d_ino ;
  int64_t d_off ;
  unsigned short d_reclen ;
  unsigned char d_type ;
  char d_name[] ;
} ;

int control_list (void)
{
  char buf[1024] __attribute__((aligned(8))) ;
  int fd = open("control", O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  listed = 0 ;
  listing.len = 0 ;
  if (fd < 0) return -1 ;
  for (;;)
  {
    long r = syscall(SYS_getdents64, fd, buf, sizeof buf) ;
    size_t i = 0 ;
    if (r < 0) { int e = errno ; fd_close(fd) ; listing.len = 0 ; errno = e ; return -1 ; }
    if (!r) break ;
    while (i < (size_t)r)
    {
      struct linux_dirent64_s const *e = (struct linux_dirent64_s const *)(buf + i) ;
      size_t n = strlen(e->d_name) ;
      i += e->d_reclen ;
      if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2]))) continue ;
      if (!stralloc_catb(&listing, e->d_name, n + 1))
      {
        fd_close(fd) ;
        listing.len = 0 ;
        errno = ENOMEM ;
        return -1 ;
      }
    }
  }
  fd_close(fd) ;
  listed = 1 ;
  return 0 ;
}

int control_listed (char const *name)
{
  size_t i = 0 ;
  size_t n = strlen(name) ;
  if (!listed) return 1 ;
  while (i < listing.len)
  {
    size_t m = strlen(listing.s + i) ;
    if (m == n && !memcmp(listing.s + i, name, n)) return 1 ;
    i += m + 1 ;
  }
  return 0 ;
}

static int readfile (stralloc *sa, char const *name, size_t max)
{
  char path[12 + 256] ;
  size_t n = strlen(name) ;
  struct stat st ;
  int fd ;
  badcontents = 0 ;
  if (n > 255 || strchr(name, '/')) return (errno = EINVAL, -1) ;
  if (!control_listed(name)) return 0 ;
  memcpy(path, "control/", 8) ;
  memcpy(path + 8, name, n + 1) ;
  fd = openb_read(path) ;
  if (fd < 0) return errno == ENOENT ? 0 : -1 ;
  if (fstat(fd, &st) < 0) goto err ;
  if ((size_t)st.st_size > max) { badcontents = "file too large" ; errno = ERANGE ; goto err ; }
  sa->len = 0 ;
  /* Room for the file as fstat saw it and a little more (to see its end
     in the next read, or a few bytes it grew by), not 4 KiB per read:
     a control file is a few bytes, and a block of over 4 KiB is a
     mapping of its own with musl's malloc (mmap, page faults, then a
     munmap and its TLB flush when freed). */
  if (!stralloc_ready(sa, (size_t)st.st_size + 64)) goto err ;
  for (;;)
  {
    ssize_t r ;
    size_t room ;
    if (sa->len >= max) { badcontents = "file too large" ; errno = ERANGE ; goto err ; }
    if (sa->a - sa->len < 64 && !stralloc_readyplus(sa, 4096)) goto err ;
    room = sa->a - sa->len ;
    r = fd_read(fd, sa->s + sa->len, room < max - sa->len ? room : max - sa->len) ;
    if (r < 0) goto err ;
    if (!r) break ;
    sa->len += r ;
  }
  fd_close(fd) ;
  return 1 ;
 err:
  fd_close(fd) ;
  return -1 ;
}

int control_readline (stralloc *sa, char const *name, char const *def, size_t max)
{
  int r = readfile(sa, name, max + 1 < CONTROL_FILE_MAX ? CONTROL_FILE_MAX : max + 1) ;
  if (r < 0) return -1 ;
  if (!r)
  {
    sa->len = 0 ;
    if (def && !stralloc_cats(sa, def)) return -1 ;
    return stralloc_0(sa) ? 0 : -1 ;
  }
  {
    char *nl = memchr(sa->s, '\n', sa->len) ;
    if (nl) sa->len = nl - sa->s ;
  }
  while (sa->len && (sa->s[sa->len-1] == ' ' || sa->s[sa->len-1] == '\t' || sa->s[sa->len-1] == '\r')) sa->len-- ;
  if (sa->len > max) { badcontents = "line too long" ; return (errno = ERANGE, -1) ; }
  return stralloc_0(sa) ? 1 : -1 ;
}

/* The first line only, read into buffers on the stack: no allocation,
   so that a program whose only heap use this was never sets malloc up
   (postie-queue: four page faults fewer a message). The answers are
   control_readline(sa, name, 0, 64)'s, then a decimal scan. */
int control_readulong (unsigned long *u, char const *name, unsigned long def)
{
  char path[12 + 256] ;
  char buf[256] ;
  char line[65] ;
  size_t n = strlen(name), len = 0, keep = 0, total = 0 ;
  struct stat st ;
  uint64_t v ;
  int fd, eol = 0 ;
  badcontents = 0 ;
  if (n > 255 || strchr(name, '/')) return (errno = EINVAL, -1) ;
  if (!control_listed(name)) { *u = def ; return 0 ; }  /* as readfile */
  memcpy(path, "control/", 8) ;
  memcpy(path + 8, name, n + 1) ;
  fd = openb_read(path) ;
  if (fd < 0)
  {
    if (errno != ENOENT) return -1 ;
    *u = def ;
    return 0 ;
  }
  if (fstat(fd, &st) < 0) goto err ;
  if ((size_t)st.st_size >= CONTROL_FILE_MAX) { badcontents = "file too large" ; errno = ERANGE ; goto err ; }
  while (!eol)
  {
    ssize_t r = fd_read(fd, buf, sizeof buf) ;
    size_t i ;
    if (r < 0) goto err ;
    if (!r) break ;
    total += (size_t)r ;
    if (total >= CONTROL_FILE_MAX) { badcontents = "file too large" ; errno = ERANGE ; goto err ; }
    for (i = 0 ; i < (size_t)r ; i++)
    {
      char c = buf[i] ;
      if (c == '\n') { eol = 1 ; break ; }
      if (len < sizeof line) line[len] = c ;
      len++ ;
      if (c != ' ' && c != '\t' && c != '\r') keep = len ;
    }
  }
  fd_close(fd) ;
  if (keep >= sizeof line) { badcontents = "line too long" ; return (errno = ERANGE, -1) ; }
  line[keep] = 0 ;
  n = uint64_scan(line, &v) ;
  if (!n || n != keep)
  {
    size_t i = 0 ;
    while (i < keep && line[i] >= '0' && line[i] <= '9') i++ ;
    badcontents = i && i == keep ? "number too large" : "not a number" ;
    return (errno = EINVAL, -1) ;
  }
  *u = v ;
  return 1 ;
 err:
  fd_close(fd) ;
  return -1 ;
}

int control_readlines (stralloc *sa, char const *name, size_t max)
{
  stralloc raw = STRALLOC_ZERO ;
  size_t i = 0 ;
  int r = readfile(&raw, name, max) ;
  sa->len = 0 ;
  if (r <= 0) { stralloc_free(&raw) ; return r ; }
  while (i < raw.len)
  {
    size_t j = i, end ;
    while (j < raw.len && raw.s[j] != '\n') j++ ;
    end = j ;
    while (end > i && (raw.s[end-1] == ' ' || raw.s[end-1] == '\t' || raw.s[end-1] == '\r')) end-- ;
    while (i < end && (raw.s[i] == ' ' || raw.s[i] == '\t')) i++ ;
    if (end > i && raw.s[i] != '#')
      if (!stralloc_catb(sa, raw.s + i, end - i) || !stralloc_0(sa)) { stralloc_free(&raw) ; return -1 ; }
    i = j + 1 ;
  }
  stralloc_free(&raw) ;
  return 1 ;
}
