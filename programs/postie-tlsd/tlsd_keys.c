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
#include "pem.h"
#include "tlsd.h"

/* One area for the PEM text and the DER decoded from it: the chain's
   DER at its start (derlen bytes), then the key's PEM text, decoded in
   place into the key's DER (keyoff, keylen). Decoding in place is safe
   (lib/pem.c): base64 gives 3 bytes for 4, and the object's BEGIN line
   comes first, so the DER written never reaches the text not read yet.
   A certificate and a key take about 1 KiB in all: one page, where three
   64 KiB buffers (text, chain, key) took a page each, and each page
   first written is a page fault (~12 us on a virtual machine) per
   handshake. Room for the largest files: a chain's DER is under 3/4 of
   its 64 KiB, the key's text 64 KiB. */
static unsigned char area[2 * TLSD_FILEMAX] ;
static size_t derlen ;
static size_t keyoff, keylen ;
/* How much of the area was ever written since the last wipe: only that
   is zeroed (every connection pays for the wipe; a whole-area wipe would
   also fault every page in). */
static size_t dirty ;

/* The key's text and DER, from keyoff on (the chain before it is public,
   and the handshake still needs it). */
static void wipekey (void)
{
  if (dirty > keyoff) byte_zzero((char *)area + keyoff, dirty - keyoff) ;
  dirty = keyoff ;
}

/* The file on fd (closed here), PEM text, at most TLSD_FILEMAX bytes,
   into the area at off. */
static ssize_t readpem (int fd, size_t off, char const **why)
{
  size_t r = 0 ;
  while (r <= TLSD_FILEMAX)
  {
    ssize_t w = fd_read(fd, (char *)area + off + r, TLSD_FILEMAX + 1 - r) ;
    if (w < 0) { *why = "unable to read" ; fd_close(fd) ; return -1 ; }
    if (!w) break ;
    r += w ;
    if (off + r > dirty) dirty = off + r ;
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

/* Decodes the PEM objects of the area's n bytes at off (lib/pem.c), in
   place: certificates into the chain (wantkey 0), the one private key
   otherwise. Every other object (the key in a combined file, EC
   PARAMETERS...) is checked and skipped: only an object that began as a
   certificate becomes an entry, and at most TLSD_CHAINMAX of them. */
static int decode (tlsd_keys *k, size_t off, size_t n, int wantkey, char const **why)
{
  char const *text = (char const *)area + off ;
  size_t pos = 0 ;
  int found = 0 ;
  for (;;)
  {
    pem_block b ;
    size_t len ;
    unsigned char *out = 0 ;
    int r = pem_begin(text, n, &pos, &b, why) ;
    if (r < 0) { errno = 0 ; return 0 ; }
    if (!r) break ;
    if (!wantkey && iscert(b.label)) out = area + derlen ;
    else if (wantkey && iskey(b.label))
    {
      if (found) { errno = 0 ; *why = "more than one private key" ; return 0 ; }
      out = area + keyoff ;
    }
    /* out is at or before the block's text: what pem_body needs to
       decode in place. Its room: up to the area's end. */
    r = pem_body(text, n, &pos, &b, out, out ? sizeof area - (size_t)(out - area) : (size_t)-1, &len, why) ;
    if (r < 0) { errno = 0 ; return 0 ; }
    if (!r) { errno = 0 ; *why = "truncated PEM object" ; return 0 ; }
    if (!out || !len) continue ;  /* skipped, or an empty object */
    if (wantkey) { keylen = len ; found = 1 ; continue ; }
    if (k->chainlen >= TLSD_CHAINMAX) { errno = 0 ; *why = "too many certificates in the chain" ; return 0 ; }
    k->chain[k->chainlen].data = area + derlen ;
    k->chain[k->chainlen].data_len = len ;
    k->chainlen++ ;
    derlen += len ;
    found = 1 ;
  }
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
  /* A failure here leaves the text read so far, which may hold a key
     (a combined file): wiped; chainlen 0 says the chain failed. */
  n = readpem(certfd, 0, why) ;
  if (n < 0) { fd_close(keyfd) ; tlsd_keys_wipe(k) ; return 0 ; }
  if (!decode(k, 0, n, 0, why)) { fd_close(keyfd) ; tlsd_keys_wipe(k) ; k->chainlen = 0 ; return 0 ; }
  keyoff = derlen ;
  n = readpem(keyfd, keyoff, why) ;
  if (n < 0) { tlsd_keys_wipe(k) ; return 0 ; }  /* a key read in part */
  if (!decode(k, keyoff, n, 1, why)) { tlsd_keys_wipe(k) ; return 0 ; }
  br_skey_decoder_init(&k->key) ;
  br_skey_decoder_push(&k->key, area + keyoff, keylen) ;
  wipekey() ;
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
  keyoff = 0 ;  /* and the chain with it: the handshake is over */
  wipekey() ;
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
