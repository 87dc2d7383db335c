/* postie_home: where the instance lives. */
#include <stdlib.h>
#include <unistd.h>
#include "postie.h"

char const *postie_home (void)
{
  char const *h ;
  if (getuid() != geteuid() || getgid() != getegid()) return POSTIE_HOME_DEFAULT ;
  h = getenv("POSTIE_HOME") ;
  return h && *h ? h : POSTIE_HOME_DEFAULT ;
}
