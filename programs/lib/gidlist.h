/* gidlist.h: a list of supplementary groups as s6-envuidgid writes
   GIDLIST: decimal gids separated by commas, maybe empty. postie-tcpserver
   (-G, $GIDLIST with -U) and postie-send (POSTIE_SEND_GIDLIST) read it. */
#ifndef GIDLIST_H
#define GIDLIST_H

#include <sys/types.h>

#define GIDLIST_MAX 64

/* Scans s into tab (GIDLIST_MAX entries). Returns how many, -1 when s is
   not such a list, -2 when it holds more than GIDLIST_MAX. Not skalibs'
   gid_scanlist, which also takes ':', ';' and blanks between the numbers
   and stops quietly at the first thing that is not one: the groups of a
   privilege drop are refused whole when any part is wrong. */
extern ssize_t gidlist_scan (char const *s, gid_t *tab) ;

#endif
