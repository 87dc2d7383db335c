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
#include <skalibs/setgroups.h>
#include <skalibs/types.h>
#include "gidlist.h"
#include "queue.h"
#include "send.h"

/* ---------- the spawners ---------- */

/* System mode: postie-send is started as root, runs postie-lspawn as
   root, postie-rspawn as POSTIE_REMOTE_UID/GID, and itself becomes
   POSTIE_SEND_UID/GID (with the supplementary groups of
   POSTIE_SEND_GIDLIST) before it reads any queue file. */

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

/* The supplementary groups: g, then those of the GIDLIST in $listvar
   (gidlist.h) if set; skalibs' setgroups_and_gid puts g first and drops
   the list's copy of it. */
void become (uid_t u, gid_t g, char const *listvar)
{
  gid_t list[GIDLIST_MAX] ;
  char const *s = listvar ? getenv(listvar) : 0 ;
  ssize_t n = s ? gidlist_scan(s, list) : 0 ;
  if (n == -2) strerr_dief(100, "too many groups in ", listvar) ;
  if (n < 0) strerr_dief(100, "invalid ", listvar) ;
  if (!u) strerr_dief(100, "refusing to run as uid 0 after dropping privileges") ;
  if (setgroups_and_gid(g, n, list) < 0 || setgid(g) < 0 || setuid(u) < 0) strerr_diefusys(111, "drop privileges") ;
  if (!getuid() || !geteuid()) strerr_dief(111, "still root after setuid") ;
}

