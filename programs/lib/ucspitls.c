/* ucspitls.c: the protocol program's side of UCSPI-TLS. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <skalibs/types.h>
#include <skalibs/djbunix.h>
#include <skalibs/iopause.h>
#include "ucspitls.h"

#define ENVBLOCK_MAX 4096

/* A value from the TLS program, kept only with harmless characters (it
   goes into a Received: line and the logs). */
static void keep (char *dst, size_t max, char const *s, size_t n)
{
  size_t i, m = 0 ;
  for (i = 0 ; i < n && m + 1 < max ; i++)
  {
    char c = s[i] ;
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')
      dst[m++] = c ;
  }
  dst[m] = 0 ;
}

static int fdvar (char const *name)
{
  char const *x = getenv(name) ;
  unsigned int fd ;
  size_t n ;
  if (!x) return -1 ;
  n = uint_scan(x, &fd) ;
  if (!n || x[n] || fd > 1023 || fcntl((int)fd, F_GETFD) < 0) return -1 ;
  return (int)fd ;
}

int ucspitls_init (ucspitls *t)
{
  char const *p = getenv("SSL_PROTOCOL") ;
  t->ctl = t->rfd = t->wfd = -1 ;
  t->active = 0 ;
  t->protocol[0] = t->cipher[0] = 0 ;
  if (p && *p)
  {
    char const *c = getenv("SSL_CIPHER") ;
    keep(t->protocol, sizeof t->protocol, p, strlen(p)) ;
    if (c) keep(t->cipher, sizeof t->cipher, c, strlen(c)) ;
    if (!t->protocol[0]) memcpy(t->protocol, "TLS", 4) ;
    t->active = 1 ;
    return 1 ;
  }
  t->ctl = fdvar("SSLCTLFD") ;
  t->rfd = fdvar("SSLREADFD") ;
  t->wfd = fdvar("SSLWRITEFD") ;
  if (t->ctl < 0 || t->rfd < 0 || t->wfd < 0) { t->ctl = t->rfd = t->wfd = -1 ; return 0 ; }
  /* Not for the programs this one runs (checkpassword, postie-queue):
     the cleartext writer into the TLS session is ours alone. A program
     that must have them (cprun) moves them with dup2, which gives a
     copy without the flag. */
  if (coe(t->ctl) < 0 || coe(t->rfd) < 0 || coe(t->wfd) < 0) { t->ctl = t->rfd = t->wfd = -1 ; return 0 ; }
  return 1 ;
}

static void parse (ucspitls *t, char const *s, size_t n)
{
  size_t i = 0 ;
  while (i < n && s[i])
  {
    size_t len = strnlen(s + i, n - i) ;
    if (len > 13 && !memcmp(s + i, "SSL_PROTOCOL=", 13)) keep(t->protocol, sizeof t->protocol, s + i + 13, len - 13) ;
    else if (len > 11 && !memcmp(s + i, "SSL_CIPHER=", 11)) keep(t->cipher, sizeof t->cipher, s + i + 11, len - 11) ;
    i += len + 1 ;
  }
}

int ucspitls_start (ucspitls *t, tain const *deadline)
{
  char block[ENVBLOCK_MAX] ;
  size_t got = 0 ;
  if (t->ctl < 0 || t->active) return (errno = EINVAL, -1) ;
  if (ndelay_on(t->ctl) < 0) return -1 ;
  for (;;)
  {
    ssize_t r = write(t->ctl, "Y", 1) ;
    if (r == 1) break ;
    if (r < 0 && errno == EINTR) continue ;
    if (r < 0 && (errno == EPIPE || errno == ECONNRESET)) return 0 ;
    if (r < 0 && errno != EAGAIN) return -1 ;
    {
      iopause_fd x = { .fd = t->ctl, .events = IOPAUSE_WRITE } ;
      int k = iopause_g(&x, 1, deadline) ;
      if (k < 0 && errno != EINTR) return -1 ;
      if (!k) return (errno = ETIMEDOUT, -1) ;
    }
  }
  /* The block ends with an empty variable: "\0\0", or EOF. */
  while (got < 2 || block[got - 1] || block[got - 2])
  {
    ssize_t r ;
    if (got == sizeof block) break ;
    r = read(t->ctl, block + got, sizeof block - got) ;
    if (r > 0) { got += r ; continue ; }
    if (!r) break ;
    if (errno == EINTR) continue ;
    if (errno == ECONNRESET) break ;
    if (errno != EAGAIN) return -1 ;
    {
      iopause_fd x = { .fd = t->ctl, .events = IOPAUSE_READ } ;
      int k = iopause_g(&x, 1, deadline) ;
      if (k < 0 && errno != EINTR) return -1 ;
      if (!k) return (errno = ETIMEDOUT, -1) ;
    }
  }
  fd_close(t->ctl) ;
  t->ctl = -1 ;
  if (!got) return 0 ;  /* no block: the handshake failed */
  parse(t, block, got) ;
  if (!t->protocol[0]) memcpy(t->protocol, "TLS", 4) ;
  if (ndelay_on(t->rfd) < 0 || ndelay_on(t->wfd) < 0) return -1 ;
  t->active = 1 ;
  return 1 ;
}
