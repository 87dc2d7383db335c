/* rfc5322_date.c: a date for Date:, Received: and DSN fields (rfc5322.h). */
#include <string.h>
#include <time.h>
#include <skalibs/types.h>
#include "rfc5322.h"

size_t rfc5322_date_fmt (char *s, int64_t t)
{
  static char const days[] = "SunMonTueWedThuFriSat" ;
  static char const months[] = "JanFebMarAprMayJunJulAugSepOctNovDec" ;
  time_t tt = (time_t)t ;
  struct tm tm ;
  size_t n = 0 ;
  if ((int64_t)tt != t || !gmtime_r(&tt, &tm))
  {
    memcpy(s, "Thu, 1 Jan 1970 00:00:00 +0000", 31) ;
    return 0 ;
  }
  memcpy(s, days + 3 * tm.tm_wday, 3) ; n = 3 ;
  s[n++] = ',' ; s[n++] = ' ' ;
  n += uint_fmt(s + n, (unsigned int)tm.tm_mday) ;
  s[n++] = ' ' ;
  memcpy(s + n, months + 3 * tm.tm_mon, 3) ; n += 3 ;
  s[n++] = ' ' ;
  n += uint_fmt(s + n, (unsigned int)tm.tm_year + 1900) ;
  s[n++] = ' ' ;
  n += uint0_fmt(s + n, (unsigned int)tm.tm_hour, 2) ; s[n++] = ':' ;
  n += uint0_fmt(s + n, (unsigned int)tm.tm_min, 2) ; s[n++] = ':' ;
  n += uint0_fmt(s + n, (unsigned int)tm.tm_sec, 2) ;
  memcpy(s + n, " +0000", 7) ;
  return n + 6 ;
}
