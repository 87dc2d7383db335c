/* imapd.h: what the files of postie-imapd share. */
#ifndef IMAPD_H
#define IMAPD_H

#include <stddef.h>
#include <stdint.h>
#include <skalibs/stralloc.h>

/* Maildir flags, in the order of their letters in a file name */
#define FL_DRAFT 1     /* D */
#define FL_FLAGGED 2   /* F */
#define FL_ANSWERED 4  /* R */
#define FL_SEEN 8      /* S */
#define FL_DELETED 16  /* T */

typedef struct msg_s msg ;
struct msg_s
{
  uint32_t uid ;
  uint32_t name ;      /* offset in the names stralloc: "cur/NAME" */
  uint64_t fsize ;     /* file size */
  int64_t sent ;       /* size with CRLF line ends; -1: not known yet */
  int64_t mtime ;      /* INTERNALDATE */
  unsigned char flags ;
  unsigned char gone ; /* its file vanished: expunged by someone else */
  uint32_t kw ;        /* keywords: bit k is the letter 'a' + k */
} ;

/* a folder's keywords: name[k] for the letter 'a' + k, "" unused */
#define KW_N 26
#define KW_LEN 64
typedef struct kwtab_s kwtab ;
struct kwtab_s { char name[KW_N][KW_LEN + 1] ; } ;

typedef struct box_s box ;
struct box_s
{
  char dir[512] ;      /* "." (INBOX) or "./.Name" */
  int readonly ;
  uint32_t uidvalidity ;
  uint32_t uidnext ;
  stralloc names ;
  msg *m ;
  size_t n ;
  size_t cap ;
  kwtab kw ;
} ;

/* main.c: output */
extern void put (char const *s, size_t n) ;
extern void putraw (char const *s) ;  /* as it is, NUL-terminated (putstring quotes) */
extern void putnum (uint64_t u) ;
extern void flush (void) ;
extern void putstring (char const *s, size_t n) ;  /* quoted or literal */
extern void die_temp (char const *what) ;
extern unsigned long maxmessage ;

/* mbox.c */
extern int box_name_to_dir (char const *name, size_t len, char *dir, size_t max) ;
extern int box_sync (box *b, int first) ;  /* 1 ok, 0 error (errno) */
extern void box_free (box *b) ;
extern void flags_letters (unsigned char fl, uint32_t kw, char *s) ;  /* at most 32 bytes with NUL */
extern int box_lock (char const *dir) ;  /* fd, -1 */
extern void box_unlock (int fd) ;
extern unsigned char flags_of_name (char const *name) ;
extern int msg_setflags (box *b, size_t i, unsigned char fl, uint32_t kw) ;
extern int msg_load (box *b, size_t i, stralloc *sa) ;  /* CRLF form */
extern int box_add_file (char const *dir, char const *src, int link_it, unsigned char fl, uint32_t kw, char *uniq, size_t umax) ;
extern uint32_t box_uid_of (box *b, char const *uniq) ;
extern int box_create (char const *dir) ;
extern int msg_refind (box *b, size_t i) ;

/* keywords.c */
extern int kw_load (char const *dir, kwtab *t) ;
extern int kw_find (kwtab const *t, char const *s, size_t n) ;
extern int kw_add (char const *dir, kwtab *t, char const *s, size_t n) ;
extern size_t kw_letters (uint32_t kw, char *s) ;
extern uint32_t kw_of_name (char const *name) ;

/* msgfile.c: a message read in pieces */
extern int msg_open (box *b, size_t i) ;  /* fd, -1 (errno) */
extern int64_t msg_size (box *b, size_t i, int fd) ;  /* as sent; -1 error */
extern int msg_header (int fd, stralloc *sa, size_t max) ;  /* CRLF form */
extern int msg_send (int fd, uint64_t from, uint64_t len) ;

/* mime.c */
extern void put_envelope (char const *m, size_t n) ;
extern void put_bodystructure (char const *m, size_t n, int ext) ;
extern size_t header_end (char const *m, size_t n) ;
extern int header_get (char const *m, size_t hlen, char const *field, stralloc *sa) ;

#endif
