/* postie-users-hash: the crypt(3) hash of a password, for postie-users.

   Reads the password (the first line of stdin, without its \n or \r\n,
   or all of stdin to end of file; 1 to 256 bytes, no NUL) and writes its
   hash, made with libcrypt's preferred method (crypt_gensalt_rn with no
   prefix: yescrypt) and a random salt from the kernel, and a \n, to
   stdout. postie-users runs it for add, passwd and hash: libxcrypt is
   half of a program's 64 KiB of text (doc/design.md, "Size"), and only
   this step needs it. Exit 100 bad password or usage, 111 temporary
   error.

   With -c it checks hashes instead: one a line on stdin (1 to 512
   bytes, no control character), one verdict a line on stdout, in the
   same order: libxcrypt's crypt_checksalt of that hash in this build
   (ok, legacy, invalid, disabled, too-cheap). postie-users runs it once
   per compile over every hash of users/users, so that a hash of a method
   this build cannot verify is named when it enters the database, not
   when its user fails to log in. Exit 100 for a bad line (its number
   said; the verdicts written before it stand), 111 temporary error. */

#include <errno.h>
#include <string.h>
#include <crypt.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/buffer.h>
#include <skalibs/skamisc.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "postie.h"

#define USAGE "postie-users-hash [ -c ] < password (or hashes, with -c)"
#define PASSWORD_MAX 256
#define HASH_MAX 512  /* doc/users.md */

static struct crypt_data cd ;

/* One line from stdin: the password, without its line end. */
static size_t readpassword (char *pw)
{
  size_t len = 0 ;
  for (;;)
  {
    ssize_t r = fd_read(0, pw + len, PASSWORD_MAX + 2 - len) ;
    char *nl ;
    if (r < 0) strerr_diefusys(111, "read the password from stdin") ;
    nl = memchr(pw + len, '\n', r) ;
    len += r ;
    if (nl) { len = nl - pw ; break ; }
    if (!r) break ;
    if (len >= PASSWORD_MAX + 2) break ;
  }
  if (len && pw[len-1] == '\r') len-- ;
  if (len > PASSWORD_MAX) strerr_dief(100, "password too long (the limit is 256 bytes)") ;
  if (!len) strerr_dief(100, "empty password on stdin (use -n for a user without one)") ;
  if (memchr(pw, 0, len)) strerr_dief(100, "NUL byte in the password") ;
  pw[len] = 0 ;
  return len ;
}

static void dieline (unsigned long line, char const *why)
{
  char fmt[ULONG_FMT] ;
  fmt[ulong_fmt(fmt, line)] = 0 ;
  buffer_flush(buffer_1) ;
  strerr_dief(100, "line ", fmt, " of stdin: ", why) ;
}

static char const *verdict (char const *hash)
{
  switch (crypt_checksalt(hash))
  {
    case CRYPT_SALT_OK : return "ok\n" ;
    case CRYPT_SALT_METHOD_LEGACY : return "legacy\n" ;
    case CRYPT_SALT_METHOD_DISABLED : return "disabled\n" ;
    case CRYPT_SALT_TOO_CHEAP : return "too-cheap\n" ;
    default : return "invalid\n" ;  /* CRYPT_SALT_INVALID, or a code this header does not know */
  }
}

/* -c: a verdict for each hash on stdin. */
static int check (void)
{
  char line[HASH_MAX + 2] ;
  unsigned long n = 0 ;
  for (;;)
  {
    size_t w = 0, i = 0 ;
    int r = getlnmax(buffer_0, line, sizeof line, &w, '\n') ;
    if (r < 0 && errno == ERANGE) dieline(n + 1, "longer than 512 bytes") ;
    if (r < 0) strerr_diefusys(111, "read stdin") ;
    if (!r && !w) break ;
    n++ ;
    if (r) w-- ;  /* the \n */
    if (w > HASH_MAX) dieline(n, "longer than 512 bytes") ;
    if (!w) dieline(n, "empty (a hash is 1 to 512 bytes)") ;
    for (; i < w ; i++)
      if ((unsigned char)line[i] < 32 || line[i] == 127) dieline(n, "NUL or control character") ;
    line[w] = 0 ;
    if (buffer_puts(buffer_1, verdict(line)) < 0) strerr_diefusys(111, "write to stdout") ;
    if (!r) break ;
  }
  if (!buffer_flush(buffer_1)) strerr_diefusys(111, "write to stdout") ;
  return 0 ;
}

int main (int argc, char const *const *argv)
{
  char pw[PASSWORD_MAX + 3] ;
  char salt[CRYPT_GENSALT_OUTPUT_SIZE] ;
  char out[CRYPT_OUTPUT_SIZE + 1] ;
  char const *h ;
  size_t len ;
  PROG = "postie-users-hash" ;
  if (argc == 2 && !strcmp(argv[1], "-c")) return check() ;
  if (argc > 1) strerr_dieusage(100, USAGE) ;
  readpassword(pw) ;
  if (!crypt_gensalt_rn(0, 0, 0, 0, salt, sizeof salt))
    strerr_diefusys(111, "make a salt with crypt_gensalt") ;
  h = crypt_rn(pw, salt, &cd, sizeof cd) ;
  memset(pw, 0, sizeof pw) ;
  if (!h || h[0] == '*') strerr_diefusys(111, "hash the password with crypt") ;
  len = strlen(h) ;
  if (len >= CRYPT_OUTPUT_SIZE || strchr(h, ':')) strerr_dief(111, "crypt returned an unusable hash") ;
  memcpy(out, h, len) ;
  out[len++] = '\n' ;
  memset(&cd, 0, sizeof cd) ;
  if (allwrite(1, out, len) < len) strerr_diefusys(111, "write to stdout") ;
  return 0 ;
}
