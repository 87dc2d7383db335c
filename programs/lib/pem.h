/* pem.h: PEM blocks (RFC 7468) in a buffer, for postie-tlsd (the
   instance's certificate chain and key) and postie-tlsc (the CA file's
   trust anchors). The text is hostile: every read stays inside the n
   bytes given, nothing is allocated, the output is bounded by the room
   the caller gives.

   A block is a "-----BEGIN LABEL-----" line, base64 text, and a
   "-----END LABEL-----" line with the same label. Lines end in LF or
   CRLF; the last line of the buffer may lack its end. Both lines start
   at the beginning of their line, in capitals; spaces, tabs and CRs may
   follow them. Inside the base64, spaces, tabs, CR, VT and FF are
   skipped, and groups of four may run over a line's end (RFC 7468
   section 3, the lax parser); the padding must be canonical: '=' only
   at the end, at most two, and the bits it leaves over zero. Every line
   outside a block that does not start with "-----BEGIN " is text and
   skipped. */
#ifndef PEM_H
#define PEM_H

#include <stddef.h>

/* Longest label kept; a longer one is refused as an invalid BEGIN line. */
#define PEM_LABELMAX 64

typedef struct pem_block_s pem_block ;
struct pem_block_s
{
  char label[PEM_LABELMAX + 1] ;  /* copied, 0-terminated */
  size_t begin ;  /* offset of the BEGIN line in the buffer */
  size_t body ;   /* offset of the line after it */
} ;

/* Finds the next BEGIN line in s[*pos..n), *pos being at the start of a
   line. Returns 1 with *b filled and *pos at the line after it; 0 when
   there is none (*pos = n); -1 when a line that starts with
   "-----BEGIN " is not a valid BEGIN line (*why says why, *pos at it). */
extern int pem_begin (char const *s, size_t n, size_t *pos, pem_block *b, char const **why) ;

/* Decodes the base64 of block b, from *pos (b->body for a block just
   found) to its END line, into out, at most omax bytes. out may be 0:
   everything is checked and counted, nothing written. out may also lie
   inside s, at or before s + b->body (decoding in place: 3 bytes are
   written for each 4 characters read, behind the reading). Returns 1
   with *len the decoded length and *pos past the END line; 0 when s
   ends before an END line (nothing else wrong so far: with more text,
   the block may go on); -1 with *why on an error: a character that is
   not base64, misplaced or uncanonical padding, a group of fewer than
   four characters at the end, an END line that does not match the
   BEGIN line or a line of dashes that is not it, more than omax bytes. */
extern int pem_body (char const *s, size_t n, size_t *pos, pem_block const *b, unsigned char *out, size_t omax, size_t *len, char const **why) ;

#endif
