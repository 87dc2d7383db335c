/* postie_home: where the instance lives. */
#include <stdlib.h>
#include <sys/auxv.h>
#include "postie.h"

/* POSTIE_HOME is ignored in a program started with privileges its
   caller did not have (set-uid, set-gid, file capabilities): the
   kernel's AT_SECURE, which it sets on such an exec and also on any exec
   by a process whose real and effective ids differ (what this checked
   before with four get*id system calls per exec). Read from the
   auxiliary vector: no system call. */
char const *postie_home (void)
{
  char const *h ;
  if (getauxval(AT_SECURE)) return POSTIE_HOME_DEFAULT ;
  h = getenv("POSTIE_HOME") ;
  return h && *h ? h : POSTIE_HOME_DEFAULT ;
}
