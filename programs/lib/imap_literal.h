/* imap_literal.h: the literal an IMAP command line announces at its end
   (RFC 3501 section 4.3, "{n}"; RFC 7888's LITERAL+, "{n+}"), as
   postie-imapup and postie-imapd read it. */
#ifndef IMAP_LITERAL_H
#define IMAP_LITERAL_H

#include <stddef.h>

/* line[0..len) without its line end. Returns 1 with the literal's size
   in *n and *sync 0 for "{n+}" (1 for "{n}"); 0 when the line announces
   no literal; -1 for a size of more than 10 digits or not a number. */
extern int imap_literal_at_end (char const *line, size_t len, size_t *n, int *sync) ;

#endif
