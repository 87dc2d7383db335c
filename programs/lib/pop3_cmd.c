/* pop3_cmd.c: splitting a POP3 command line (pop3_cmd.h). */
#include <string.h>
#include <skalibs/bytestr.h>
#include <skalibs/types.h>
#include "pop3_cmd.h"

int pop3_cmd_split (char *line, size_t len, size_t *cmdlen, char **arg)
{
  if (strlen(line) != len) return 0 ;
  *cmdlen = strcspn(line, " ") ;
  *arg = line[*cmdlen] ? line + *cmdlen + 1 : 0 ;
  return 1 ;
}

int pop3_cmd_is (char const *line, size_t cmdlen, char const *cmd)
{
  return strlen(cmd) == cmdlen && !case_diffb(line, cmdlen, cmd) ;
}

int pop3_num_scan (char const *s, size_t max, size_t *n)
{
  size_t len = strlen(s) ;
  return len && len <= max && size_scan(s, n) == len ;
}
