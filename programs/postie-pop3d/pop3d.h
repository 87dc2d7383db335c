/* pop3d.h: what postie-pop3d's files share. The protocol is in
   postie-pop3d.c; message sizes as sent, and their cache, in
   pop3d_sizes.c. */
#ifndef POP3D_H
#define POP3D_H

#include <stdint.h>
#include <sys/stat.h>

/* The file in the Maildir that keeps the sizes of messages whose names
   have no ",W=" field (doc/postie-pop3d.md). */
#define SIZES_FILE "postie-pop3d.sizes"

/* Reads SIZES_FILE from the current directory (the Maildir), if any. */
extern void sizes_load (void) ;
/* The size as sent (RFC 1939 11) of the message at path (name: its file
   name, st: its lstat): from the ",W=" field of its name, else the cache,
   else counted by reading it once (then cached). */
extern uint64_t sizes_wire (char const *path, char const *name, struct stat const *st) ;
/* Writes SIZES_FILE again when it changed: the entries of this session's
   messages only, so deleted ones go. Failures are only logged. */
extern void sizes_save (void) ;

#endif
