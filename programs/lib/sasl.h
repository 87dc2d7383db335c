/* sasl.h: the SASL PLAIN message (RFC 4616), once its base64 is decoded
   (base64.h), for SMTP AUTH (postie-smtpd), POP3 AUTH (postie-popup) and
   IMAP AUTHENTICATE (postie-imapup). */
#ifndef SASL_H
#define SASL_H

#include <stddef.h>

/* s[0, n) is "authzid \0 authcid \0 passwd". Returns 1 with the authcid
   in *user, *ulen and the password in *pass, *plen (pointing into s; the
   user may be empty: the caller decides); 0 when s is not exactly three
   fields; -1 when an authzid is given and is not the authcid (acting as
   someone else is not offered). */
extern int sasl_plain_split (char const *s, size_t n, char const **user, size_t *ulen, char const **pass, size_t *plen) ;

/* The response of AUTH PLAIN / AUTHENTICATE PLAIN as the client sent it,
   b64 (NUL-terminated base64; "=" is the empty response, RFC 4954,
   RFC 5034, RFC 4959), decoded into dec (decmax bytes) and split as
   above. Returns 1 (user and pass point into dec), 0 not exactly three
   fields, -1 an authzid refused, -2 not strict base64 or too long for dec
   (base64.h). On any return but 1 what dec held is wiped. "*" (the client
   cancels) is for the caller to see first. */
extern int sasl_plain_decode (char const *b64, char *dec, size_t decmax, char const **user, size_t *ulen, char const **pass, size_t *plen) ;

#endif
