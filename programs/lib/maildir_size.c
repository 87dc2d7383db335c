/* maildir_size.c: the size of a Maildir message as POP3 sends it, and the
   size fields of its file name (maildir_size.h). */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <skalibs/types.h>
#include "maildir_size.h"

void maildir_size_add (maildir_size *ms, char const *s, size_t n)
{
  char prev = ms->last ;
  uint64_t lf = 0 ;
  for (size_t i = 0 ; i < n ; i++)
  {
    if (s[i] == '\n' && prev != '\r') lf++ ;
    prev = s[i] ;
  }
  if (n) ms->last = prev ;
  ms->size += n ;
  ms->wire += n + lf ;
}

uint64_t maildir_size_wire (maildir_size const *ms)
{
  if (!ms->size || ms->last == '\n') return ms->wire ;
  return ms->wire + (ms->last == '\r' ? 1 : 2) ;
}

/* The last ",X=digits" in s[0, len) (the fields come after the host
   name): 1 and *u, or 0. The digits must end the field (at ',' or the
   end of the unique part). */
static int field (char const *s, size_t len, char x, uint64_t *u)
{
  int found = 0 ;
  for (size_t i = 0 ; i + 3 < len ; i++)
  {
    uint64_t v ;
    size_t n ;
    if (s[i] != ',' || s[i+1] != x || s[i+2] != '=') continue ;
    n = uint64_scan(s + i + 3, &v) ;  /* stops before an overflow: then a digit follows */
    if (!n || n > 20) continue ;
    if (i + 3 + n == len || s[i + 3 + n] == ',') { *u = v ; found = 1 ; }
  }
  return found ;
}

unsigned int maildir_size_fromname (char const *name, uint64_t *size, uint64_t *wire)
{
  size_t len = strcspn(name, ":") ;
  return (field(name, len, 'S', size) ? 1 : 0) | (field(name, len, 'W', wire) ? 2 : 0) ;
}

int maildir_size_fd (int fd, maildir_size *ms)
{
  char buf[65536] ;
  for (;;)
  {
    ssize_t r = read(fd, buf, sizeof buf) ;
    if (r < 0) { if (errno == EINTR) continue ; return -1 ; }
    if (!r) return 0 ;
    maildir_size_add(ms, buf, r) ;
  }
}
