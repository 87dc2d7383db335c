/* usersdb.h: the users database (users/users.cdb in the instance), built by
   postie-users from users/users (format: doc/users.md). One database serves
   local delivery, the SMTP RCPT check and authentication. */
#ifndef USERSDB_H
#define USERSDB_H

#include <sys/types.h>
#include <skalibs/stralloc.h>

#define USERSDB_FILE "users/users.cdb"
#define USERSDB_NAME_MAX 255
/* The largest record postie-users writes is ~9 KB (name 255, hash 512,
   home and maildir 4096 each): a buffer this size holds any, and a
   larger record is taken as a malformed database. */
#define USERSDB_RECORD_MAX 16384

/* A cdb record: key = the user name, lowercased; data = the fields
   "hash\0uid\0gid\0home\0maildir\0" (uid and gid in decimal). */
typedef struct usersdb_entry_s usersdb_entry ;
struct usersdb_entry_s
{
  char const *name ;     /* lowercased, NUL-terminated */
  char const *hash ;     /* crypt(3) hash; "" or "!..." or "*..." = no login */
  uid_t uid ;
  gid_t gid ;
  char const *home ;     /* absolute */
  char const *maildir ;  /* absolute, or relative to home; ends with '/' */
} ;

/* Look name (namelen bytes, any case) up in USERSDB_FILE relative to the
   current directory (the instance). The strings of *e point into sa.
   Returns 1 found, 0 not found, -1 error (errno): the database is
   missing (ENOENT), unreadable or malformed. Every caller takes -1 as a
   temporary failure naming USERSDB_FILE. */
extern int usersdb_find (char const *name, size_t namelen, usersdb_entry *e, stralloc *sa) ;

/* The same into buf (max bytes, USERSDB_RECORD_MAX holds any record),
   allocating nothing: a record that does not fit is -1, EINVAL. */
extern int usersdb_findb (char const *name, size_t namelen, usersdb_entry *e, char *buf, size_t max) ;

/* The lookup both databases share (users.cdb, passwords.cdb): look name
   (namelen bytes, any case) up in the cdb file, whose keys are user names
   lowercased. On 1 (found), sa holds the lowercased name, a NUL, then the
   record's data, *datalen bytes. Returns 0 not found (or a name no key
   can be: empty or longer than USERSDB_NAME_MAX), -1 error (errno;
   ENOENT: no such file; EINVAL: not a cdb). The file stays mapped until
   the next lookup finds it replaced or changed (one stat() a lookup:
   usersdb.c), or until usersdb_close. */
extern int usersdb_lookup (char const *file, char const *name, size_t namelen, stralloc *sa, size_t *datalen) ;
extern int usersdb_lookupb (char const *file, char const *name, size_t namelen, char *buf, size_t max, size_t *datalen) ;

/* Unmap the databases usersdb_lookup keeps. */
extern void usersdb_close (void) ;

/* Parse a record's data (len bytes) into *e (strings point into data,
   except name). Returns 1 if well formed, 0 if not. */
extern int usersdb_parse (char const *data, size_t len, usersdb_entry *e) ;

#endif
