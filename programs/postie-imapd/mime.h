/* mime.h: postie-imapd's MIME reading (mime.c). */
#ifndef MIME_H
#define MIME_H

#include <stddef.h>
#include <skalibs/stralloc.h>

#define MIME_DEPTH 20    /* levels of nesting followed */
#define MIME_PARTS 500   /* parts of one multipart */

typedef struct mimetype_s mimetype ;
struct mimetype_s
{
  stralloc type, subtype ;   /* lower case */
  stralloc params ;          /* name\0value\0 ... (names lower case) */
  size_t nparams ;
} ;
#define MIMETYPE_ZERO { STRALLOC_ZERO, STRALLOC_ZERO, STRALLOC_ZERO, 0 }

extern void mime_ctype (char const *s, size_t n, mimetype *ct) ;
extern char const *mime_param (mimetype const *ct, char const *name) ;
extern void mime_free (mimetype *ct) ;
extern size_t mime_parts (char const *m, size_t n, char const *b, size_t *starts, size_t *lens, size_t max) ;
extern int mime_section (char const *m, size_t n, unsigned int const *sec, unsigned int nsec, size_t *start, size_t *len) ;

#endif
