/* saslplain.h: the decoded SASL PLAIN message (RFC 4616),
   "authzid\0authcid\0password", for postie-popup and postie-imapup. */
#ifndef SASLPLAIN_H
#define SASLPLAIN_H

#include <stddef.h>

/* Splits the n decoded bytes in dec. Returns 1 (*user, *ulen, *pw, *pwlen
   set; the user name is 1 to usermax bytes), 0 when malformed (not three
   parts, or an empty or overlong user name), -1 when the authzid is
   neither empty nor the authcid (no proxy login). */
extern int saslplain_split (char const *dec, size_t n, size_t usermax,
                            char const **user, size_t *ulen, char const **pw, size_t *pwlen) ;

#endif
