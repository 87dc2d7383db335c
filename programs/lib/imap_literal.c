/* imap_literal.c: the literal at the end of an IMAP line (imap_literal.h). */
#include <skalibs/types.h>
#include "imap_literal.h"

int imap_literal_at_end (char const *line, size_t len, size_t *n, int *sync)
{
  size_t i, k ;
  if (len < 3 || line[len-1] != '}') return 0 ;
  i = len - 1 ;
  *sync = 1 ;
  if (line[i-1] == '+') { *sync = 0 ; i-- ; }
  k = i ;
  while (k && line[k-1] >= '0' && line[k-1] <= '9') k-- ;
  if (k == i || !k || line[k-1] != '{') return 0 ;
  if (i - k > 10 || size_scan(line + k, n) != i - k) return -1 ;
  return 1 ;
}
