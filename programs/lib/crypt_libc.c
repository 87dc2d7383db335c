/* crypt_libc.c: the two C library functions libxcrypt calls that would
   bring musl's whole printf (vfprintf, floating point included: ~12 KiB
   of text) into postie-users and postie-checkpassword, replaced for those
   programs alone by the linker (their programs/<prog>/libs:
   -Wl,--wrap=snprintf -Wl,--wrap=__assert_fail, which sends every call
   of the objects linked to __wrap_snprintf and __wrap___assert_fail).

   libxcrypt (package/ext's methods) formats only "%s%zu$" and
   "$%c$rounds=%lu$" (the rounds= of SHA-512 crypt). __wrap_snprintf
   does C's snprintf for the conversions %s %c %d %i %u %% with no flag,
   width or precision, and the l and z length modifiers; any other
   conversion is a bug here, not a hash: it says so on stderr and aborts,
   so that no hash is ever made or checked from a half-formatted string
   (tests/unit/crypt_libc.c). __wrap___assert_fail says which assertion
   failed, on stderr, and aborts, as the C library's does. */

#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "crypt_libc.h"

int __wrap_snprintf (char *s, size_t n, char const *fmt, ...)
{
  va_list ap ;
  size_t len = 0 ;
  va_start(ap, fmt) ;
  for (; *fmt ; fmt++)
  {
    char tmp[LONG_FMT] ;
    char const *p = tmp ;
    size_t plen = 1 ;
    if (*fmt != '%') tmp[0] = *fmt ;
    else
    {
      char lenmod = 0 ;
      fmt++ ;
      if (*fmt == 'l' || *fmt == 'z') lenmod = *fmt++ ;
      switch (*fmt)
      {
        case 's' : if (lenmod) goto bad ; p = va_arg(ap, char const *) ; plen = strlen(p) ; break ;
        case 'c' : if (lenmod) goto bad ; tmp[0] = (char)va_arg(ap, int) ; break ;
        case '%' : if (lenmod) goto bad ; tmp[0] = '%' ; break ;
        case 'd' : case 'i' :
        {
          long v = lenmod == 'l' ? va_arg(ap, long) : lenmod == 'z' ? (long)va_arg(ap, ssize_t) : va_arg(ap, int) ;
          plen = long_fmt(tmp, v) ;
          break ;
        }
        case 'u' :
        {
          unsigned long v = lenmod == 'l' ? va_arg(ap, unsigned long) : lenmod == 'z' ? va_arg(ap, size_t) : va_arg(ap, unsigned int) ;
          plen = ulong_fmt(tmp, v) ;
          break ;
        }
        default : goto bad ;
      }
    }
    for (size_t i = 0 ; i < plen ; i++, len++) if (len + 1 < n) s[len] = p[i] ;
  }
  va_end(ap) ;
  if (n) s[len < n ? len : n - 1] = 0 ;
  return len > INT_MAX ? -1 : (int)len ;
 bad:
  va_end(ap) ;
  strerr_warn(PROG, ": fatal: ", "snprintf: a conversion this program does not carry (programs/lib/crypt_libc.c): ", fmt - 1) ;
  abort() ;
}

void __wrap___assert_fail (char const *expr, char const *file, int line, char const *func)
{
  char fmt[UINT_FMT] ;
  fmt[uint_fmt(fmt, line > 0 ? (unsigned int)line : 0)] = 0 ;
  strerr_warn(PROG, ": fatal: ", "assertion failed: ", expr, " (", file, ":", fmt, ": ", func, ")") ;
  abort() ;
}
