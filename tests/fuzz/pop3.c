/* Fuzz target: a POP3 command line as postie-popup and postie-pop3d take
   it (programs/lib/pop3_cmd.c): the line end stripped as both do, then
   pop3_cmd_split, the keyword looked up with pop3_cmd_is, and the number
   arguments of postie-pop3d (a message number, TOP's count of lines)
   with pop3_num_scan.
   Input: one line as timedio_getline returns it (up to and including its
   LF; without one, the input is taken as if it had one).
   Checks: keyword and argument lie inside the line and put together make
   all of it; a keyword matches at most one command; a number accepted is
   all digits, within its length and exactly its value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "pop3_cmd.h"

#define LINE_MAX 255  /* both programs' */

static char const *const cmds[] =
{
  "USER", "PASS", "AUTH", "QUIT", "CAPA", "STAT", "LIST", "RETR", "DELE",
  "RSET", "NOOP", "UIDL", "TOP", "LAST", "PLAIN", 0
} ;

static void number (char const *s, size_t max)
{
  size_t n = 12345, len = strlen(s), v = 0 ;
  if (!pop3_num_scan(s, max, &n)) return ;
  if (!len || len > max) abort() ;
  for (size_t i = 0 ; i < len ; i++)
  {
    if (s[i] < '0' || s[i] > '9') abort() ;
    v = v * 10 + (size_t)(s[i] - '0') ;
  }
  if (v != n) abort() ;
}

int LLVMFuzzerTestOneInput (uint8_t const *data, size_t size)
{
  char line[LINE_MAX + 1] ;
  size_t len, cmdlen = 99999 ;
  char *arg = (char *)1 ;
  unsigned int found = 0 ;
  if (size > LINE_MAX) return 0 ;  /* longer: "line too long", never parsed */
  memcpy(line, data, size) ;
  len = size ;
  if (!len || line[len-1] != '\n') { if (len == LINE_MAX) return 0 ; line[len++] = '\n' ; }
  /* the line end, stripped as both programs do */
  len-- ;
  if (len && line[len-1] == '\r') len-- ;
  line[len] = 0 ;
  if (!pop3_cmd_split(line, len, &cmdlen, &arg))
  {
    if (!memchr(line, 0, len)) abort() ;
    return 0 ;
  }
  if (memchr(line, 0, len) || cmdlen > len || memchr(line, ' ', cmdlen)) abort() ;
  if (arg)
  {
    if (arg != line + cmdlen + 1 || line[cmdlen] != ' ' || strlen(arg) != len - cmdlen - 1) abort() ;
  }
  else if (cmdlen != len) abort() ;
  for (unsigned int i = 0 ; cmds[i] ; i++)
    if (pop3_cmd_is(line, cmdlen, cmds[i]))
    {
      if (strlen(cmds[i]) != cmdlen || found++) abort() ;
      for (size_t k = 0 ; k < cmdlen ; k++)
        if ((line[k] & ~0x20) != cmds[i][k]) abort() ;
    }
  if (arg)
  {
    char *sp = strchr(arg, ' ') ;
    number(arg, 10) ;                   /* RETR n, DELE n, LIST n, UIDL n */
    if (sp) { number(sp + 1, 9) ; *sp = 0 ; number(arg, 10) ; }  /* TOP n lines */
  }
  return 0 ;
}
