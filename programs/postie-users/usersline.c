/* usersline.c: parse one line of users/users (usersline.h). */
#include <string.h>
#include <skalibs/types.h>
#include "usersdb.h"
#include "usersline.h"

static int badbyte (char const *s, size_t n, int spaceok)
{
  size_t i = 0 ;
  for (; i < n ; i++)
  {
    unsigned char c = s[i] ;
    if (c < 32 || c == 127 || (!spaceok && c == ' ')) return 1 ;
  }
  return 0 ;
}

static int number (char const *s, size_t n, uint32_t *u)
{
  char tmp[UINT32_FMT] ;
  if (!n || n >= sizeof tmp) return 0 ;
  memcpy(tmp, s, n) ; tmp[n] = 0 ;
  if (uint32_scan(tmp, u) != n) return 0 ;
  return *u != (uint32_t)-1 ;  /* (uid_t)-1 means "unchanged" to setuid() */
}

int usersline_parse (char const *s, size_t len, usersline *u, char const **why)
{
  char const *f[7] ;
  size_t fl[7] ;
  size_t i = 0, n = 0 ;

  while (i < len && (s[i] == ' ' || s[i] == '\t')) i++ ;
  if (i == len || s[i] == '#') return 0 ;

  i = 0 ;
  for (;;)
  {
    size_t j = i ;
    while (j < len && s[j] != ':') j++ ;
    if (n == 7) break ;
    f[n] = s + i ; fl[n] = j - i ; n++ ;
    if (j == len) break ;
    i = j + 1 ;
  }
  if (n < 5) return (*why = "too few fields (name:hash:uid:gid:home[:maildir])", -1) ;
  if (n > 6) return (*why = "too many fields, or a ':' inside a field", -1) ;

  if (!fl[0]) return (*why = "empty name", -1) ;
  if (fl[0] > USERSDB_NAME_MAX) return (*why = "name too long", -1) ;
  if (badbyte(f[0], fl[0], 0)) return (*why = "space or control character in name", -1) ;

  if (fl[1] > USERSLINE_HASH_MAX) return (*why = "hash too long", -1) ;
  if (badbyte(f[1], fl[1], 0)) return (*why = "space or control character in hash", -1) ;

  if (!number(f[2], fl[2], &u->uid)) return (*why = "uid is not a number", -1) ;
  if (!number(f[3], fl[3], &u->gid)) return (*why = "gid is not a number", -1) ;

  if (!fl[4] || f[4][0] != '/') return (*why = "home is not an absolute path", -1) ;
  if (fl[4] > USERSLINE_PATH_MAX) return (*why = "home too long", -1) ;
  if (badbyte(f[4], fl[4], 1)) return (*why = "control character in home", -1) ;

  if (n == 6 && fl[5])
  {
    if (fl[5] > USERSLINE_PATH_MAX) return (*why = "maildir too long", -1) ;
    if (badbyte(f[5], fl[5], 1)) return (*why = "control character in maildir", -1) ;
    if (f[5][fl[5] - 1] != '/') return (*why = "maildir does not end with /", -1) ;
    u->maildir = f[5] ; u->maildirlen = fl[5] ;
  }
  else
  {
    u->maildir = USERSLINE_MAILDIR_DEFAULT ;
    u->maildirlen = sizeof(USERSLINE_MAILDIR_DEFAULT) - 1 ;
  }
  u->name = f[0] ; u->namelen = fl[0] ;
  u->hash = f[1] ; u->hashlen = fl[1] ;
  u->home = f[4] ; u->homelen = fl[4] ;
  return 1 ;
}
