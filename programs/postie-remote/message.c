/* message.c: the message on fd 0 as postie-remote sends it, and its
   size as SMTP's SIZE counts it. */

#include <unistd.h>
#include <skalibs/allreadwrite.h>
#include "remote.h"

char const *why = "" ;
off_t msgstart ;
uint64_t wiresize ;
int msg8bit = 0 ;
int msgnul = 0 ;

/* The message as it goes on the wire: every line ends in CRLF (a bare LF,
   and a bare CR, end a line), a line that starts with '.' gets one more,
   the last line is ended if it was not, then ".\r\n". With send == 0 it
   only counts: wiresize is the size RFC 1870 speaks of, CRLF line ends
   counted, the added dots and the final ".\r\n" not. */
int body_walk (int send)
{
  char buf[65536] ;
  int atbol = 1, cr = 0 ;
  uint64_t size = 0 ;
  if (lseek(0, msgstart, SEEK_SET) < 0) { why = "unable to read the message" ; return 0 ; }
  for (;;)
  {
    ssize_t r = fd_read(0, buf, sizeof buf) ;
    ssize_t i ;
    if (r < 0) { why = "unable to read the message" ; return 0 ; }
    if (!r) break ;
    for (i = 0 ; i < r ; i++)
    {
      char c = buf[i] ;
      if (cr)
      {
        cr = 0 ;
        size += 2 ;
        if (send && !oput("\r\n", 2)) return 0 ;
        atbol = 1 ;
        if (c == '\n') continue ;
      }
      if (c == '\r') { cr = 1 ; continue ; }
      if (c == '\n')
      {
        size += 2 ;
        if (send && !oput("\r\n", 2)) return 0 ;
        atbol = 1 ;
        continue ;
      }
      /* the dot added here is not part of the size (RFC 1870 3) */
      if (atbol && c == '.' && send && !oput(".", 1)) return 0 ;
      if ((unsigned char)c >= 128) msg8bit = 1 ;
      if (!c) msgnul = 1 ;
      size++ ;
      if (send && !oput(&c, 1)) return 0 ;
      atbol = 0 ;
    }
  }
  if (cr || !atbol)
  {
    size += 2 ;
    if (send && !oput("\r\n", 2)) return 0 ;
  }
  if (send && !oput(".\r\n", 3)) return 0 ;
  wiresize = size ;
  return 1 ;
}
