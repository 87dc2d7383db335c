/* Unit test: envmod (programs/lib/envmod.c), the environment
   postie-checkpassword and postie-tlsd give the next program: every
   entry of a name set or unset goes, duplicates included, then the new
   values; names compared whole (HOME is not HOMEDIR); bounded. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "envmod.h"

static int failed = 0 ;

static void check (char const *name, int cond)
{
  printf("%s envmod-%s\n", cond ? "PASS" : "FAIL", name) ;
  if (!cond) failed = 1 ;
}

/* 1 if v (r variables, null-terminated) is exactly want (null-terminated). */
static int same (char const *const *v, ssize_t r, char const *const *want)
{
  ssize_t i = 0 ;
  for (; want[i] ; i++) if (i >= r || !v[i] || strcmp(v[i], want[i])) return 0 ;
  return i == r && !v[r] ;
}

/* envmod into an array sized by envmod_size, compared with want. */
static int run (char const *const *envp, char const *modifs, size_t n, char const *const *want)
{
  size_t vmax = envmod_size(envp, modifs, n) ;
  char const *v[vmax ? vmax : 1] ;
  ssize_t r ;
  if (!vmax) return 0 ;
  r = envmod(v, vmax, envp, modifs, n) ;
  return r >= 0 && (size_t)r < vmax && same(v, r, want) ;
}

#define M(s) s, sizeof s - 1

int main (void)
{
  static char const *const none[] = { 0 } ;
  static char const *const dup[] = { "PATH=/bin", "HOME=/evil", "USER=x", "HOMEDIR=/keep", "HOME=/evil2", "USER=y", "H=1", 0 } ;
  static char const *const noeq[] = { "HOME", "HOMEDIR", "NOEQ", "=anon", "X=1", 0 } ;

  {
    static char const *const want[] = { "HOME=/h", "USER=u", 0 } ;
    check("empty-environ", run(none, M("HOME=/h\0USER=u\0"), want)) ;
    check("empty-environ-unset", run(none, M("HOME\0"), none)) ;
    check("empty-environ-nothing", run(none, "", 0, none)) ;
  }
  {
    static char const *const want[] = { "PATH=/bin", "HOMEDIR=/keep", "H=1", "HOME=/right", "USER=me", 0 } ;
    check("duplicates-all-replaced", run(dup, M("HOME=/right\0USER=me\0"), want)) ;
  }
  {
    static char const *const want[] = { "PATH=/bin", "HOMEDIR=/keep", "H=1", 0 } ;
    check("duplicates-all-unset", run(dup, M("HOME\0USER\0"), want)) ;
  }
  {
    static char const *const want[] = { "HOME=/a", 0 } ;
    check("every-entry-removed", run(dup, M("PATH\0HOME\0USER\0HOMEDIR\0H\0HOME=/a\0"), want)) ;
    check("every-entry-unset", run(dup, M("PATH\0HOME\0USER\0HOMEDIR\0H\0"), none)) ;
  }
  {
    /* HOMEDIR, H and HOM are other names than HOME, both ways round */
    static char const *const want[] = { "PATH=/bin", "HOME=/evil", "USER=x", "HOME=/evil2", "USER=y", "H=1", "HOMEDIR=/new", 0 } ;
    static char const *const want2[] = { "PATH=/bin", "USER=x", "HOMEDIR=/keep", "USER=y", "H=1", 0 } ;
    check("prefix-not-a-match", run(dup, M("HOMEDIR=/new\0HOM\0HOMED\0"), want)) ;
    check("longer-not-a-match", run(dup, M("HOME\0HOMEDIRS\0"), want2)) ;
  }
  {
    /* an entry without '=' is named by all of it */
    static char const *const want[] = { "HOMEDIR", "NOEQ", "=anon", "X=1", "HOME=/h", 0 } ;
    static char const *const want2[] = { "HOME", "HOMEDIR", "=anon", "X=1", 0 } ;
    check("no-equals-entry-replaced", run(noeq, M("HOME=/h\0"), want)) ;
    check("no-equals-entry-unset", run(noeq, M("NOEQ\0"), want2)) ;
    check("no-equals-entry-kept", run(noeq, M("Y=2\0"), (char const *const []){ "HOME", "HOMEDIR", "NOEQ", "=anon", "X=1", "Y=2", 0 })) ;
  }
  {
    /* the last change of a name wins, and only one entry is added */
    static char const *const want[] = { "PATH=/bin", "HOMEDIR=/keep", "H=1", "USER=b", "HOME=2", 0 } ;
    static char const *const want2[] = { "PATH=/bin", "USER=x", "HOMEDIR=/keep", "USER=y", "H=1", 0 } ;
    check("last-set-wins", run(dup, M("HOME=1\0USER=a\0USER=b\0HOME=2\0"), want)) ;
    check("set-then-unset", run(dup, M("HOME=1\0HOME\0"), want2)) ;
  }
  {
    /* an empty value is a value; empty entries, and a last one without
       its NUL, are ignored */
    static char const *const want[] = { "PATH=/bin", "HOMEDIR=/keep", "H=1", "HOME=", 0 } ;
    static char const *const want2[] = { "PATH=/bin", "HOME=/evil", "USER=x", "HOMEDIR=/keep", "HOME=/evil2", "USER=y", "H=1", 0 } ;
    static char const cut[] = { 'U', 'S', 'E', 'R' } ;
    check("empty-value", run(dup, M("HOME=\0USER\0"), want)) ;
    check("empty-entries-ignored", run(dup, M("\0\0"), want2)) ;
    check("unterminated-ignored", run(dup, cut, sizeof cut, want2)) ;
    check("unterminated-size", envmod_size(dup, cut, sizeof cut) == 8) ;
  }
  {
    /* a '=' in the value, and "=x" (an empty name) never matches */
    static char const *const want[] = { "HOME", "HOMEDIR", "NOEQ", "=anon", "X=1", "Z=a=b", 0 } ;
    check("equals-in-value", run(noeq, M("Z=a=b\0=anon\0"), want)) ;
  }
  {
    /* bounds: vmax too small is E2BIG, never a write past it */
    char const *v[4] = { "guard", "guard", "guard", "guard" } ;
    ssize_t r ;
    errno = 0 ;
    r = envmod(v, 3, dup, M("HOME=/h\0")) ;
    check("too-small-e2big", r == -1 && errno == E2BIG && !strcmp(v[3], "guard")) ;
    r = envmod(v, 0, none, "", 0) ;
    check("vmax-zero", r == -1 && errno == E2BIG) ;
    r = envmod(v, 1, none, "", 0) ;
    check("vmax-one-empty", r == 0 && !v[0]) ;
    check("size-counts", envmod_size(dup, M("HOME=/h\0USER\0")) == 10) ;
  }
  {
    /* ENVMOD_MAX variables, the changes counted: one more is refused */
    static char const *big[ENVMOD_MAX + 2] ;
    static char names[ENVMOD_MAX + 1][16] ;
    size_t i ;
    for (i = 0 ; i < ENVMOD_MAX ; i++)
    {
      snprintf(names[i], sizeof names[i], "V%zu=1", i) ;
      big[i] = names[i] ;
    }
    big[ENVMOD_MAX - 1] = 0 ;
    check("max-fits", envmod_size(big, M("V0=2\0")) == ENVMOD_MAX + 1) ;
    check("max-plus-one-refused", envmod_size(big, M("V0=2\0W=3\0")) == 0) ;
    big[ENVMOD_MAX - 1] = names[ENVMOD_MAX - 1] ;
    check("max-environ-fits", envmod_size(big, "", 0) == ENVMOD_MAX + 1) ;
    snprintf(names[ENVMOD_MAX], sizeof names[ENVMOD_MAX], "V%d=1", ENVMOD_MAX) ;
    big[ENVMOD_MAX] = names[ENVMOD_MAX] ;
    check("environ-too-big-refused", envmod_size(big, "", 0) == 0) ;
  }
  return failed ;
}
