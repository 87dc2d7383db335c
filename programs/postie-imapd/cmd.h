/* cmd.h: a command as read from the client, and its parser. */
#ifndef CMD_H
#define CMD_H

#include <stddef.h>
#include <stdint.h>
#include "imapd.h"

/* The whole command as sent (lines with CRLF, literals inline). */
typedef struct parser_s parser ;
struct parser_s
{
  char *s ;
  size_t len ;
  size_t pos ;
} ;

extern int p_sp (parser *p) ;
extern int p_end (parser *p) ;
extern int p_char (parser *p, char c) ;
/* atom (no specials); returns its length, pointer in *a */
extern size_t p_atom (parser *p, char const **a) ;
/* astring / string: atom, quoted, literal; unescaped in place; *a, *n */
extern int p_astring (parser *p, char **a, size_t *n) ;
extern int p_string (parser *p, char **a, size_t *n) ;
extern int p_number (parser *p, uint32_t *u) ;
extern int p_spooled (parser *p) ;  /* APPEND's message, read into a file */

/* sequence sets */
typedef struct seqset_s seqset ;
struct seqset_s
{
  uint32_t r[512] ;   /* pairs lo, hi (0 = '*') */
  unsigned int n ;
} ;
extern int p_seqset (parser *p, seqset *s) ;
extern int seq_has (seqset const *s, uint32_t v, uint32_t star) ;

/* fetch.c */
extern void cmd_fetch (box *b, parser *p, int uid, char const *tag) ;
extern void cmd_store (box *b, parser *p, int uid, char const *tag) ;
typedef struct kwnames_s kwnames ;  /* keywords named in a command */
struct kwnames_s { char const *s[KW_N] ; size_t n[KW_N] ; unsigned int count ; } ;
extern void put_flags (kwtab const *t, unsigned char fl, uint32_t kw) ;
extern void put_flaglists (box const *b) ;
extern int p_flaglist (parser *p, unsigned char *fl, kwnames *kn) ;
extern int kw_mask (char const *dir, kwtab *t, kwnames const *kn, int create, uint32_t *mask, int *added) ;

/* search.c */
extern void cmd_search (box *b, parser *p, int uid, char const *tag) ;

/* main.c */
struct spool_s
{
  int fd ;          /* -1: no spooled literal */
  int err ;         /* errno of a failed write */
  size_t at ;       /* the offset in the command where its bytes would be */
  size_t len ;
  char path[64] ;   /* tmp/append.PID.SEQ, relative to the Maildir */
} ;
extern struct spool_s spool ;
extern box cur ;          /* the selected folder */
extern int selected ;
extern void out_discard (void) ;
extern int getbox (parser *p, char *dir, size_t max, char **name, size_t *nlen) ;
extern int isdir (char const *d) ;  /* a Maildir: has cur/ */

/* folders.c */
extern void cmd_list (parser *p, char const *tag, int lsub) ;
extern void cmd_status (parser *p, char const *tag) ;
extern void cmd_create (parser *p, char const *tag) ;
extern void cmd_delete (parser *p, char const *tag) ;
extern void cmd_rename (parser *p, char const *tag) ;
extern void cmd_subscribe (parser *p, char const *tag, int add) ;

extern void tagged (char const *tag, char const *s) ;
extern void bad (char const *tag, char const *s) ;

#endif
