/* logline.h: one log line on stderr (for s6-log), built from pieces in a
   bounded buffer. Every byte below 32 and 127 becomes '?', so that a
   value from the network (a user name) cannot forge a line; a line too
   long for the buffer is cut. */
#ifndef LOGLINE_H
#define LOGLINE_H

#include <stddef.h>
#include <stdint.h>

#define LOGLINE_MAX 1024

typedef struct logline_s logline ;
struct logline_s
{
  size_t n ;
  char buf[LOGLINE_MAX] ;
} ;

extern void logline_start (logline *l, char const *prog) ;  /* "prog: " */
extern void logline_cat (logline *l, char const *s) ;
extern void logline_catb (logline *l, char const *s, size_t n) ;
extern void logline_num (logline *l, uint64_t u) ;
/* " key=value" for an environment variable: "-" when unset or empty */
extern void logline_env (logline *l, char const *key, char const *var) ;
extern void logline_end (logline *l) ;  /* the newline, and the write */

#endif
