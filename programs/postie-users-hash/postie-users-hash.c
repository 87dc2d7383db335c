/* postie-users-hash: the crypt(3) hash of a password, for postie-users.

   Reads the password (the first line of stdin, without its \n or \r\n,
   or all of stdin to end of file; 1 to 256 bytes, no NUL) and writes its
   hash, made with libcrypt's preferred method (crypt_gensalt_rn with no
   prefix: yescrypt) and a random salt from the kernel, and a \n, to
   stdout. postie-users runs it for add, passwd and hash: libxcrypt is
   half of a program's 64 KiB of text (doc/design.md, "Size"), and only
   this step needs it. Exit 100 bad password or usage, 111 temporary
   error. */

#include <string.h>
#include <crypt.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/strerr.h>
#include "postie.h"

#define USAGE "postie-users-hash < password"
#define PASSWORD_MAX 256

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

int main (int argc, char const *const *argv)
{
  char pw[PASSWORD_MAX + 3] ;
  char salt[CRYPT_GENSALT_OUTPUT_SIZE] ;
  char out[CRYPT_OUTPUT_SIZE + 1] ;
  char const *h ;
  size_t len ;
  PROG = "postie-users-hash" ;
  (void)argv ;
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
