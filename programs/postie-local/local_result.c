/* local_result.c: postie-local's one line of result on stdout, and the
   record of the deliveries done so far (which the line names, on success
   and on failure alike, so that a retry's duplicates can be explained).
   Nothing goes to stderr: the caller logs this line. */

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <skalibs/allreadwrite.h>
#include "local.h"

static char done[LOCAL_RESULT_MAX] ;
static size_t donelen = 0 ;
static int donetrunc = 0 ;

static void cat (char *buf, size_t max, size_t *len, int *trunc, char const *s, size_t n)
{
  if (*len + n > max) { n = max - *len ; *trunc = 1 ; }
  memcpy(buf + *len, s, n) ;
  *len += n ;
}

void local_did (char const *const *v, unsigned int n)
{
  unsigned int i ;
  char line[LOCAL_RESULT_MAX] ;
  size_t len = 0 ;
  int trunc = 0 ;
  for (i = 0 ; i < n ; i++) cat(line, sizeof line, &len, &trunc, v[i], strlen(v[i])) ;
  local_printable(line, len) ;
  if (donelen) cat(done, sizeof done, &donelen, &donetrunc, "; ", 2) ;
  cat(done, sizeof done, &donelen, &donetrunc, line, len) ;
  if (trunc) donetrunc = 1 ;
}

static void finish (int code, char *line, size_t len, int trunc) gccattr_noreturn ;
static void finish (int code, char *line, size_t len, int trunc)
{
  if (trunc && len >= 3) memcpy(line + len - 3, "...", 3) ;
  local_printable(line, len) ;
  line[len] = '\n' ;
  if (allwrite(1, line, len + 1) < len + 1) { /* nobody to tell */ }
  _exit(code) ;
}

void local_exit (int code, char const *const *v, unsigned int n, int witherrno)
{
  char line[LOCAL_RESULT_MAX + 1] ;
  size_t len = 0 ;
  int trunc = 0 ;
  unsigned int i ;
  char const *e = witherrno ? strerror(errno) : 0 ;
  for (i = 0 ; i < n ; i++) cat(line, LOCAL_RESULT_MAX, &len, &trunc, v[i], strlen(v[i])) ;
  if (e)
  {
    cat(line, LOCAL_RESULT_MAX, &len, &trunc, ": ", 2) ;
    cat(line, LOCAL_RESULT_MAX, &len, &trunc, e, strlen(e)) ;
  }
  if (donelen)
  {
    static char const s[] = " (already delivered to: " ;
    cat(line, LOCAL_RESULT_MAX, &len, &trunc, s, sizeof s - 1) ;
    cat(line, LOCAL_RESULT_MAX, &len, &trunc, done, donelen) ;
    cat(line, LOCAL_RESULT_MAX, &len, &trunc, ")", 1) ;
    if (donetrunc) trunc = 1 ;
  }
  finish(code, line, len, trunc) ;
}

void local_success (void)
{
  static char const s[] = "delivered to " ;
  char line[LOCAL_RESULT_MAX + 1] ;
  size_t len = 0 ;
  int trunc = donetrunc ;
  cat(line, LOCAL_RESULT_MAX, &len, &trunc, s, sizeof s - 1) ;
  if (donelen) cat(line, LOCAL_RESULT_MAX, &len, &trunc, done, donelen) ;
  else
  {
    static char const nothing[] = "nothing: the instructions stopped before any delivery" ;
    len = 0 ;
    cat(line, LOCAL_RESULT_MAX, &len, &trunc, nothing, sizeof nothing - 1) ;
  }
  finish(0, line, len, trunc) ;
}
