/* usersline.h: one line of users/users, the text source of the users
   database (format: doc/users.md):

     name:hash:uid:gid:home[:maildir]

   Blank lines and lines whose first non-blank character is '#' are
   ignored. postie-users compiles the file into users/users.cdb
   (usersdb.h). */
#ifndef USERSLINE_H
#define USERSLINE_H

#include <stddef.h>
#include <stdint.h>

#define USERSLINE_MAILDIR_DEFAULT "Maildir/"
#define USERSLINE_PATH_MAX 4096
#define USERSLINE_HASH_MAX 512

/* The fields point into the line; they are not NUL-terminated. */
typedef struct usersline_s usersline ;
struct usersline_s
{
  char const *name ; size_t namelen ;
  char const *hash ; size_t hashlen ;
  uint32_t uid ;
  uint32_t gid ;
  char const *home ; size_t homelen ;
  char const *maildir ; size_t maildirlen ;  /* the default when absent */
} ;

/* Parse one line of len bytes (without its '\n').
   Returns 1 for a user (*u filled), 0 for a blank or comment line,
   -1 if malformed: *why then says what is wrong, in a few words. */
extern int usersline_parse (char const *s, size_t len, usersline *u, char const **why) ;

#endif
