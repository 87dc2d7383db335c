/* rfc5322.h: reading a message header (RFC 5322): where each header field
   begins and ends, and what addresses an address field holds. The obsolete
   forms of RFC 5322 section 4 are read too (blanks before the colon of a
   field, comments and blanks around the dots of an address, routes, empty
   list members), since old software still writes them. */
#ifndef RFC5322_H
#define RFC5322_H

#include <stddef.h>
#include <stdint.h>
#include <skalibs/stralloc.h>

/* What went wrong, for an error message: a static text, and the offset in
   the input where it was found. */
typedef struct rfc5322_error_s rfc5322_error ;
struct rfc5322_error_s
{
  char const *what ;
  size_t pos ;
} ;
#define RFC5322_ERROR_ZERO { .what = 0, .pos = 0 }

/* One header field, as found by rfc5322_field_next: offsets into the input.
   The field is s[start, end): its name s[start, start+namelen), its body
   s[body, end) (everything after the colon, folded line ends included, the
   field's final line end excluded). next is where the following line
   starts. */
typedef struct rfc5322_field_s rfc5322_field ;
struct rfc5322_field_s
{
  size_t start ;
  size_t namelen ;
  size_t body ;
  size_t end ;
  size_t next ;
} ;

/* If the line s[0, len) begins a header field (a name of printable ASCII
   characters other than ':', then maybe blanks, then ':'), returns the
   length of the name; else 0. */
extern size_t rfc5322_field_start (char const *s, size_t len) ;

/* 1 if the field name s[0, len) is name, ignoring case. */
extern int rfc5322_field_is (char const *s, size_t len, char const *name) ;

/* Reads the header field that begins at *pos in s[0, len), lines ending
   in LF or CRLF, the last one maybe with no line end. A field is a line
   that rfc5322_field_start accepts and the lines after it that begin with
   a space or a tab.
   Returns 1 and fills *f (*pos = f->next) when a field was read; 0 when
   the line at *pos is not a field (an empty line, the separator, or
   anything else) or *pos == len: the header ends there; -1 when the field
   is malformed: a NUL byte, a CR that does not end a line, or a line
   longer than linemax bytes (line end excluded); *e says which. */
extern int rfc5322_field_next (char const *s, size_t len, size_t *pos, size_t linemax, rfc5322_field *f, rfc5322_error *e) ;

/* Parses an address list (the body of From, To, Cc, Bcc, Reply-To,
   Sender and their Resent- forms): mailboxes "Name <local@domain>" or
   "local@domain", groups "name: mailbox, ... ;", quoted strings, comments
   (nested, at any depth), folding (CR and LF are taken as blanks: the
   caller has already split the fields). Empty members are skipped, routes
   dropped. For each mailbox, appends four NUL-terminated strings to out:
     the group's name ("" outside a group),
     the display name (quoted strings unquoted, blanks and comments
       between words made one space; "" when there is none),
     the local part, unquoted (quoted-pairs resolved, comments and blanks
       around its dots removed),
     the domain (comments and blanks removed; a domain literal keeps its
       brackets and its quoted-pairs, backslash included, so that it
       parses again to itself; "" for a bare local part, see
       RFC5322_BARE).
   *n is incremented for each mailbox.
   Control characters (other than tab, CR and LF), NUL included, are
   refused anywhere, even in quoted strings; bytes 128-255 are taken as
   UTF-8 (RFC 6532) and allowed where letters are.
   Returns 1 when the whole input is a valid list (an empty one
   included), 0 on a syntax error (*e says what and where; out may hold
   the mailboxes before it), -1 when out of memory. */
#define RFC5322_BARE 0x1  /* accept a bare local part ("root"), as sendmail does */
extern int rfc5322_addrlist (char const *s, size_t len, unsigned int flags, stralloc *out, size_t *n, rfc5322_error *e) ;

/* Appends local@domain to sa for a header: the local part as is when it
   is a dot-atom, else as a quoted string. No NUL is added. Returns 1, or 0
   when out of memory. */
extern int rfc5322_cat_addr (stralloc *sa, char const *local, char const *domain) ;

/* Appends a display name to sa: as is when it is made of atoms separated
   by single spaces, else as a quoted string. No NUL is added. Returns 1,
   or 0 when out of memory. */
extern int rfc5322_cat_phrase (stralloc *sa, char const *name) ;

/* 1 if c may appear in an atom (atext, or a byte of UTF-8). */
extern int rfc5322_isatext (unsigned char c) ;

/* The date t (seconds since the epoch) as RFC 5322 section 3.3 writes
   it, in UTC: "Thu, 4 Dec 2026 21:22:18 +0000", NUL-terminated, into s
   (RFC5322_DATE_FMT bytes). Returns its length, or 0 if t is not a date
   gmtime can represent (s then holds the epoch's date). */
#define RFC5322_DATE_FMT 40
extern size_t rfc5322_date_fmt (char *s, int64_t t) ;

#endif
