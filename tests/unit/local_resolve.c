/* Unit test: local_resolve (local or remote, users, extensions, aliases,
   virtual domains, loops) and local_exists, against control files and a
   users database written here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "local_resolve.h"

static int failed = 0 ;
static void check (char const *name, int ok)
{
  printf("%s %s\n", ok ? "PASS" : "FAIL", name) ;
  if (!ok) failed = 1 ;
}

static void put (char const *name, char const *text)
{
  char path[256] ;
  FILE *f ;
  snprintf(path, sizeof path, "control/%s", name) ;
  f = fopen(path, "w") ;
  if (!f) { perror(path) ; exit(111) ; }
  fputs(text, f) ;
  fclose(f) ;
}

/* The records as "K addr user local ext domain reason|..." */
static char out[65536] ;
static char const *res (local_resolver *r, char const *addr)
{
  stralloc sa = STRALLOC_ZERO ;
  size_t i = 0, n = 0 ;
  int k = local_resolve(r, addr, strlen(addr), &sa) ;
  if (k < 0) return "ERROR" ;
  out[0] = 0 ;
  while (i < sa.len)
  {
    unsigned int f ;
    n += snprintf(out + n, sizeof out - n, "%s%c", n ? "|" : "", sa.s[i++]) ;
    for (f = 0 ; f < 6 ; f++)
    {
      n += snprintf(out + n, sizeof out - n, " %s", sa.s + i) ;
      i += strlen(sa.s + i) + 1 ;
    }
  }
  stralloc_free(&sa) ;
  return out ;
}

#define T(name, addr, want) do { char const *got = res(&r, addr) ; int ok = !strcmp(got, want) ; check(name, ok) ; if (!ok) printf("  got:  %s\n  want: %s\n", got, want) ; } while (0)

int main (void)
{
  local_resolver r = LOCAL_RESOLVER_ZERO ;
  char const *top = getenv("POSTIE_TOP") ;
  char cmd[4096] ;
  if (!top) top = "." ;
  mkdir("control", 0755) ;
  snprintf(cmd, sizeof cmd, "mkdir -p users && python3 -c 'import sys; sys.path.insert(0, \"%s/tests/lib\"); import cdbwrite; cdbwrite.users_cdb(\".\", [(n, \"*\", 1000, 100, \"/home/\" + n, \"Maildir/\") for n in (\"alice\", \"bob\", \"mary-ann\", \"joe\")])'", top) ;
  check("write-db", system(cmd) == 0) ;
  put("locals", "example.org\n# comment\nLocalHost\n") ;
  put("virtualdomains", "virt.test:joe\nall.test:\n") ;
  put("aliases", "postmaster: alice\nteam: alice, bob@example.org , far@remote.test\nloop: loop2\nloop2: loop\nMixed: Bob\nghosts: nobody, alice\n") ;
  put("extsep", "+-\n") ;
  check("init-no-me", local_resolve_init(&r) == -1 && errno == ENOENT && !strcmp(r.errfile, "control/me")) ;
  put("me", "mx.example.org\n") ;
  check("init", local_resolve_init(&r) == 1) ;

  T("plain", "alice@example.org", "L alice@example.org alice alice  example.org ") ;
  T("case-domain", "Alice@EXAMPLE.ORG", "L Alice@EXAMPLE.ORG Alice Alice  EXAMPLE.ORG ") ;
  T("second-local-domain", "bob@localhost", "L bob@localhost bob bob  localhost ") ;
  T("no-domain", "bob", "L bob bob bob   ") ;
  T("remote", "x@remote.test", "R x@remote.test    remote.test ") ;
  T("remote-at-in-local", "\"a@b\"@remote.test", "R \"a@b\"@remote.test    remote.test ") ;
  T("ext-plus", "bob+lists@example.org", "L bob+lists@example.org bob bob+lists lists example.org ") ;
  T("ext-dash", "bob-x-y@example.org", "L bob-x-y@example.org bob bob-x-y x-y example.org ") ;
  T("user-with-dash", "mary-ann@example.org", "L mary-ann@example.org mary-ann mary-ann  example.org ") ;
  T("user-with-dash-ext", "mary-ann-news@example.org", "L mary-ann-news@example.org mary-ann mary-ann-news news example.org ") ;
  T("empty-ext", "bob+@example.org", "L bob+@example.org bob bob+  example.org ") ;
  T("unknown", "nobody@example.org", "X nobody@example.org     no such user") ;
  T("unknown-ext", "nobody+x@example.org", "X nobody+x@example.org     no such user") ;
  T("alias", "postmaster@example.org", "L alice@example.org alice alice  example.org ") ;
  T("alias-case", "POSTMASTER@example.org", "L alice@example.org alice alice  example.org ") ;
  T("alias-ext", "postmaster+x@example.org", "L alice@example.org alice alice  example.org ") ;
  T("alias-list", "team@example.org", "L alice@example.org alice alice  example.org |L bob@example.org bob bob  example.org |R far@remote.test    remote.test ") ;
  T("alias-key-case", "mixed@example.org", "L Bob@example.org Bob Bob  example.org ") ;
  T("alias-partial-failure", "ghosts@example.org", "X nobody@example.org     no such user|L alice@example.org alice alice  example.org ") ;
  T("alias-loop", "loop@example.org", "X loop2@example.org     alias loop or aliases nested too deeply") ;
  T("virtual", "anything@virt.test", "L anything@virt.test joe joe+anything anything virt.test ") ;
  T("virtual-empty-prefix", "bob@all.test", "L bob@all.test bob bob  all.test ") ;
  T("virtual-unknown", "x@all.test", "X x@all.test     no such user") ;
  T("subdomain-is-remote", "a@sub.example.org", "R a@sub.example.org    sub.example.org ") ;
  check("exists-local", local_exists(&r, "bob@example.org", 15) == 1) ;
  check("exists-remote", local_exists(&r, "x@remote.test", 13) == 1) ;
  check("exists-unknown", local_exists(&r, "zz@example.org", 14) == 0) ;
  check("exists-alias-partial", local_exists(&r, "ghosts@example.org", 18) == 1) ;
  check("is-local", local_domain_is_local(&r, "LOCALHOST", 9) && !local_domain_is_local(&r, "example.com", 11)) ;

  put("extsep", "\n") ;
  check("reinit", local_resolve_init(&r) == 1) ;
  T("no-extsep", "bob+lists@example.org", "X bob+lists@example.org     no such user") ;
  {
    /* 1001 targets: more than an alias may expand to */
    FILE *f = fopen("control/aliases", "w") ;
    int i ;
    fputs("big: ", f) ;
    for (i = 0 ; i < 1001 ; i++) fprintf(f, "%sx%d@remote.test", i ? ", " : "", i) ;
    fputs("\n", f) ;
    fclose(f) ;
  }
  check("reinit-big", local_resolve_init(&r) == 1) ;
  T("too-many-targets", "big@example.org", "X big@example.org     alias expands to too many recipients") ;

  /* Configuration slips: a missing file is a temporary error naming it,
     and a failed re-read keeps the old settings whole. */
  unlink("control/aliases") ;
  check("missing-aliases", local_resolve_init(&r) == -1 && errno == ENOENT && !strcmp(r.errfile, "control/aliases")) ;
  T("kept-after-failed-reinit", "big@example.org", "X big@example.org     alias expands to too many recipients") ;
  put("aliases", "") ;
  unlink("control/locals") ;
  check("missing-locals", local_resolve_init(&r) == -1 && errno == ENOENT && !strcmp(r.errfile, "control/locals")) ;
  put("locals", "example.org\n") ;
  check("reinit-empty-aliases", local_resolve_init(&r) == 1) ;
  {
    stralloc sa = STRALLOC_ZERO ;
    rename("users/users.cdb", "users/users.cdb.away") ;
    errno = 0 ;
    check("missing-db-resolve", local_resolve(&r, "bob@example.org", 15, &sa) == -1 && errno == ENOENT && !sa.len && !strcmp(r.errfile, "users/users.cdb")) ;
    check("missing-db-exists", local_exists(&r, "bob@example.org", 15) == -1) ;
    check("missing-db-remote-ok", local_exists(&r, "x@remote.test", 13) == 1) ;
    chmod("users/users.cdb.away", 0) ;
    rename("users/users.cdb.away", "users/users.cdb") ;
    if (geteuid())
      check("unreadable-db", local_resolve(&r, "bob@example.org", 15, &sa) == -1 && errno == EACCES && !strcmp(r.errfile, "users/users.cdb")) ;
    chmod("users/users.cdb", 0644) ;
    check("db-back", local_resolve(&r, "bob@example.org", 15, &sa) == 1) ;
    stralloc_free(&sa) ;
  }
  local_resolve_free(&r) ;
  return failed ;
}
