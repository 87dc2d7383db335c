/* Unit test: usersdb_find against a cdb written by tests/lib/cdbwrite.py
   (so the C reader and the documented format agree), and usersdb_parse on
   malformed records. */
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "usersdb.h"

static int failed = 0 ;
static void check (char const *name, int ok)
{
  printf("%s %s\n", ok ? "PASS" : "FAIL", name) ;
  if (!ok) failed = 1 ;
}

int main (void)
{
  stralloc sa = STRALLOC_ZERO ;
  usersdb_entry e ;
  char const *top = getenv("POSTIE_TOP") ;
  char cmd[4096] ;
  if (!top) top = "." ;
  snprintf(cmd, sizeof cmd, "mkdir -p users && python3 -c 'import sys; sys.path.insert(0, \"%s/tests/lib\"); import cdbwrite; cdbwrite.users_cdb(\".\", [(\"Alice\", \"$6$x$y\", 1000, 100, \"/home/alice\", \"Maildir/\"), (\"bob\", \"!\", 1001, 101, \"/home/bob\", \"/var/mail/bob/\")])'", top) ;
  check("write-db", system(cmd) == 0) ;
  check("find-alice-any-case", usersdb_find("ALICE", 5, &e, &sa) == 1 && !strcmp(e.name, "alice") && !strcmp(e.hash, "$6$x$y") && e.uid == 1000 && e.gid == 100 && !strcmp(e.home, "/home/alice") && !strcmp(e.maildir, "Maildir/")) ;
  check("find-bob", usersdb_find("bob", 3, &e, &sa) == 1 && e.uid == 1001 && !strcmp(e.maildir, "/var/mail/bob/")) ;
  check("not-found", usersdb_find("carol", 5, &e, &sa) == 0) ;
  check("empty-name", usersdb_find("", 0, &e, &sa) == 0) ;
  check("prefix-not-found", usersdb_find("ali", 3, &e, &sa) == 0) ;
  {
    /* the allocation-free lookup (postie-checkpassword's) */
    char buf[USERSDB_RECORD_MAX] ;
    check("findb-alice", usersdb_findb("Alice", 5, &e, buf, sizeof buf) == 1 && !strcmp(e.name, "alice") && !strcmp(e.hash, "$6$x$y") && e.uid == 1000 && !strcmp(e.home, "/home/alice") && !strcmp(e.maildir, "Maildir/")) ;
    check("findb-not-found", usersdb_findb("carol", 5, &e, buf, sizeof buf) == 0) ;
    /* "alice\0" and 37 bytes of data: 43 fit, 42 do not */
    check("findb-exact-fit", usersdb_findb("alice", 5, &e, buf, 43) == 1 && !strcmp(e.maildir, "Maildir/")) ;
    errno = 0 ;
    check("findb-too-small", usersdb_findb("alice", 5, &e, buf, 42) == -1 && errno == EINVAL) ;
  }
  check("parse-good", usersdb_parse("h\0" "1\0" "2\0" "/h\0" "M/\0", 12, &e) == 1) ;
  check("parse-missing-field", usersdb_parse("h\0" "1\0" "2\0" "/h\0", 9, &e) == 0) ;
  check("parse-bad-uid", usersdb_parse("h\0" "x\0" "2\0" "/h\0" "M/\0", 12, &e) == 0) ;
  check("parse-empty-uid", usersdb_parse("h\0" "\0" "2\0" "/h\0" "M/\0", 11, &e) == 0) ;
  check("parse-relative-home", usersdb_parse("h\0" "1\0" "2\0" "h\0" "M/\0", 11, &e) == 0) ;
  check("parse-trailing-junk", usersdb_parse("h\0" "1\0" "2\0" "/h\0" "M/\0x", 13, &e) == 0) ;
  check("parse-no-final-nul", usersdb_parse("h\0" "1\0" "2\0" "/h\0" "M/", 11, &e) == 0) ;
  unlink("users/users.cdb") ;
  /* a missing database is an error, never "no such user" */
  errno = 0 ;
  check("no-db", usersdb_find("bob", 3, &e, &sa) == -1 && errno == ENOENT) ;
  return failed ;
}
