/* tlsd_keys.c: the certificate chain and the private key, from PEM files.
   Both are read anew by every connection (postie-tlsd is exec'd per
   connection), so replacing the files needs no restart. Opening and
   decoding are apart: the files are opened (as the uid that may read the
   key) when the connection starts, and decoded, which is most of the
   start-up's work, only when a handshake is to be made. */

#include <errno.h>
#include <string.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/bytestr.h>
#include "tlsd.h"

/* The DER of every certificate, one after the other; the key's DER. */
static unsigned char derpool[TLSD_FILEMAX] ;
static size_t derlen ;
static unsigned char keyder[TLSD_FILEMAX] ;
static size_t keylen ;
static int overflow ;
static char filebuf[TLSD_FILEMAX + 1] ;
/* How much of keyder and filebuf was ever written since the last wipe:
   only that is zeroed, not the whole 64 KiB of each (every connection
   pays for the wipe, three times: after the load, in the program's child,
   and at the end; each whole-buffer wipe also faulted every page in). */
static size_t keydirty ;
static size_t filedirty ;

static void topool (void *ctx, void const *s, size_t n)
{
  (void)ctx ;
  if (n > sizeof derpool - derlen) { overflow = 1 ; return ; }
  memcpy(derpool + derlen, s, n) ;
  derlen += n ;
}

static void tokey (void *ctx, void const *s, size_t n)
{
  (void)ctx ;
  if (n > sizeof keyder - keylen) { overflow = 1 ; return ; }
  memcpy(keyder + keylen, s, n) ;
  keylen += n ;
  if (keylen > keydirty) keydirty = keylen ;
}

static void wipebufs (void)
{
  byte_zzero((char *)keyder, keydirty) ;
  byte_zzero(filebuf, filedirty) ;
  keydirty = filedirty = 0 ;
}

/* The file on fd (closed here), PEM text, at most TLSD_FILEMAX bytes. */
static ssize_t readpem (int fd, char const **why)
{
  size_t r = 0 ;
  while (r < sizeof filebuf)
  {
    ssize_t w = fd_read(fd, filebuf + r, sizeof filebuf - r) ;
    if (w < 0) { *why = "unable to read" ; fd_close(fd) ; return -1 ; }
    if (!w) break ;
    r += w ;
    if (r + 1 > filedirty) filedirty = r + 1 ;  /* decode() adds a newline */
  }
  fd_close(fd) ;
  if (r > TLSD_FILEMAX) { errno = 0 ; *why = "file too large" ; return -1 ; }
  return r ;
}

static int iscert (char const *name)
{
  return !strcmp(name, "CERTIFICATE") || !strcmp(name, "X509 CERTIFICATE") ;
}

static int iskey (char const *name)
{
  return !strcmp(name, "PRIVATE KEY") || !strcmp(name, "RSA PRIVATE KEY") || !strcmp(name, "EC PRIVATE KEY") ;
}

/* Decodes the PEM objects of buf: certificates into the chain when k is
   given as a chain reader (wantkey 0), the one private key otherwise. */
static int decode (tlsd_keys *k, size_t n, int wantkey, char const **why)
{
  br_pem_decoder_context pc ;
  size_t pos = 0, start = 0 ;
  int inobj = 0, found = 0 ;
  br_pem_decoder_init(&pc) ;
  filebuf[n++] = '\n' ;  /* a last line without its newline */
  overflow = 0 ;
  while (pos < n)
  {
    pos += br_pem_decoder_push(&pc, filebuf + pos, n - pos) ;
    switch (br_pem_decoder_event(&pc))
    {
      case BR_PEM_BEGIN_OBJ :
      {
        char const *name = br_pem_decoder_name(&pc) ;
        inobj = 1 ;
        if (!wantkey && iscert(name))
        {
          if (k->chainlen >= TLSD_CHAINMAX) { errno = 0 ; *why = "too many certificates in the chain" ; return 0 ; }
          start = derlen ;
          br_pem_decoder_setdest(&pc, &topool, 0) ;
        }
        else if (wantkey && iskey(name))
        {
          if (found) { errno = 0 ; *why = "more than one private key" ; return 0 ; }
          keylen = 0 ;
          br_pem_decoder_setdest(&pc, &tokey, 0) ;
        }
        else br_pem_decoder_setdest(&pc, 0, 0) ;
        break ;
      }
      case BR_PEM_END_OBJ :
        if (!inobj) break ;
        inobj = 0 ;
        if (overflow) { errno = 0 ; *why = "object too large" ; return 0 ; }
        if (!wantkey && derlen > start)
        {
          k->chain[k->chainlen].data = derpool + start ;
          k->chain[k->chainlen].data_len = derlen - start ;
          k->chainlen++ ;
          found = 1 ;
        }
        else if (wantkey && keylen) found = 1 ;
        break ;
      case BR_PEM_ERROR :
        errno = 0 ; *why = "invalid PEM" ; return 0 ;
      default : break ;
    }
  }
  if (inobj) { errno = 0 ; *why = "truncated PEM object" ; return 0 ; }
  if (!found) { errno = 0 ; *why = wantkey ? "no private key in the file" : "no certificate in the file" ; return 0 ; }
  return 1 ;
}

int tlsd_keys_open (int *certfd, int *keyfd, char const *certfile, char const *keyfile, char const **why, char const **file)
{
  *file = certfile ;
  *certfd = openbc_read(certfile) ;
  if (*certfd < 0) { *why = "unable to open" ; return 0 ; }
  *file = keyfile ;
  *keyfd = openbc_read(keyfile) ;
  if (*keyfd < 0)
  {
    int e = errno ;
    fd_close(*certfd) ; *certfd = -1 ;
    errno = e ;
    *why = "unable to open" ;
    return 0 ;
  }
  return 1 ;
}

int tlsd_keys_load (tlsd_keys *k, int certfd, int keyfd, char const **why)
{
  ssize_t n ;
  int err ;
  k->chainlen = 0 ;
  derlen = 0 ;
  n = readpem(certfd, why) ;
  if (n < 0) { fd_close(keyfd) ; return 0 ; }
  if (!decode(k, n, 0, why)) { fd_close(keyfd) ; return 0 ; }
  n = readpem(keyfd, why) ;
  if (n < 0) { tlsd_keys_wipe(k) ; return 0 ; }  /* a key read in part */
  if (!decode(k, n, 1, why)) { tlsd_keys_wipe(k) ; return 0 ; }
  br_skey_decoder_init(&k->key) ;
  br_skey_decoder_push(&k->key, keyder, keylen) ;
  wipebufs() ;
  err = br_skey_decoder_last_error(&k->key) ;
  if (err) { errno = 0 ; *why = "the private key cannot be decoded" ; tlsd_keys_wipe(k) ; return 0 ; }
  k->keytype = br_skey_decoder_key_type(&k->key) ;
  if (k->keytype != BR_KEYTYPE_RSA && k->keytype != BR_KEYTYPE_EC)
  {
    errno = 0 ; *why = "the private key is neither RSA nor EC" ; tlsd_keys_wipe(k) ; return 0 ;
  }
  return 1 ;
}

void tlsd_keys_wipe (tlsd_keys *k)
{
  byte_zzero((char *)&k->key, sizeof k->key) ;
  wipebufs() ;
  keylen = 0 ;
}

void tlsd_server_init (br_ssl_server_context *sc, tlsd_keys const *k, unsigned char *buf, size_t bufsize)
{
  br_ssl_server_zero(sc) ;
  tls_engine_init(&sc->eng, k->keytype == BR_KEYTYPE_EC ? tls_suites_ec : tls_suites_rsa, 3, buf, bufsize) ;
  if (k->keytype == BR_KEYTYPE_EC)
    br_ssl_server_set_single_ec(sc, k->chain, k->chainlen, br_skey_decoder_get_ec(&k->key),
      BR_KEYTYPE_SIGN, BR_KEYTYPE_EC, br_ec_get_default(), br_ecdsa_sign_asn1_get_default()) ;
  else
    br_ssl_server_set_single_rsa(sc, k->chain, k->chainlen, br_skey_decoder_get_rsa(&k->key),
      BR_KEYTYPE_SIGN, br_rsa_private_get_default(), br_rsa_pkcs1_sign_get_default()) ;
}
