/* userspw.h: the password hashes of the users database, kept apart from
   it (users/passwords.cdb, built by postie-users next to users/users.cdb;
   format: doc/users.md). users.cdb is read by the programs that resolve
   recipients, postie-smtpd among them; passwords.cdb only by the
   checkpassword step, so that no process that parses network input can
   read a hash. */
#ifndef USERSPW_H
#define USERSPW_H

#include <stddef.h>

#define USERSPW_FILE "users/passwords.cdb"

/* A cdb record: key = the user name, lowercased (as in users.cdb);
   data = the crypt(3) hash, "hash\0" ("" or "!..." or "*...": no login). */

/* Look name (namelen bytes, any case) up in USERSPW_FILE relative to the
   current directory (the instance); the hash goes into buf (max bytes),
   NUL-terminated, and nothing is allocated. Returns 1 found, 0 not found,
   -1 error (errno; ENOENT: no such file; EINVAL: malformed, or a record
   larger than max). */
extern int userspw_find (char const *name, size_t namelen, char *buf, size_t max) ;

#endif
