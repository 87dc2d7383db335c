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
#include "pem.h"
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

/* The CA file is read in pieces into text: each block whose whole text
   is there is decoded (lib/pem.c) into der, and the text not used yet
   moved to the start before the next read. A read is at most 16 KiB: a
   bundle of small certificates keeps to the first few pages. */
static char text[TLSC_PEMMAX] ;
static unsigned char der[TLSC_PEMMAX / 4 * 3] ;

static int iscert (char const *label)
{
  return !strcmp(label, "CERTIFICATE") || !strcmp(label, "X509 CERTIFICATE") || !strcmp(label, "TRUSTED CERTIFICATE") ;
}

/* The blocks of text[*pos..lim), decoded. Returns 1 when they are done
   (*pos at the text not used: lim, or a block's BEGIN line when the
   block goes on past lim), 0 on an error (*why). */
static int blocks (size_t lim, size_t *pos, int eof, char const **why)
{
  for (;;)
  {
    pem_block b ;
    size_t len ;
    int incert, r = pem_begin(text, lim, pos, &b, why) ;
    if (r < 0) { errno = 0 ; return 0 ; }
    if (!r) return 1 ;
    incert = iscert(b.label) ;
    r = pem_body(text, lim, pos, &b, incert ? der : 0, sizeof der, &len, why) ;
    if (r < 0) { errno = 0 ; return 0 ; }
    if (!r)
    {
      if (eof) { errno = 0 ; *why = "truncated PEM object" ; return 0 ; }
      *pos = b.begin ;  /* the text before it is done with */
      return 1 ;
    }
    if (!incert) continue ;
    dn.len = 0 ;
    br_x509_decoder_init(&dc, &dnappend, 0) ;
    br_x509_decoder_push(&dc, der, len) ;
    if (!addanchor(why)) return 0 ;
  }
}

int tlsc_anchors_load (char const *file, br_x509_trust_anchor const **tas, size_t *n, char const **why)
{
  size_t len = 0, total = 0 ;
  int eof = 0 ;
  int fd = openb_read(file) ;
  if (fd < 0) { *why = "unable to open" ; return 0 ; }
  nanchors = 0 ;
  for (;;)
  {
    size_t lim, pos = 0 ;
    size_t room = sizeof text - len ;
    ssize_t r = fd_read(fd, text + len, room < 16384 ? room : 16384) ;
    if (r < 0) { *why = "unable to read" ; fd_close(fd) ; return 0 ; }
    if (!r) eof = 1 ;
    total += r ;
    if (total > TLSC_CAFILEMAX) { fd_close(fd) ; errno = 0 ; *why = "file too large" ; return 0 ; }
    len += r ;
    /* whole lines only, until the end of the file */
    lim = len ;
    if (!eof) while (lim && text[lim - 1] != '\n') lim-- ;
    if (!blocks(lim, &pos, eof, why)) { fd_close(fd) ; return 0 ; }
    if (eof) break ;
    if (!pos && len == sizeof text) { fd_close(fd) ; errno = 0 ; *why = "object too large" ; return 0 ; }
    memmove(text, text + pos, len - pos) ;
    len -= pos ;
  }
  fd_close(fd) ;
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
