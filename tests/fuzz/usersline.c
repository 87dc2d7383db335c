/* Fuzz target: usersline_parse (programs/postie-users/usersline.c), one line of
   users/users, which postie-users compiles (as root) from a file an
   administrator, or a tool, writes.
   Input: the line. Checks: every field points inside the line, has no
   ':' and no control character, the name no space; home is absolute,
   maildir ends with '/'; a malformed line says why. Then the round
   trip: the fields written back as name:hash:uid:gid:home:maildir parse
   to the same user. */
/* links: postie-users */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include <skalibs/types.h>
#include "usersline.h"

static void inside (char const *f, size_t n, char const *s, size_t len)
{
  if (f < s || f + n > s + len) abort() ;
}

static void noctl (char const *f, size_t n, int spaceok)
{
  for (size_t i = 0 ; i < n ; i++)
  {
    unsigned char c = f[i] ;
    if (c < 32 || c == 127 || c == ':' || (!spaceok && c == ' ')) abort() ;
  }
}

int LLVMFuzzerTestOneInput (uint8_t const *data, size_t size)
{
  char const *s = (char const *)data, *why = 0 ;
  usersline u, v ;
  stralloc sa = STRALLOC_ZERO ;
  char fmt[UINT32_FMT] ;
  int r = usersline_parse(s, size, &u, &why) ;
  if (r < 0) { if (!why || !*why) abort() ; return 0 ; }
  if (!r) return 0 ;
  if (r != 1) abort() ;
  inside(u.name, u.namelen, s, size) ; noctl(u.name, u.namelen, 0) ;
  inside(u.hash, u.hashlen, s, size) ; noctl(u.hash, u.hashlen, 0) ;
  inside(u.home, u.homelen, s, size) ; noctl(u.home, u.homelen, 1) ;
  if (!u.namelen || !u.homelen || u.home[0] != '/' || u.uid == (uint32_t)-1 || u.gid == (uint32_t)-1) abort() ;
  if (!u.maildirlen || u.maildir[u.maildirlen - 1] != '/') abort() ;
  noctl(u.maildir, u.maildirlen, 1) ;
  /* the line's own maildir, or the default (a static string) */
  if (u.maildir >= s && u.maildir < s + size) inside(u.maildir, u.maildirlen, s, size) ;
  else if (u.maildirlen != sizeof(USERSLINE_MAILDIR_DEFAULT) - 1 || memcmp(u.maildir, USERSLINE_MAILDIR_DEFAULT, u.maildirlen)) abort() ;

  if (!stralloc_catb(&sa, u.name, u.namelen) || !stralloc_catb(&sa, ":", 1)
   || !stralloc_catb(&sa, u.hash, u.hashlen) || !stralloc_catb(&sa, ":", 1)
   || !stralloc_catb(&sa, fmt, uint32_fmt(fmt, u.uid)) || !stralloc_catb(&sa, ":", 1)
   || !stralloc_catb(&sa, fmt, uint32_fmt(fmt, u.gid)) || !stralloc_catb(&sa, ":", 1)
   || !stralloc_catb(&sa, u.home, u.homelen) || !stralloc_catb(&sa, ":", 1)
   || !stralloc_catb(&sa, u.maildir, u.maildirlen)) abort() ;
  if (usersline_parse(sa.s, sa.len, &v, &why) != 1) abort() ;
  if (v.namelen != u.namelen || memcmp(v.name, u.name, u.namelen)
   || v.hashlen != u.hashlen || memcmp(v.hash, u.hash, u.hashlen)
   || v.uid != u.uid || v.gid != u.gid
   || v.homelen != u.homelen || memcmp(v.home, u.home, u.homelen)
   || v.maildirlen != u.maildirlen || memcmp(v.maildir, u.maildir, u.maildirlen)) abort() ;
  stralloc_free(&sa) ;
  return 0 ;
}
