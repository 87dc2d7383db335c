/* privileges.c: system mode's users (doc/postie-send.md). */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>  /* rename */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <grp.h>
#include <sys/stat.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/alloc.h>
#include <skalibs/djbunix.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "queue.h"
#include "send.h"

/* ---------- the spawners ---------- */

/* System mode: postie-send is started as root, runs postie-lspawn as
   root, postie-rspawn as POSTIE_REMOTE_UID/GID, and itself becomes
   POSTIE_SEND_UID/GID (with the supplementary groups of
   POSTIE_SEND_GIDLIST) before it reads any queue file. */
#define GIDLIST_MAX 64

int ids_get (char const *uvar, char const *gvar, uid_t *u, gid_t *g)
{
  char const *us = getenv(uvar) ;
  char const *gs = getenv(gvar) ;
  unsigned int x, y ;
  if (!us || !gs) return 0 ;
  if (!uint0_scan(us, &x) || !uint0_scan(gs, &y)) strerr_dief(100, "invalid ", uvar, " or ", gvar) ;
  *u = (uid_t)x ; *g = (gid_t)y ;
  return 1 ;
}

/* A GIDLIST as s6-envuidgid writes it: numbers separated by commas, maybe
   empty. g comes first; the list's duplicates of it are skipped. */
static size_t gidlist_get (char const *var, gid_t g, gid_t *list)
{
  char const *s = getenv(var) ;
  size_t n = 0 ;
  list[n++] = g ;
  if (!s) return n ;
  while (*s)
  {
    unsigned int x ;
    size_t len = uint_scan(s, &x) ;
    if (!len || (s[len] && s[len] != ',')) strerr_dief(100, "invalid ", var) ;
    if ((gid_t)x != g)
    {
      if (n >= GIDLIST_MAX) strerr_dief(100, "too many groups in ", var) ;
      list[n++] = (gid_t)x ;
    }
    s += len ;
    if (*s) s++ ;
  }
  return n ;
}

void become (uid_t u, gid_t g, char const *listvar)
{
  gid_t list[GIDLIST_MAX] ;
  size_t n = listvar ? gidlist_get(listvar, g, list) : (list[0] = g, 1) ;
  if (!u) strerr_dief(100, "refusing to run as uid 0 after dropping privileges") ;
  if (setgroups(n, list) < 0 || setgid(g) < 0 || setuid(u) < 0) strerr_diefusys(111, "drop privileges") ;
  if (!getuid() || !geteuid()) strerr_dief(111, "still root after setuid") ;
}

