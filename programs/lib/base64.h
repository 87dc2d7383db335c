/* base64.h: strict base64 decoding, for SASL responses (SMTP AUTH, POP3
   AUTH): RFC 4648 section 4 as RFC 4954 and RFC 5034 require; and
   encoding, for postie-remote's AUTH towards a smarthost; one
   character's value, for lib/pem.c (PEM files). */
#ifndef BASE64_H
#define BASE64_H

#include <sys/types.h>

/* Decodes s (n bytes) into o (at most omax bytes). n must be a multiple
   of 4; '=' only as the last one or two characters; no spaces or line
   breaks; the bits a padded group leaves over must be zero. Returns the
   decoded length, or -1 when s is not strict base64 or does not fit. */
extern ssize_t base64_decode (char const *s, size_t n, char *o, size_t omax) ;

/* The value (0 to 63) of one base64 character, or -1 for any other
   byte ('=' included). */
extern int base64_value (unsigned char c) ;

/* Encodes s (n bytes) into o, which has room for 4 * ((n + 2) / 3)
   bytes (postie-remote's AUTH). Returns the encoded length. */
extern size_t base64_encode (char const *s, size_t n, char *o) ;

#endif
