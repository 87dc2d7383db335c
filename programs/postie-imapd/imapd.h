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

/* A selected message, as little as can be: an idle session on a folder
   of 100,000 holds 9 bytes a message (doc/imap-index.md, "Memory").
   name is an offset: below the box's mapn, in the names block of its
   mapped postie-index; from mapn on, in its names stralloc (those the
   session listed or renamed itself). Either way the MSG_PRE bytes before
   the name are the message's INTERNALDATE (the file's mtime) and its
   file size (two int64, native order, unaligned). */
#define MSG_PRE 16
typedef struct msg_s msg ;
struct msg_s
{
  uint32_t uid ;
  uint32_t name ;      /* "cur/NAME\0", see above */
  unsigned char flags ;
} __attribute__((packed)) ;

/* a folder's keywords: name[k] for the letter 'a' + k, "" unused */
#define KW_N 26
#define KW_LEN 64
typedef struct kwtab_s kwtab ;
struct kwtab_s { char name[KW_N][KW_LEN + 1] ; } ;

/* what a folder's index was built from (index.c): the mtimes of new/
   and cur/ (seconds, nanoseconds), postie-uids' mtime, inode and size */
typedef struct idxstamp_s idxstamp ;
struct idxstamp_s { uint64_t v[8] ; } ;

typedef struct box_s box ;
struct box_s
{
  char dir[512] ;      /* "." (INBOX) or "./.Name" */
  int readonly ;
  uint32_t uidvalidity ;
  uint32_t uidnext ;
  stralloc names ;      /* entries: INTERNALDATE, file size (8 bytes each), "cur/NAME\0" */
  char *map ;          /* postie-index, mapped (read only); 0: none */
  size_t maplen ;
  char const *mapnames ;  /* its names block, mapn bytes */
  uint32_t mapn ;
  uint64_t namesum ;   /* its checksum, from the index's header */
  int namesok ;        /* it was checked (idx_names); 0: not yet */
  int lazynames ;      /* idx_read leaves the check to idx_names (the selected folder) */
  msg *m ;
  size_t n ;
  size_t cap ;
  uint32_t *kwbits ;   /* each message's keywords; 0 while none has any */
  uint32_t *sent ;     /* each message's size as sent, plus 1 (0: not known yet); 0 until one is known */
  kwtab kw ;
  idxstamp stamp ;     /* the files this snapshot was read from */
  int fresh ;          /* stamp is trustworthy: unchanged files mean an unchanged folder */
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
extern int box_unchanged (box *b) ;  /* 1: the folder is as b was read from it */
extern void box_free (box *b) ;
extern void box_release (box *b) ;  /* the mapped index's pages given back: a command is over */
extern void box_remove (box *b, size_t i) ;  /* message i out of the snapshot */
static inline char const *msg_name (box const *b, size_t i)
{
  uint32_t o = b->m[i].name ;
  return o < b->mapn ? b->mapnames + o : b->names.s + (o - b->mapn) ;
}
static inline uint32_t msg_kw (box const *b, size_t i) { return b->kwbits ? b->kwbits[i] : 0 ; }
extern int64_t msg_mtime (box const *b, size_t i) ;  /* INTERNALDATE */
extern uint64_t msg_fsize (box const *b, size_t i) ;  /* the file's size, when it was listed */
extern int64_t msg_sent (box const *b, size_t i) ;   /* size as sent, -1 not known */
extern void msg_setsent (box *b, size_t i, int64_t n) ;
extern void flags_letters (unsigned char fl, uint32_t kw, char *s) ;  /* at most 32 bytes with NUL */
extern int box_lock (char const *dir) ;  /* fd, -1 */
extern void box_unlock (int fd) ;
extern unsigned char flags_of_name (char const *name) ;
extern int msg_setflags (box *b, size_t i, unsigned char fl, uint32_t kw) ;
extern int box_add_file (char const *dir, char const *src, int link_it, unsigned char fl, uint32_t kw, char *uniq, size_t umax) ;
extern uint32_t box_uid_of (box *b, char const *uniq) ;
extern int box_create (char const *dir) ;
extern int msg_refind (box *b, size_t i) ;

/* index.c */
extern int idx_stampdirs (char const *dir, idxstamp *s) ;
extern int idx_stampuids (char const *dir, idxstamp *s) ;
extern int idx_write (box const *b, idxstamp const *s) ;
extern int idx_check (char const *buf, size_t len, idxstamp const *s) ;
extern int idx_read (box *b, idxstamp const *s, int lazy) ;
extern int idx_names (box *b) ;  /* 1: b's names can be used; 0: its index's names block is damaged */

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
extern int msg_load (box *b, size_t i, stralloc *sa) ;  /* CRLF form, all of it */
extern int msg_header_of (box *b, size_t i, stralloc *sa, size_t max) ;  /* CRLF form */
struct stat ;
extern int msg_path (box const *b, size_t i, char *p, size_t max) ;  /* 0: ENAMETOOLONG */
extern int msg_raw (box *b, size_t i, int hdr, size_t max, char const **s, size_t *n, struct stat *st) ;  /* as stored */
extern int msg_head (box *b, size_t i, char const **s, size_t *n) ;  /* as stored, cached */
extern int crlf_cat (stralloc *sa, char const *s, size_t n) ;
extern void msg_trim (void) ;  /* at the end of a command */
extern uint64_t crlf_size (char const *s, size_t n) ;
extern int msg_send (int fd, uint64_t from, uint64_t len) ;

/* hcache.c: the folder's header cache (doc/imap-hcache.md) */
#define HCACHE_ENTRY_MAX 65536  /* a larger header is not kept */
extern unsigned long hcache_max ;  /* bytes of the file; 0: no cache */
extern int hcache_get (box *b, size_t i, char const **s, size_t *n) ;
extern void hcache_put (box *b, size_t i, char const *s, size_t n, struct stat const *st) ;
extern void hcache_done (box *b) ;

/* mime.c */
extern void put_envelope (char const *m, size_t n) ;
extern void put_bodystructure (char const *m, size_t n, int ext) ;
extern size_t header_end (char const *m, size_t n) ;
extern int header_get (char const *m, size_t hlen, char const *field, stralloc *sa) ;

#endif
