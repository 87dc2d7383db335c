/* sasl.h: the SASL PLAIN message (RFC 4616), once its base64 is decoded
   (base64.h), for SMTP AUTH (postie-smtpd) and POP3 AUTH (postie-popup). */
#ifndef SASL_H
#define SASL_H

#include <stddef.h>

/* s[0, n) is "authzid \0 authcid \0 passwd". Returns 1 with the authcid
   in *user, *ulen and the password in *pass, *plen (pointing into s; the
   user may be empty: the caller decides); 0 when s is not exactly three
   fields; -1 when an authzid is given and is not the authcid (acting as
   someone else is not offered). */
extern int sasl_plain_split (char const *s, size_t n, char const **user, size_t *ulen, char const **pass, size_t *plen) ;

#endif
