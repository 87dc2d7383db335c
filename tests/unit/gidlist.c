/* Unit test: GIDLIST as postie-tcpserver (-G, $GIDLIST) and postie-send
   (POSTIE_SEND_GIDLIST) read it (programs/lib/gidlist.c): decimal gids
   separated by commas, maybe empty, refused whole when any part is
   wrong (where skalibs' gid_scanlist would take other separators or stop
   quietly), at most GIDLIST_MAX. */
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include "gidlist.h"

static int failed = 0 ;

static void check (char const *name, int cond)
{
  printf("%s gidlist-%s\n", cond ? "PASS" : "FAIL", name) ;
  if (!cond) failed = 1 ;
}

int main (void)
{
  gid_t tab[GIDLIST_MAX] ;
  char big[GIDLIST_MAX * 12 + 16] ;
  size_t n = 0 ;
  static char const *const bad[] = { "1,", ",1", "1,,2", "a", "1a", "1 2", "1:2", "1;2", "1, 2", " 1", "-1", 0 } ;
  check("empty", gidlist_scan("", tab) == 0) ;
  check("one", gidlist_scan("100", tab) == 1 && tab[0] == 100) ;
  check("three", gidlist_scan("0,65534,4294967295", tab) == 3 && tab[0] == 0 && tab[1] == 65534 && tab[2] == (gid_t)4294967295u) ;
  for (unsigned int i = 0 ; bad[i] ; i++)
  {
    char name[32] ;
    snprintf(name, sizeof name, "refuses-%u", i) ;
    check(name, gidlist_scan(bad[i], tab) == -1) ;
  }
  for (unsigned int i = 0 ; i < GIDLIST_MAX ; i++) n += (size_t)sprintf(big + n, "%s%u", i ? "," : "", 1000 + i) ;
  check("max", gidlist_scan(big, tab) == GIDLIST_MAX && tab[GIDLIST_MAX - 1] == 1000 + GIDLIST_MAX - 1) ;
  sprintf(big + n, ",7") ;
  check("too-many", gidlist_scan(big, tab) == -2) ;
  return failed ;
}
