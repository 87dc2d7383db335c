/* sendmail.h: the modes of sendmail other than injection. */
#ifndef SENDMAIL_H
#define SENDMAIL_H

#include <skalibs/gccattributes.h>

/* -q: every deferred message is due now. Exits. */
extern void queuerun (void) gccattr_noreturn ;

/* -bi, newaliases: check control/aliases, have postie-send read it
   again. Exits. */
extern void newaliases (void) gccattr_noreturn ;

#endif
