/* mbox.c: one Maildir folder: its messages (cur/, with new/ moved in),
   their flags (the Maildir file name's ":2," info), and their UIDs, kept
   in postie-uids (doc/imap-uids.md): read and rewritten crash-safely
   (write, fsync, rename) under an exclusive lock on postie-uids.lock, so
   that two sessions never give one message two UIDs, nor one UID to two
   messages. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>  /* rename */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "fsync_dir.h"
#include "imapd.h"

#define UIDFILE_MAX (64 << 20)

typedef struct ent_s ent ;
struct ent_s { uint32_t uid ; uint32_t off ; uint32_t len ; } ;

static char const *sortbase ;
static int cmpent (void const *a, void const *b)
{
  ent const *x = a, *y = b ;
  size_t l = x->len < y->len ? x->len : y->len ;
  int c = memcmp(sortbase + x->off, sortbase + y->off, l) ;
  return c ? c : (x->len > y->len) - (x->len < y->len) ;
}

/* The entry of e[0..ne) (sorted by cmpent) for the unique part of the
   file name nm (up to ':'), or 0. */
static ent *ent_find (ent *e, size_t ne, char const *base, char const *nm)
{
  size_t kl = strcspn(nm, ":"), lo = 0, hi = ne ;
  while (lo < hi)
  {
    size_t mid = (lo + hi) / 2 ;
    size_t l = e[mid].len < kl ? e[mid].len : kl ;
    int c = memcmp(base + e[mid].off, nm, l) ;
    if (!c) c = (e[mid].len > kl) - (e[mid].len < kl) ;
    if (!c) return e + mid ;
    if (c < 0) lo = mid + 1 ; else hi = mid ;
  }
  return 0 ;
}

/* a message as the listing finds it, before it goes into the box */
typedef struct fmsg_s fmsg ;
struct fmsg_s { uint32_t uid ; uint32_t name ; uint32_t kw ; unsigned char flags ; } ;

/* indices into sortfiles, by file name (names in sortbase) */
static fmsg const *sortfiles ;
static int cmpnewname (void const *a, void const *b)
{
  size_t const *x = a, *y = b ;
  return strcmp(sortbase + sortfiles[*x].name, sortbase + sortfiles[*y].name) ;
}

static int cmpuid (void const *a, void const *b)
{
  fmsg const *x = a, *y = b ;
  return (x->uid > y->uid) - (x->uid < y->uid) ;
}

/* A folder name (IMAP, "." as hierarchy separator) to its directory:
   INBOX is ".", anything else "./.Name". Names are printable ASCII (the
   modified UTF-7 of RFC 3501 is ASCII), no "/", no empty level. Returns
   1, or 0 for a name that cannot be a folder. */
int box_name_to_dir (char const *name, size_t len, char *dir, size_t max)
{
  size_t i ;
  if (len == 5 && !strncasecmp(name, "INBOX", 5)) { if (max < 2) return 0 ; strcpy(dir, ".") ; return 1 ; }
  if (len > 6 && !strncasecmp(name, "INBOX.", 6)) { name += 6 ; len -= 6 ; }
  if (!len || len + 4 > max || name[0] == '.' || name[len-1] == '.') return 0 ;
  for (i = 0 ; i < len ; i++)
  {
    unsigned char c = name[i] ;
    if (c < 0x20 || c > 0x7e || c == '/' || c == '*' || c == '%' || c == '\\' || c == '"') return 0 ;
    if (c == '.' && name[i+1] == '.') return 0 ;
  }
  memcpy(dir, "./.", 3) ;
  memcpy(dir + 3, name, len) ;
  dir[len + 3] = 0 ;
  return 1 ;
}

void box_unlock (int fd) { close(fd) ; }

/* the info letters: system flags, then keywords (at most 32 bytes) */
void flags_letters (unsigned char fl, uint32_t kw, char *s)
{
  if (fl & FL_DRAFT) *s++ = 'D' ;
  if (fl & FL_FLAGGED) *s++ = 'F' ;
  if (fl & FL_ANSWERED) *s++ = 'R' ;
  if (fl & FL_SEEN) *s++ = 'S' ;
  if (fl & FL_DELETED) *s++ = 'T' ;
  kw_letters(kw, s) ;
}

unsigned char flags_of_name (char const *name)
{
  char const *info = strstr(name, ":2,") ;
  unsigned char fl = 0 ;
  if (!info) return 0 ;
  for (info += 3 ; *info ; info++)
    switch (*info)
    {
      case 'D' : fl |= FL_DRAFT ; break ;
      case 'F' : fl |= FL_FLAGGED ; break ;
      case 'R' : fl |= FL_ANSWERED ; break ;
      case 'S' : fl |= FL_SEEN ; break ;
      case 'T' : fl |= FL_DELETED ; break ;
      default : break ;
    }
  return fl ;
}

static int path3 (stralloc *sa, char const *a, char const *b, char const *c)
{
  sa->len = 0 ;
  return stralloc_cats(sa, a) && stralloc_cats(sa, "/") && stralloc_cats(sa, b)
      && (!c || (stralloc_cats(sa, "/") && stralloc_cats(sa, c))) && stralloc_0(sa) ;
}

/* The messages of dir/cur (new/ moved into cur/ first), into names
   (INTERNALDATE and size, MSG_PRE bytes, then "cur/NAME\0", each) and files (one each,
   uid 0). The stamps of
   new/ and cur/ go to st, taken after the moves and before cur/ is
   listed; *fresh says whether they can be trusted (idx_stampdirs), and
   that nothing was left in new/. */
static int scan (char const *dir, stralloc *names, fmsg **files, size_t *n, size_t *cap, idxstamp *st, int *fresh)
{
  static char const *const subs[2] = { "new", "cur" } ;
  stralloc p = STRALLOC_ZERO, q = STRALLOC_ZERO ;
  unsigned int k ;
  int left = 0 ;
  for (k = 0 ; k < 2 ; k++)
  {
    DIR *d ;
    if (k) *fresh = idx_stampdirs(dir, st) && !left ;
    if (!path3(&p, dir, subs[k], 0)) goto err ;
    d = opendir(p.s) ;
    if (!d) goto err ;
    for (;;)
    {
      struct dirent *de ;
      struct stat sb ;
      size_t nl ;
      errno = 0 ;
      de = readdir(d) ;
      if (!de) break ;
      if (de->d_name[0] == '.') continue ;
      nl = strlen(de->d_name) ;
      if (nl > 250) continue ;
      if (!path3(&p, dir, subs[k], de->d_name)) { closedir(d) ; goto err ; }
      if (lstat(p.s, &sb) < 0 || !S_ISREG(sb.st_mode)) continue ;
      if (!k)
      {
        int hasinfo = !!strchr(de->d_name, ':') ;
        q.len = 0 ;
        if (!stralloc_cats(&q, dir) || !stralloc_cats(&q, "/cur/") || !stralloc_cats(&q, de->d_name)
         || (!hasinfo && !stralloc_cats(&q, ":2,")) || !stralloc_0(&q)) { closedir(d) ; goto err ; }
        if (rename(p.s, q.s) < 0) left = 1 ;  /* seen again in cur/ below, or left for next time */
        continue ;
      }
      if (*n >= *cap)
      {
        size_t nc = *cap ? *cap * 2 : 256 ;
        fmsg *x = realloc(*files, nc * sizeof(fmsg)) ;
        if (!x) { closedir(d) ; goto err ; }
        *files = x ; *cap = nc ;
      }
      {
        int64_t pre[2] = { sb.st_mtime, sb.st_size } ;
        if (!stralloc_catb(names, (char const *)pre, MSG_PRE)) { closedir(d) ; goto err ; }
      }
      (*files)[*n].uid = 0 ;
      (*files)[*n].name = names->len ;
      (*files)[*n].flags = flags_of_name(de->d_name) ;
      (*files)[*n].kw = kw_of_name(de->d_name) ;
      if (!stralloc_cats(names, "cur/") || !stralloc_catb(names, de->d_name, nl + 1)) { closedir(d) ; goto err ; }
      (*n)++ ;
    }
    if (errno) { closedir(d) ; goto err ; }
    closedir(d) ;
  }
  stralloc_free(&p) ; stralloc_free(&q) ;
  return 1 ;
 err:
  stralloc_free(&p) ; stralloc_free(&q) ;
  return 0 ;
}

/* postie-uids: "postie-uids 1 UIDVALIDITY UIDNEXT\n" then "UID UNIQ\n"
   lines. Returns 1 (read, or absent: *valid 0), 0 on a read error. */
static int uids_read (char const *path, stralloc *sa, uint32_t *validity, uint32_t *next, int *valid)
{
  *valid = 0 ;
  sa->len = 0 ;
  if (!openslurpclose(sa, path)) return errno == ENOENT ;
  if (sa->len > UIDFILE_MAX) return (errno = EFBIG, 0) ;
  if (!stralloc_0(sa)) return 0 ;
  sa->len-- ;
  {
    char const *s = sa->s ;
    size_t i ;
    uint32_t v, nx ;
    if (strncmp(s, "postie-uids 1 ", 14)) return 1 ;
    s += 14 ;
    i = uint32_scan(s, &v) ; if (!i || s[i] != ' ' || !v) return 1 ; s += i + 1 ;
    i = uint32_scan(s, &nx) ; if (!i || s[i] != '\n' || !nx) return 1 ;
    *validity = v ; *next = nx ; *valid = 1 ;
  }
  return 1 ;
}

static int uids_write (char const *dir, uint32_t validity, uint32_t next, fmsg const *f, size_t n, char const *names)
{
  stralloc sa = STRALLOC_ZERO, tmp = STRALLOC_ZERO, fin = STRALLOC_ZERO ;
  char fmt[UINT32_FMT] ;
  size_t i ;
  int fd ;
  if (!stralloc_cats(&sa, "postie-uids 1 ") || !stralloc_catb(&sa, fmt, uint32_fmt(fmt, validity))
   || !stralloc_catb(&sa, " ", 1) || !stralloc_catb(&sa, fmt, uint32_fmt(fmt, next)) || !stralloc_catb(&sa, "\n", 1)) goto err ;
  for (i = 0 ; i < n ; i++)
  {
    char const *nm = names + f[i].name + 4 ;
    if (!stralloc_catb(&sa, fmt, uint32_fmt(fmt, f[i].uid)) || !stralloc_catb(&sa, " ", 1)
     || !stralloc_catb(&sa, nm, strcspn(nm, ":")) || !stralloc_catb(&sa, "\n", 1)) goto err ;
  }
  if (!path3(&tmp, dir, "postie-uids.tmp", 0) || !path3(&fin, dir, "postie-uids", 0)) goto err ;
  fd = open(tmp.s, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) ;
  if (fd < 0) goto err ;
  if (allwrite(fd, sa.s, sa.len) < sa.len || fsync(fd) < 0) { close(fd) ; unlink(tmp.s) ; goto err ; }
  close(fd) ;
  if (rename(tmp.s, fin.s) < 0) { unlink(tmp.s) ; goto err ; }
  fsync_dir(dir) ;
  stralloc_free(&sa) ; stralloc_free(&tmp) ; stralloc_free(&fin) ;
  return 1 ;
 err:
  stralloc_free(&sa) ; stralloc_free(&tmp) ; stralloc_free(&fin) ;
  return 0 ;
}

int box_lock (char const *dir)
{
  stralloc p = STRALLOC_ZERO ;
  int fd ;
  if (!path3(&p, dir, "postie-uids.lock", 0)) return -1 ;
  fd = open(p.s, O_RDWR | O_CREAT | O_CLOEXEC, 0600) ;
  stralloc_free(&p) ;
  if (fd < 0) return -1 ;
  while (flock(fd, LOCK_EX) < 0) if (errno != EINTR) { close(fd) ; return -1 ; }
  return fd ;
}

/* A new UIDVALIDITY: the time, but above every one given before in this
   Maildir, so that a folder deleted and created again within a second
   (or with the clock set back) never gets its old UIDVALIDITY again.
   The last one given is kept in the Maildir's postie-uidvalidity (one
   decimal number, written in place under a lock on the file itself; an
   unreadable file counts as 0). Without the file (it cannot be made),
   the time alone. */
static uint32_t uidvalidity_new (void)
{
  char buf[16] ;
  uint32_t last = 0, v = (uint32_t)time(0) ;
  ssize_t r ;
  int fd = open("postie-uidvalidity", O_RDWR | O_CREAT | O_CLOEXEC, 0600) ;
  if (fd < 0) return v ? v : 1 ;
  while (flock(fd, LOCK_EX) < 0) if (errno != EINTR) { close(fd) ; return v ? v : 1 ; }
  r = pread(fd, buf, sizeof buf - 1, 0) ;
  if (r > 0)
  {
    buf[r] = 0 ;
    if (!uint32_scan(buf, &last)) last = 0 ;
  }
  if (v <= last) v = last + 1 ;
  if (!v) v = 1 ;  /* wrapped past 4294967295: start again */
  {
    /* fixed width, so that the write replaces the whole number */
    size_t n = uint32_fmt(0, v) ;
    memset(buf, '0', 10) ;
    uint32_fmt(buf + 10 - n, v) ;
    buf[10] = '\n' ;
    if (pwrite(fd, buf, 11, 0) == 11) fsync(fd) ;
  }
  close(fd) ;
  return v ;
}

/* 1 when new/, cur/ and postie-uids are as they were when b was read
   (so that its folder is as b says), with the folder's keywords read
   again into b->kw; 0 otherwise. Three stat calls under the lock. */
int box_unchanged (box *b)
{
  idxstamp st ;
  int lfd, same ;
  if (!b->fresh) return 0 ;
  lfd = box_lock(b->dir) ;
  if (lfd < 0) return 0 ;
  memset(&st, 0, sizeof st) ;
  same = kw_load(b->dir, &b->kw) && (idx_stampdirs(b->dir, &st) & idx_stampuids(b->dir, &st)) && !memcmp(st.v, b->stamp.v, sizeof st.v) ;
  close(lfd) ;
  return same ;
}

/* The entries of a postie-uids file (uf, its first line the header),
   sorted by unique part, into *ep, *nep; a malformed line, or a UID not
   below next, sets *changed. 0 out of memory. */
static int uids_entries (char const *uf, uint32_t next, ent **ep, size_t *nep, int *changed)
{
  char const *s = strchr(uf, '\n') + 1 ;
  size_t lines = 0, ne = 0 ;
  char const *t ;
  ent *e ;
  for (t = s ; *t ; t++) if (*t == '\n') lines++ ;
  e = malloc((lines + 1) * sizeof(ent)) ;
  if (!e) return 0 ;
  while (*s)
  {
    char const *nl = strchr(s, '\n') ;
    uint32_t u ;
    size_t k ;
    if (!nl) break ;
    k = uint32_scan(s, &u) ;
    if (k && s[k] == ' ' && u && u < next && nl > s + k + 1)
    {
      e[ne].uid = u ; e[ne].off = s + k + 1 - uf ; e[ne].len = nl - (s + k + 1) ;
      ne++ ;
    }
    else *changed = 1 ;
    s = nl + 1 ;
  }
  sortbase = uf ;
  qsort(e, ne, sizeof(ent), &cmpent) ;
  *ep = e ; *nep = ne ;
  return 1 ;
}

/* scan, and once more when a message of e[0..ne) (names in uf) was not
   found: deleted, or renamed (flags changed by a program that does not
   take the lock, e.g. postie-pop3d) while we read cur/. One more look
   before taking it for gone. */
static int scan_again_if_missing (char const *dir, ent *e, size_t ne, char const *uf, stralloc *names, fmsg **files, size_t *n, size_t *cap, idxstamp *st, int *fresh)
{
  unsigned int tries = 0 ;
  for (;;)
  {
    size_t hits = 0, i ;
    names->len = 0 ; *n = 0 ;
    if (!scan(dir, names, files, n, cap, st, fresh)) return 0 ;
    if (!ne || tries++) return 1 ;
    for (i = 0 ; i < *n ; i++)
      if (ent_find(e, ne, uf, names->s + (*files)[i].name + 4)) hits++ ;
    if (hits >= ne) return 1 ;
  }
}

/* UIDs for the n files (names in names): a unique part listed in e keeps
   its UID; the others get new ones from *next in file name order
   (delivery order for the usual time-based names), and set *changed.
   0 out of memory or out of UIDs. */
static int uids_assign (fmsg *files, size_t n, char const *names, ent *e, size_t ne, char const *uf, uint32_t *next, int *changed)
{
  size_t nu = 0, i ;
  for (i = 0 ; i < n ; i++)
  {
    ent *hit = ne ? ent_find(e, ne, uf, names + files[i].name + 4) : 0 ;
    if (hit) files[i].uid = hit->uid ;
    else nu++ ;
  }
  if (nu)
  {
    /* the new ones in file name order, sorted (not picked one by one:
       a first look at a folder of 100,000 took n * n comparisons) */
    size_t *ix = malloc(nu * sizeof(size_t)), k = 0 ;
    if (!ix) return 0 ;
    for (i = 0 ; i < n ; i++) if (!files[i].uid) ix[k++] = i ;
    sortbase = names ; sortfiles = files ;
    qsort(ix, nu, sizeof(size_t), &cmpnewname) ;
    for (k = 0 ; k < nu ; k++)
    {
      if (*next == 0xffffffffu) { free(ix) ; return 0 ; }
      files[ix[k]].uid = (*next)++ ;
    }
    free(ix) ;
    *changed = 1 ;
  }
  return 1 ;
}

/* files sorted by UID, a message seen twice (renamed while we read)
   kept once. Returns how many are left. */
static size_t uid_sort_unique (fmsg *files, size_t n)
{
  size_t i, j = 0 ;
  if (n) qsort(files, n, sizeof(fmsg), &cmpuid) ;  /* files is null in an empty folder */
  for (i = 0 ; i < n ; i++)
    if (!j || files[j-1].uid != files[i].uid) files[j++] = files[i] ;
  return j ;
}

/* The n files into b, as little as can be (imapd.h): b takes *names
   and frees files. 0 out of memory, b and files as they were. */
static int box_replace (box *b, stralloc *names, fmsg *files, size_t n)
{
  msg *m = malloc((n ? n : 1) * sizeof(msg)) ;
  uint32_t *kw = 0 ;
  size_t i ;
  if (!m) return 0 ;
  for (i = 0 ; i < n ; i++)
  {
    m[i].uid = files[i].uid ; m[i].name = files[i].name ; m[i].flags = files[i].flags ;
    if (files[i].kw && !kw && !(kw = calloc(n, sizeof(uint32_t)))) { free(m) ; return 0 ; }
    if (kw) kw[i] = files[i].kw ;
  }
  free(files) ;
  box_free(b) ;
  b->names = *names ;
  b->m = m ; b->n = n ; b->cap = n ? n : 1 ;
  b->kwbits = kw ;
  return 1 ;
}

/* A fresh snapshot of b->dir into b (b->names, b->m, b->n replaced),
   UIDs given to new messages, postie-uids rewritten when it changed.
   When new/, cur/ and postie-uids are as postie-index says, the
   snapshot is read from there; otherwise the folder is listed, and the
   index written again (index.c). */
int box_sync (box *b, int first)
{
  stralloc names = STRALLOC_ZERO, uf = STRALLOC_ZERO, up = STRALLOC_ZERO ;
  fmsg *files = 0 ;
  size_t n = 0, cap = 0, ne = 0 ;
  ent *e = 0 ;
  uint32_t validity = 0, next = 1 ;
  int valid, changed = 0, fresh = 0 ;
  idxstamp st ;
  int lfd = box_lock(b->dir) ;
  if (lfd < 0) return 0 ;
  if (!path3(&up, b->dir, "postie-uids", 0)) goto err ;
  if (!kw_load(b->dir, &b->kw)) goto err ;
  memset(&st, 0, sizeof st) ;
  (void)first ;
  /* both stamps taken (&, not &&): st is compared whole */
  if (idx_stampdirs(b->dir, &st) & idx_stampuids(b->dir, &st))
  {
    if (idx_read(b, &st, b->lazynames))
    {
      b->stamp = st ; b->fresh = 1 ;
      close(lfd) ;
      stralloc_free(&up) ;
      return 1 ;
    }
  }
  if (!uids_read(up.s, &uf, &validity, &next, &valid)) goto err ;
  if (!valid)
  {
    validity = uidvalidity_new() ;
    next = 1 ;
    changed = 1 ;
  }
  else if (!uids_entries(uf.s, next, &e, &ne, &changed)) goto err ;
  if (!scan_again_if_missing(b->dir, e, ne, uf.s, &names, &files, &n, &cap, &st, &fresh)) goto err ;
  if (!uids_assign(files, n, names.s, e, ne, uf.s, &next, &changed)) goto err ;
  n = uid_sort_unique(files, n) ;
  if (ne != n) changed = 1 ;
  if (changed && !uids_write(b->dir, validity, next, files, n, names.s)) goto err ;
  if (!box_replace(b, &names, files, n)) goto err ;
  files = 0 ;
  free(e) ;
  stralloc_free(&uf) ; stralloc_free(&up) ;
  b->uidvalidity = validity ;
  b->uidnext = next ;
  /* the index, when the listing can be trusted to stay what it was
     until new/ or cur/ change (a failure to write it costs only time);
     then the snapshot is the index, mapped: the names leave the heap */
  if (fresh && idx_stampuids(b->dir, &st))
  {
    if (!idx_write(b, &st)) strerr_warnwusys("write ", b->dir, "/postie-index") ;
    else idx_read(b, &st, b->lazynames) ;
    b->fresh = 1 ;
  }
  b->stamp = st ;
  close(lfd) ;
  return 1 ;
 err:
  {
    int e2 = errno ;
    close(lfd) ;
    free(e) ; free(files) ;
    stralloc_free(&names) ; stralloc_free(&uf) ; stralloc_free(&up) ;
    errno = e2 ;
  }
  return 0 ;
}

void box_free (box *b)
{
  stralloc_free(&b->names) ;
  free(b->m) ; free(b->kwbits) ; free(b->sent) ;
  if (b->map) munmap(b->map, b->maplen) ;
  b->map = 0 ; b->maplen = 0 ; b->mapnames = 0 ; b->mapn = 0 ;
  b->m = 0 ; b->kwbits = 0 ; b->sent = 0 ;
  b->namesum = 0 ; b->namesok = 0 ;
  b->n = b->cap = 0 ;
  b->fresh = 0 ;
}

/* At the end of a command: the pages of the mapped index leave the
   session (they are read again from the page cache when needed), so
   that an idle session's memory does not grow with its folder. */
void box_release (box *b)
{
  if (b->map) madvise(b->map, b->maplen, MADV_DONTNEED) ;
}

void box_remove (box *b, size_t i)
{
  size_t k = b->n - i - 1 ;
  memmove(b->m + i, b->m + i + 1, k * sizeof(msg)) ;
  if (b->kwbits) memmove(b->kwbits + i, b->kwbits + i + 1, k * sizeof(uint32_t)) ;
  if (b->sent) memmove(b->sent + i, b->sent + i + 1, k * sizeof(uint32_t)) ;
  b->n-- ;
}

int64_t msg_mtime (box const *b, size_t i)
{
  int64_t t ;
  memcpy(&t, msg_name(b, i) - MSG_PRE, 8) ;
  return t ;
}

uint64_t msg_fsize (box const *b, size_t i)
{
  uint64_t z ;
  memcpy(&z, msg_name(b, i) - MSG_PRE + 8, 8) ;
  return z ;
}

int64_t msg_sent (box const *b, size_t i)
{
  return b->sent && b->sent[i] ? (int64_t)b->sent[i] - 1 : -1 ;
}

void msg_setsent (box *b, size_t i, int64_t n)
{
  if (n < 0 || n >= 0xffffffffLL) return ;  /* not kept */
  if (!b->sent && !(b->sent = calloc(b->n ? b->n : 1, sizeof(uint32_t)))) return ;
  b->sent[i] = (uint32_t)n + 1 ;
}

/* A new name for message i (its INTERNALDATE and size kept): "cur/" then
   the name s of n bytes. Returns 1, 0 (no memory: the old name stays). */
static int msg_rename (box *b, size_t i, char const *s, size_t n)
{
  size_t off ;
  char pre[MSG_PRE] ;
  memcpy(pre, msg_name(b, i) - MSG_PRE, MSG_PRE) ;
  if (!stralloc_catb(&b->names, pre, MSG_PRE)) return 0 ;
  off = b->names.len ;
  if ((uint64_t)b->mapn + off + n + 5 > 0xffffffffu
   || !stralloc_catb(&b->names, "cur/", 4) || !stralloc_catb(&b->names, s, n) || !stralloc_0(&b->names)) { b->names.len = off - MSG_PRE ; return 0 ; }
  b->m[i].name = b->mapn + off ;
  return 1 ;
}

/* Renames message i to carry the flags fl. Returns 1, 0 on error. */
int msg_setflags (box *b, size_t i, unsigned char fl, uint32_t kw)
{
  stralloc from = STRALLOC_ZERO, to = STRALLOC_ZERO ;
  char const *nm = msg_name(b, i) ;
  char letters[40] ;
  size_t ul = strcspn(nm + 4, ":") ;
  int ok ;
  if (b->m[i].flags == fl && msg_kw(b, i) == kw) return 1 ;
  if (kw && !b->kwbits && !(b->kwbits = calloc(b->n, sizeof(uint32_t)))) return 0 ;
  flags_letters(fl, kw, letters) ;
  ok = stralloc_cats(&from, b->dir) && stralloc_cats(&from, "/") && stralloc_cats(&from, nm) && stralloc_0(&from)
    && stralloc_cats(&to, b->dir) && stralloc_cats(&to, "/") && stralloc_catb(&to, nm, 4 + ul)
    && stralloc_cats(&to, ":2,") && stralloc_cats(&to, letters) && stralloc_0(&to) ;
  if (ok)
  {
    /* under the folder's lock: a session listing cur/ meanwhile would
       miss the file while it changes names, and take it for gone */
    int lfd = box_lock(b->dir) ;
    int r = rename(from.s, to.s) ;
    int e = errno ;
    if (lfd >= 0) close(lfd) ;
    errno = e ;
    if (r < 0) ok = -1 ;
  }
  if (ok < 0)
  {
    /* renamed by someone else meanwhile: once more under its new name
       (at most a few times, not for ever) */
    static unsigned int depth = 0 ;
    ok = 0 ;
    if (errno == ENOENT && depth < 3 && msg_refind(b, i))
    {
      stralloc_free(&from) ; stralloc_free(&to) ;
      depth++ ;
      ok = msg_setflags(b, i, fl, kw) ;
      depth-- ;
      return ok ;
    }
  }
  if (ok)
  {
    size_t dl = strlen(b->dir) + 5 ;  /* "DIR/cur/" */
    msg_rename(b, i, to.s + dl, to.len - 1 - dl) ;
    b->m[i].flags = fl ;
    if (b->kwbits) b->kwbits[i] = kw ;
  }
  stralloc_free(&from) ; stralloc_free(&to) ;
  return ok ;
}

static unsigned long seq = 0 ;

/* Puts a message into the folder dir: src is linked (link_it) or renamed
   into dir/tmp/UNIQ, then renamed to dir/cur/UNIQ:2,FLAGS. The unique
   part goes to uniq. Returns 1, or 0 (errno). */
int box_add_file (char const *dir, char const *src, int link_it, unsigned char fl, uint32_t kw, char *uniq, size_t umax)
{
  stralloc t = STRALLOC_ZERO, c = STRALLOC_ZERO ;
  char u[128] ;
  char letters[40] ;
  size_t n = 0 ;
  struct timespec ts ;
  clock_gettime(CLOCK_REALTIME, &ts) ;
  n += uint64_fmt(u + n, (uint64_t)ts.tv_sec) ;
  u[n++] = '.' ; u[n++] = 'M' ;
  n += uint64_fmt(u + n, (uint64_t)ts.tv_nsec / 1000) ;
  u[n++] = 'P' ;
  n += uint64_fmt(u + n, (uint64_t)getpid()) ;
  u[n++] = 'Q' ;
  n += uint64_fmt(u + n, (uint64_t)++seq) ;
  memcpy(u + n, ".imap", 6) ; n += 5 ;
  if (n + 1 > umax) return (errno = ENAMETOOLONG, 0) ;
  memcpy(uniq, u, n + 1) ;
  flags_letters(fl, kw, letters) ;
  if (!stralloc_cats(&t, dir) || !stralloc_cats(&t, "/tmp/") || !stralloc_cats(&t, u) || !stralloc_0(&t)
   || !stralloc_cats(&c, dir) || !stralloc_cats(&c, "/cur/") || !stralloc_cats(&c, u)
   || !stralloc_cats(&c, ":2,") || !stralloc_cats(&c, letters) || !stralloc_0(&c)) goto err ;
  if (link_it ? link(src, t.s) < 0 : rename(src, t.s) < 0) goto err ;
  if (rename(t.s, c.s) < 0) { unlink(t.s) ; goto err ; }
  stralloc_free(&t) ; stralloc_free(&c) ;
  return 1 ;
 err:
  stralloc_free(&t) ; stralloc_free(&c) ;
  return 0 ;
}

/* The UID of the message whose unique part is uniq, after a sync. */
uint32_t box_uid_of (box *b, char const *uniq)
{
  size_t i, l = strlen(uniq) ;
  for (i = b->n ; i-- ;)
  {
    char const *nm = msg_name(b, i) + 4 ;
    if (!strncmp(nm, uniq, l) && (nm[l] == ':' || !nm[l])) return b->m[i].uid ;
  }
  return 0 ;
}

/* A new Maildir++ folder (with the maildirfolder marker). Returns 1, 0 (errno). */
int box_create (char const *dir)
{
  static char const *const subs[3] = { "tmp", "new", "cur" } ;
  stralloc p = STRALLOC_ZERO ;
  unsigned int k ;
  int fd ;
  if (mkdir(dir, 0700) < 0) return 0 ;
  for (k = 0 ; k < 3 ; k++)
    if (!path3(&p, dir, subs[k], 0) || mkdir(p.s, 0700) < 0) goto err ;
  if (!path3(&p, dir, "maildirfolder", 0)) goto err ;
  fd = open(p.s, O_WRONLY | O_CREAT | O_CLOEXEC, 0600) ;
  if (fd < 0) goto err ;
  close(fd) ;
  stralloc_free(&p) ;
  fsync_dir(".") ;
  return 1 ;
 err:
  stralloc_free(&p) ;
  return 0 ;
}

/* Message i's file was renamed by someone else (flags changed): find its
   new name in cur/ by its unique part. Returns 1 found (b updated), 0
   gone or error. */
int msg_refind (box *b, size_t i)
{
  stralloc p = STRALLOC_ZERO ;
  char const *nm = msg_name(b, i) + 4 ;
  size_t ul = strcspn(nm, ":") ;
  char uniq[256] ;
  DIR *d ;
  int found = 0 ;
  if (ul >= sizeof uniq) return 0 ;
  memcpy(uniq, nm, ul) ; uniq[ul] = 0 ;
  if (!path3(&p, b->dir, "cur", 0)) return 0 ;
  d = opendir(p.s) ;
  stralloc_free(&p) ;
  if (!d) return 0 ;
  for (;;)
  {
    struct dirent *de = readdir(d) ;
    if (!de) break ;
    if (!strncmp(de->d_name, uniq, ul) && (de->d_name[ul] == ':' || !de->d_name[ul]))
    {
      uint32_t kw = kw_of_name(de->d_name) ;
      if ((!kw || b->kwbits || (b->kwbits = calloc(b->n, sizeof(uint32_t)))) && msg_rename(b, i, de->d_name, strlen(de->d_name)))
      {
        b->m[i].flags = flags_of_name(de->d_name) ;
        if (b->kwbits) b->kwbits[i] = kw ;
        found = 1 ;
      }
      break ;
    }
  }
  closedir(d) ;
  return found ;
}
