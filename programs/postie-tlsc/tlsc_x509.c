/* tlsc_x509.c: what postie-tlsc checks in the server's certificate.
   With a CA file: BearSSL's minimal X.509 engine, anchored on the file's
   certificates (a CA's, or the server's own self-signed one, which
   BearSSL then matches by its key), the chain and the host name checked.
   Without one: nothing is checked, the key is just taken from the first
   certificate (encryption only). */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/stralloc.h>
#include "tlsc.h"

/* ---- trust anchors from a PEM file ---- */

static br_x509_trust_anchor anchors[TLSC_ANCHORMAX] ;
static size_t nanchors ;
static br_x509_decoder_context dc ;
static stralloc dn = STRALLOC_ZERO ;
static int nomem ;

static void dnappend (void *ctx, void const *s, size_t n)
{
  (void)ctx ;
  if (!stralloc_catb(&dn, s, n)) nomem = 1 ;
}

static void todecoder (void *ctx, void const *s, size_t n)
{
  br_x509_decoder_push((br_x509_decoder_context *)ctx, s, n) ;
}

static unsigned char *dup (void const *s, size_t n)
{
  unsigned char *p = malloc(n ? n : 1) ;
  if (!p) { nomem = 1 ; return 0 ; }
  memcpy(p, s, n) ;
  return p ;
}

/* The certificate just decoded, as an anchor. An undecodable one (a
   key type BearSSL does not know) is skipped, as other clients do. */
static int addanchor (char const **why)
{
  br_x509_pkey const *pk ;
  br_x509_trust_anchor *ta ;
  if (br_x509_decoder_last_error(&dc)) return 1 ;
  pk = br_x509_decoder_get_pkey(&dc) ;
  if (!pk) return 1 ;
  if (nanchors >= TLSC_ANCHORMAX) { errno = 0 ; *why = "too many certificates" ; return 0 ; }
  ta = anchors + nanchors ;
  ta->dn.data = dup(dn.s, dn.len) ;
  ta->dn.len = dn.len ;
  ta->flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0 ;
  ta->pkey.key_type = pk->key_type ;
  if (pk->key_type == BR_KEYTYPE_RSA)
  {
    ta->pkey.key.rsa.n = dup(pk->key.rsa.n, pk->key.rsa.nlen) ;
    ta->pkey.key.rsa.nlen = pk->key.rsa.nlen ;
    ta->pkey.key.rsa.e = dup(pk->key.rsa.e, pk->key.rsa.elen) ;
    ta->pkey.key.rsa.elen = pk->key.rsa.elen ;
  }
  else if (pk->key_type == BR_KEYTYPE_EC)
  {
    ta->pkey.key.ec.curve = pk->key.ec.curve ;
    ta->pkey.key.ec.q = dup(pk->key.ec.q, pk->key.ec.qlen) ;
    ta->pkey.key.ec.qlen = pk->key.ec.qlen ;
  }
  else return 1 ;
  if (nomem) { *why = "allocate" ; errno = ENOMEM ; return 0 ; }
  nanchors++ ;
  return 1 ;
}

int tlsc_anchors_load (char const *file, br_x509_trust_anchor const **tas, size_t *n, char const **why)
{
  br_pem_decoder_context pc ;
  char buf[8192] ;
  size_t total = 0 ;
  int fd = openb_read(file), incert = 0, inobj = 0, last = 0 ;
  if (fd < 0) { *why = "unable to open" ; return 0 ; }
  br_pem_decoder_init(&pc) ;
  nanchors = 0 ;
  for (;;)
  {
    ssize_t r = fd_read(fd, buf, sizeof buf - 1) ;
    size_t len, pos = 0 ;
    if (r < 0) { *why = "unable to read" ; fd_close(fd) ; return 0 ; }
    if (!r)
    {
      /* a last line without its newline */
      if (last) break ;
      buf[0] = '\n' ; r = 1 ; last = 1 ;
    }
    total += r ;
    if (total > TLSC_CAFILEMAX) { fd_close(fd) ; errno = 0 ; *why = "file too large" ; return 0 ; }
    len = r ;
    while (pos < len)
    {
      pos += br_pem_decoder_push(&pc, buf + pos, len - pos) ;
      switch (br_pem_decoder_event(&pc))
      {
        case BR_PEM_BEGIN_OBJ :
        {
          char const *name = br_pem_decoder_name(&pc) ;
          inobj = 1 ;
          incert = !strcmp(name, "CERTIFICATE") || !strcmp(name, "X509 CERTIFICATE") || !strcmp(name, "TRUSTED CERTIFICATE") ;
          if (incert)
          {
            dn.len = 0 ;
            br_x509_decoder_init(&dc, &dnappend, 0) ;
            br_pem_decoder_setdest(&pc, &todecoder, &dc) ;
          }
          else br_pem_decoder_setdest(&pc, 0, 0) ;
          break ;
        }
        case BR_PEM_END_OBJ :
          if (incert && !addanchor(why)) { fd_close(fd) ; return 0 ; }
          incert = inobj = 0 ;
          break ;
        case BR_PEM_ERROR :
          fd_close(fd) ; errno = 0 ; *why = "invalid PEM" ; return 0 ;
        default : break ;
      }
    }
    if (last) break ;
  }
  fd_close(fd) ;
  if (inobj) { errno = 0 ; *why = "truncated PEM object" ; return 0 ; }
  if (!nanchors) { errno = 0 ; *why = "no certificate in the file" ; return 0 ; }
  *tas = anchors ;
  *n = nanchors ;
  return 1 ;
}

/* ---- no check: the first certificate's key ---- */

static void nc_start_chain (br_x509_class const **ctx, char const *server_name)
{
  tlsc_nocheck *x = (tlsc_nocheck *)ctx ;
  (void)server_name ;
  x->certs = 0 ;
}

static void nc_start_cert (br_x509_class const **ctx, uint32_t length)
{
  tlsc_nocheck *x = (tlsc_nocheck *)ctx ;
  (void)length ;
  if (!x->certs) br_x509_decoder_init(&x->dc, 0, 0) ;
}

static void nc_append (br_x509_class const **ctx, unsigned char const *buf, size_t len)
{
  tlsc_nocheck *x = (tlsc_nocheck *)ctx ;
  if (!x->certs) br_x509_decoder_push(&x->dc, buf, len) ;
}

static void nc_end_cert (br_x509_class const **ctx)
{
  tlsc_nocheck *x = (tlsc_nocheck *)ctx ;
  x->certs++ ;
}

static unsigned int nc_end_chain (br_x509_class const **ctx)
{
  tlsc_nocheck *x = (tlsc_nocheck *)ctx ;
  int err ;
  if (!x->certs) return BR_ERR_X509_EMPTY_CHAIN ;
  err = br_x509_decoder_last_error(&x->dc) ;
  if (err) return err ;
  return br_x509_decoder_get_pkey(&x->dc) ? 0 : BR_ERR_X509_UNSUPPORTED ;
}

static br_x509_pkey const *nc_get_pkey (br_x509_class const *const *ctx, unsigned int *usages)
{
  tlsc_nocheck *x = (tlsc_nocheck *)ctx ;
  if (usages) *usages = BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN ;
  return br_x509_decoder_get_pkey(&x->dc) ;
}

static br_x509_class const nocheck_vtable =
{
  sizeof(tlsc_nocheck),
  &nc_start_chain,
  &nc_start_cert,
  &nc_append,
  &nc_end_cert,
  &nc_end_chain,
  &nc_get_pkey,
} ;

void tlsc_nocheck_init (tlsc_nocheck *x)
{
  x->vtable = &nocheck_vtable ;
  x->certs = 0 ;
}
