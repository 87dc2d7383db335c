/* keywords.c: a folder's keywords (IMAP flags without a backslash, e.g.
   $Forwarded, Junk), kept the Maildir way: each message's file name
   carries, after its system flags, one lowercase letter a-z per keyword
   (":2,FSac"), and the folder's file postie-keywords says which keyword
   each letter stands for (doc/imap-keywords.md). So at most 26 keywords
   a folder. The file is read under the folder's lock (box_sync) and
   rewritten crash-safely (write, fsync, rename) under it. */

#include <errno.h>
#include <stdio.h>  /* rename */
#include <string.h>
#include <skalibs/bytestr.h>
#include <skalibs/djbunix.h>
#include <skalibs/stralloc.h>
#include <skalibs/types.h>
#include "imapd.h"

static int kwpath (stralloc *sa, char const *dir)
{
  sa->len = 0 ;
  return stralloc_cats(sa, dir) && stralloc_cats(sa, "/postie-keywords") && stralloc_0(sa) ;
}

/* postie-keywords of dir into t. Lines "N keyword"; a line that does
   not parse is skipped. Returns 1 (an absent file: no keywords), 0 on a
   read error. */
int kw_load (char const *dir, kwtab *t)
{
  stralloc p = STRALLOC_ZERO, sa = STRALLOC_ZERO ;
  size_t i = 0 ;
  memset(t, 0, sizeof *t) ;
  if (!kwpath(&p, dir)) return 0 ;
  if (!openslurpclose(&sa, p.s))
  {
    int ok = errno == ENOENT ;
    stralloc_free(&p) ;
    return ok ;
  }
  stralloc_free(&p) ;
  while (i < sa.len)
  {
    char *e = memchr(sa.s + i, '\n', sa.len - i) ;
    size_t n = e ? (size_t)(e - sa.s) - i : sa.len - i ;
    unsigned int v ;
    size_t k = uint_scan(sa.s + i, &v) ;
    if (k && k < n && sa.s[i+k] == ' ' && v < KW_N && n - k - 1 >= 1 && n - k - 1 <= KW_LEN && !t->name[v][0])
    {
      memcpy(t->name[v], sa.s + i + k + 1, n - k - 1) ;
      t->name[v][n - k - 1] = 0 ;
      if (memchr(t->name[v], 0, n - k - 1)) t->name[v][0] = 0 ;
    }
    i += n + 1 ;
  }
  stralloc_free(&sa) ;
  return 1 ;
}

/* The letter index of keyword s (n bytes, case-insensitive), or -1. */
int kw_find (kwtab const *t, char const *s, size_t n)
{
  unsigned int k ;
  for (k = 0 ; k < KW_N ; k++)
    if (t->name[k][0] && strlen(t->name[k]) == n && !case_diffb(t->name[k], n, s)) return k ;
  return -1 ;
}

static int kw_write (char const *dir, kwtab const *t)
{
  stralloc p = STRALLOC_ZERO, sa = STRALLOC_ZERO ;
  unsigned int k ;
  int ok = 1 ;
  for (k = 0 ; ok && k < KW_N ; k++)
  {
    char f[UINT_FMT] ;
    if (!t->name[k][0]) continue ;
    ok = stralloc_catb(&sa, f, uint_fmt(f, k)) && stralloc_catb(&sa, " ", 1) && stralloc_cats(&sa, t->name[k]) && stralloc_catb(&sa, "\n", 1) ;
  }
  ok = ok && kwpath(&p, dir) && openwritenclose_suffix(p.s, sa.s, sa.len, ".tmp") ;
  stralloc_free(&p) ; stralloc_free(&sa) ;
  return ok ;
}

/* The letter index of keyword s in folder dir, given a letter if it has
   none: t is read again under the folder's lock (another session may
   have added some), the file rewritten. Returns the index, or -1 (errno:
   ENOSPC when the folder has 26 keywords already, EINVAL for a name
   longer than KW_LEN). */
int kw_add (char const *dir, kwtab *t, char const *s, size_t n)
{
  int k = kw_find(t, s, n) ;
  int lfd ;
  if (k >= 0) return k ;
  if (!n || n > KW_LEN) return (errno = EINVAL, -1) ;
  lfd = box_lock(dir) ;
  if (lfd < 0) return -1 ;
  {
    /* the file as it is now; the session's table is left alone if it
       cannot be read */
    kwtab now ;
    if (!kw_load(dir, &now)) goto err ;
    *t = now ;
  }
  k = kw_find(t, s, n) ;
  if (k < 0)
  {
    for (k = 0 ; k < KW_N && t->name[k][0] ; k++) ;
    if (k == KW_N) { errno = ENOSPC ; goto err ; }
    memcpy(t->name[k], s, n) ; t->name[k][n] = 0 ;
    if (!kw_write(dir, t)) { t->name[k][0] = 0 ; goto err ; }
  }
  box_unlock(lfd) ;
  return k ;
 err:
  {
    int e = errno ;
    box_unlock(lfd) ;
    errno = e ;
  }
  return -1 ;
}

/* The letters of kw, in order, after the system flags' letters */
size_t kw_letters (uint32_t kw, char *s)
{
  size_t n = 0 ;
  unsigned int k ;
  for (k = 0 ; k < KW_N ; k++) if (kw & (1u << k)) s[n++] = 'a' + k ;
  s[n] = 0 ;
  return n ;
}

uint32_t kw_of_name (char const *name)
{
  char const *info = strstr(name, ":2,") ;
  uint32_t kw = 0 ;
  if (!info) return 0 ;
  for (info += 3 ; *info ; info++)
    if (*info >= 'a' && *info <= 'z') kw |= 1u << (*info - 'a') ;
  return kw ;
}
