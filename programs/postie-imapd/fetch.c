/* fetch.c: FETCH and STORE. */

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <skalibs/strerr.h>
#include <skalibs/bytestr.h>
#include <skalibs/stralloc.h>
#include <skalibs/types.h>
#include "cmd.h"
#include "imapd.h"
#include "mime.h"
#include "rfc5322.h"

#define ITEMS_MAX 32
#define FIELDS_MAX 64

enum { I_FLAGS, I_UID, I_INTERNALDATE, I_SIZE, I_ENVELOPE, I_BODYSTRUCTURE, I_BODY, I_SECTION,
       I_RFC822, I_RFC822_HEADER, I_RFC822_TEXT } ;
enum { S_ALL, S_HEADER, S_TEXT, S_MIME, S_FIELDS, S_FIELDS_NOT } ;

typedef struct item_s item ;
struct item_s
{
  int kind ;
  int peek ;
  char const *raw ;       /* section text as sent, for the response */
  size_t rawlen ;
  unsigned int sec[MIME_DEPTH] ;
  unsigned int nsec ;
  int what ;
  char *fields[FIELDS_MAX] ;
  size_t flens[FIELDS_MAX] ;
  unsigned int nfields ;
  int partial ;
  uint32_t pstart, plen ;
} ;

static void put_flags_in (kwtab const *t, unsigned char fl, uint32_t kw)
{
  int sp = 0 ;
  unsigned int k ;
  if (fl & FL_ANSWERED) { putraw("\\Answered") ; sp = 1 ; }
  if (fl & FL_FLAGGED) { if (sp) putraw(" ") ; putraw("\\Flagged") ; sp = 1 ; }
  if (fl & FL_DELETED) { if (sp) putraw(" ") ; putraw("\\Deleted") ; sp = 1 ; }
  if (fl & FL_SEEN) { if (sp) putraw(" ") ; putraw("\\Seen") ; sp = 1 ; }
  if (fl & FL_DRAFT) { if (sp) putraw(" ") ; putraw("\\Draft") ; sp = 1 ; }
  for (k = 0 ; k < KW_N ; k++)
    if ((kw & (1u << k)) && t->name[k][0]) { if (sp) putraw(" ") ; putraw(t->name[k]) ; sp = 1 ; }
}

void put_flags (kwtab const *t, unsigned char fl, uint32_t kw)
{
  putraw("(") ; put_flags_in(t, fl, kw) ; putraw(")") ;
}

/* The folder's flags: the FLAGS and PERMANENTFLAGS of SELECT, and again
   when a keyword is added. */
void put_flaglists (box const *b)
{
  putraw("* FLAGS ") ; put_flags(&b->kw, 0x1f, 0x3ffffff) ; putraw("\r\n") ;
  if (b->readonly) putraw("* OK [PERMANENTFLAGS ()] read-only\r\n") ;
  else
  {
    unsigned int k, n = 0 ;
    for (k = 0 ; k < KW_N ; k++) if (b->kw.name[k][0]) n++ ;
    putraw("* OK [PERMANENTFLAGS (") ;
    put_flags_in(&b->kw, 0x1f, 0x3ffffff) ;
    putraw(n < KW_N ? " \\*)] keywords allowed\r\n" : ")] no more keywords in this folder\r\n") ;
  }
}

/* one flag: 1 system (*fl |=), 2 keyword (into kn), 0 bad */
static int p_flag (parser *p, unsigned char *fl, kwnames *kn)
{
  char const *a ;
  size_t l ;
  int sys = p_char(p, '\\') ;
  l = p_atom(p, &a) ;
  if (!l) return 0 ;
  if (!sys)
  {
    if (kn->count >= KW_N || l > KW_LEN) return 0 ;
    kn->s[kn->count] = a ; kn->n[kn->count++] = l ;
    return 2 ;
  }
  if (l == 4 && !case_diffb(a, 4, "Seen")) *fl |= FL_SEEN ;
  else if (l == 8 && !case_diffb(a, 8, "Answered")) *fl |= FL_ANSWERED ;
  else if (l == 7 && !case_diffb(a, 7, "Flagged")) *fl |= FL_FLAGGED ;
  else if (l == 7 && !case_diffb(a, 7, "Deleted")) *fl |= FL_DELETED ;
  else if (l == 5 && !case_diffb(a, 5, "Draft")) *fl |= FL_DRAFT ;
  else return 0 ;
  return 1 ;
}

int p_flaglist (parser *p, unsigned char *fl, kwnames *kn)
{
  int paren = p_char(p, '(') ;
  *fl = 0 ;
  kn->count = 0 ;
  if (paren && p_char(p, ')')) return 1 ;
  for (;;)
  {
    if (!p_flag(p, fl, kn)) return 0 ;
    if (!p_sp(p)) break ;
  }
  return paren ? p_char(p, ')') : 1 ;
}

/* The keywords named in kn as a mask of letters of folder dir (table t):
   with create, a keyword the folder has not got gets a letter (*added
   set). Returns 1, or 0 (errno: ENOSPC when the folder's 26 letters are
   taken). */
int kw_mask (char const *dir, kwtab *t, kwnames const *kn, int create, uint32_t *mask, int *added)
{
  unsigned int j ;
  *mask = 0 ;
  for (j = 0 ; j < kn->count ; j++)
  {
    int k = kw_find(t, kn->s[j], kn->n[j]) ;
    if (k < 0 && create)
    {
      k = kw_add(dir, t, kn->s[j], kn->n[j]) ;
      if (k < 0) return 0 ;
      if (added) *added = 1 ;
    }
    if (k >= 0) *mask |= 1u << k ;
  }
  return 1 ;
}

static int p_section (parser *p, item *it)
{
  size_t st = p->pos ;
  it->nsec = 0 ;
  it->what = S_ALL ;
  it->nfields = 0 ;
  /* part numbers */
  while (p->pos < p->len && p->s[p->pos] >= '1' && p->s[p->pos] <= '9')
  {
    uint32_t n ;
    if (!p_number(p, &n) || it->nsec >= MIME_DEPTH) return 0 ;
    it->sec[it->nsec++] = n ;
    if (!p_char(p, '.')) break ;
    if (p->pos < p->len && (p->s[p->pos] < '0' || p->s[p->pos] > '9')) break ;
  }
  if (p->pos < p->len && p->s[p->pos] != ']')
  {
    char const *a ;
    size_t l ;
    /* HEADER, TEXT, MIME, HEADER.FIELDS[.NOT]: read up to ']' or ' ' */
    a = p->s + p->pos ;
    while (p->pos < p->len && p->s[p->pos] != ']' && p->s[p->pos] != ' ') p->pos++ ;
    l = p->s + p->pos - a ;
    if (l == 6 && !case_diffb(a, 6, "HEADER")) it->what = S_HEADER ;
    else if (l == 4 && !case_diffb(a, 4, "TEXT")) it->what = S_TEXT ;
    else if (l == 4 && !case_diffb(a, 4, "MIME") && it->nsec) it->what = S_MIME ;
    else if ((l == 13 && !case_diffb(a, 13, "HEADER.FIELDS")) || (l == 17 && !case_diffb(a, 17, "HEADER.FIELDS.NOT")))
    {
      it->what = l == 13 ? S_FIELDS : S_FIELDS_NOT ;
      if (!p_sp(p) || !p_char(p, '(')) return 0 ;
      for (;;)
      {
        if (it->nfields >= FIELDS_MAX) return 0 ;
        if (!p_astring(p, &it->fields[it->nfields], &it->flens[it->nfields])) return 0 ;
        it->nfields++ ;
        if (!p_sp(p)) break ;
      }
      if (!p_char(p, ')')) return 0 ;
    }
    else return 0 ;
  }
  it->raw = p->s + st ;
  it->rawlen = p->pos - st ;
  if (!p_char(p, ']')) return 0 ;
  it->partial = 0 ;
  if (p_char(p, '<'))
  {
    if (!p_number(p, &it->pstart) || !p_char(p, '.') || !p_number(p, &it->plen) || !it->plen || !p_char(p, '>')) return 0 ;
    it->partial = 1 ;
  }
  return 1 ;
}

static int p_item (parser *p, item *it)
{
  char const *a ;
  size_t l ;
  size_t st = p->pos ;
  /* an atom up to '[' */
  while (p->pos < p->len && p->s[p->pos] != ' ' && p->s[p->pos] != '[' && p->s[p->pos] != ')' && p->s[p->pos] != '(') p->pos++ ;
  a = p->s + st ; l = p->pos - st ;
  memset(it, 0, sizeof *it) ;
  if (l == 5 && !case_diffb(a, 5, "FLAGS")) it->kind = I_FLAGS ;
  else if (l == 3 && !case_diffb(a, 3, "UID")) it->kind = I_UID ;
  else if (l == 12 && !case_diffb(a, 12, "INTERNALDATE")) it->kind = I_INTERNALDATE ;
  else if (l == 11 && !case_diffb(a, 11, "RFC822.SIZE")) it->kind = I_SIZE ;
  else if (l == 8 && !case_diffb(a, 8, "ENVELOPE")) it->kind = I_ENVELOPE ;
  else if (l == 13 && !case_diffb(a, 13, "BODYSTRUCTURE")) it->kind = I_BODYSTRUCTURE ;
  else if (l == 6 && !case_diffb(a, 6, "RFC822")) it->kind = I_RFC822 ;
  else if (l == 13 && !case_diffb(a, 13, "RFC822.HEADER")) it->kind = I_RFC822_HEADER ;
  else if (l == 11 && !case_diffb(a, 11, "RFC822.TEXT")) it->kind = I_RFC822_TEXT ;
  else if ((l == 4 && !case_diffb(a, 4, "BODY")) || (l == 9 && !case_diffb(a, 9, "BODY.PEEK")))
  {
    it->peek = l == 9 ;
    if (!p_char(p, '[')) { if (it->peek) return 0 ; it->kind = I_BODY ; return 1 ; }
    it->kind = I_SECTION ;
    return p_section(p, it) ;
  }
  else return 0 ;
  return 1 ;
}

static void put_internaldate (int64_t t)
{
  static char const *const mon[12] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" } ;
  struct tm tm ;
  time_t tt = (time_t)t ;
  char s[40] ;
  size_t n = 0 ;
  if (!gmtime_r(&tt, &tm)) { putraw("\"01-Jan-1970 00:00:00 +0000\"") ; return ; }
  s[n++] = '"' ;
  s[n++] = '0' + tm.tm_mday / 10 ; s[n++] = '0' + tm.tm_mday % 10 ; s[n++] = '-' ;
  memcpy(s + n, mon[tm.tm_mon], 3) ; n += 3 ; s[n++] = '-' ;
  n += uint_fmt(s + n, tm.tm_year + 1900) ; s[n++] = ' ' ;
  s[n++] = '0' + tm.tm_hour / 10 ; s[n++] = '0' + tm.tm_hour % 10 ; s[n++] = ':' ;
  s[n++] = '0' + tm.tm_min / 10 ; s[n++] = '0' + tm.tm_min % 10 ; s[n++] = ':' ;
  s[n++] = '0' + tm.tm_sec / 10 ; s[n++] = '0' + tm.tm_sec % 10 ;
  memcpy(s + n, " +0000\"", 7) ; n += 7 ;
  put(s, n) ;
}

static int field_listed (item const *it, char const *name, size_t nl)
{
  unsigned int k ;
  for (k = 0 ; k < it->nfields ; k++)
    if (it->flens[k] == nl && !case_diffb(it->fields[k], nl, name)) return 1 ;
  return 0 ;
}

/* The header lines of m[0, h) that the item keeps, and the blank line */
static void filter_fields (item const *it, char const *m, size_t h, stralloc *out)
{
  size_t pos = 0 ;
  out->len = 0 ;
  while (pos < h)
  {
    rfc5322_field f ;
    rfc5322_error e = RFC5322_ERROR_ZERO ;
    size_t save = pos ;
    int r = rfc5322_field_next(m, h, &pos, 1000000, &f, &e) ;
    if (r == 0) break ;
    if (r < 0)
    {
      char const *nl = memchr(m + save, '\n', h - save) ;
      if (!nl) break ;
      pos = nl + 1 - m ;
      continue ;
    }
    {
      /* the name without blanks before the colon */
      size_t nl = f.namelen ;
      while (nl && (m[f.start + nl - 1] == ' ' || m[f.start + nl - 1] == '\t')) nl-- ;
      if (field_listed(it, m + f.start, nl) == (it->what == S_FIELDS))
        stralloc_catb(out, m + f.start, f.next - f.start) ;
    }
  }
  stralloc_catb(out, "\r\n", 2) ;
}

static void put_part (item const *it, char const *s, size_t n)
{
  if (it->partial)
  {
    putraw("<") ; putnum(it->pstart) ; putraw(">") ;
    if (it->pstart >= n) n = 0, s = "" ;
    else { s += it->pstart ; n -= it->pstart ; if (n > it->plen) n = it->plen ; }
  }
  putraw(" {") ; putnum(n) ; putraw("}\r\n") ;
  put(s, n) ;
}

static void put_section (item const *it, char const *m, size_t n)
{
  size_t start = 0, len = n, h ;
  stralloc tmp = STRALLOC_ZERO ;
  putraw("BODY[") ; put(it->raw, it->rawlen) ; putraw("]") ;
  if (it->nsec)
  {
    int r = mime_section(m, n, it->sec, it->nsec, &start, &len) ;
    if (!r) { putraw(" NIL") ; return ; }
    if (r == 1 && it->what != S_MIME)
    {
      /* the part's body (for a message/rfc822 part: the message) */
      h = header_end(m + start, len) ;
      start += h ; len -= h ;
    }
    else if (r == 2 && it->what == S_MIME) { putraw(" NIL") ; return ; }
  }
  m += start ; n = len ;
  h = header_end(m, n) ;
  switch (it->what)
  {
    case S_ALL : put_part(it, m, n) ; break ;
    case S_HEADER : case S_MIME : put_part(it, m, h) ; break ;
    case S_TEXT : put_part(it, m + h, n - h) ; break ;
    default :
      filter_fields(it, m, h, &tmp) ;
      put_part(it, tmp.s, tmp.len) ;
      stralloc_free(&tmp) ;
  }
}

/* What an item needs of the message: all of it in memory (the MIME
   structure), its header in memory, its size as sent (a walk through the
   file). Anything else is sent from the file, piece by piece. */
#define N_WHOLE 1
#define N_HEADER 2
#define N_SIZE 4
static int needs (item const *it)
{
  switch (it->kind)
  {
    case I_BODYSTRUCTURE : case I_BODY : return N_WHOLE ;
    case I_SECTION :
      if (it->nsec) return N_WHOLE ;
      return it->what == S_ALL ? N_SIZE : it->what == S_TEXT ? N_HEADER | N_SIZE : N_HEADER ;
    case I_ENVELOPE : case I_RFC822_HEADER : return N_HEADER ;
    case I_RFC822_TEXT : return N_HEADER | N_SIZE ;
    case I_SIZE : case I_RFC822 : return N_SIZE ;
    default : return 0 ;
  }
}

/* A part of the file's CRLF form, [start, start + n), as a literal (with
   the item's <partial>), sent from the file. */
static void put_part_file (item const *it, int fd, uint64_t start, uint64_t n)
{
  uint64_t off = 0 ;
  if (it->partial)
  {
    putraw("<") ; putnum(it->pstart) ; putraw(">") ;
    if (it->pstart >= n) n = 0 ;
    else { off = it->pstart ; n -= it->pstart ; if (n > it->plen) n = it->plen ; }
  }
  putraw(" {") ; putnum(n) ; putraw("}\r\n") ;
  if (n && !msg_send(fd, start + off, n)) strerr_warnwu1sys("read a message file whole: its literal was filled with spaces") ;
}

/* BODY[], BODY[HEADER...], BODY[TEXT] of the message (no part number):
   the header from memory, the rest from the file. */
static void put_section_file (item const *it, char const *hd, size_t hlen, int fd, uint64_t size)
{
  size_t h = header_end(hd, hlen) ;
  stralloc tmp = STRALLOC_ZERO ;
  putraw("BODY[") ; put(it->raw, it->rawlen) ; putraw("]") ;
  switch (it->what)
  {
    case S_ALL : put_part_file(it, fd, 0, size) ; break ;
    case S_HEADER : put_part(it, hd, h) ; break ;
    case S_TEXT : put_part_file(it, fd, h, size - h) ; break ;
    default :
      filter_fields(it, hd, h, &tmp) ;
      put_part(it, tmp.s, tmp.len) ;
      stralloc_free(&tmp) ;
  }
}

/* Reads what the items need of message i: all of it (need & N_WHOLE:
   into msg, as now), or its header into msg and its size into *size;
   *fd is the open file (or -1). Returns 1, 0 when it cannot be read. */
static int prepare (box *b, size_t i, int need, stralloc *sa, int *fd, uint64_t *size)
{
  *fd = -1 ;
  if (need & N_WHOLE)
  {
    if (!msg_load(b, i, sa)) return 0 ;
    *size = sa->len ;
    return 1 ;
  }
  if (need == N_HEADER) return msg_header_of(b, i, sa, maxmessage) ;  /* no file left open */
  *fd = msg_open(b, i) ;
  if (*fd < 0) return 0 ;
  if (need & N_SIZE)
  {
    int64_t n = msg_size(b, i, *fd) ;
    if (n < 0) goto err ;
    *size = n ;
  }
  if ((need & N_HEADER) && !msg_header(*fd, sa, maxmessage)) goto err ;
  return 1 ;
 err:
  close(*fd) ; *fd = -1 ;
  return 0 ;
}

/* About 100 lines, on purpose: FETCH's item list parsed as RFC 3501
   writes it (one case per item) and the answers written in that order. */
void cmd_fetch (box *b, parser *p, int uid, char const *tag)
{
  item items[ITEMS_MAX] ;
  unsigned int ni = 0, k ;
  seqset s ;
  size_t i ;
  uint32_t star ;
  int need = 0, setseen = 0, missing = 0 ;
  stralloc msgbuf = STRALLOC_ZERO ;
  if (!p_sp(p) || !p_seqset(p, &s) || !p_sp(p)) { bad(tag, "BAD syntax: FETCH set items") ; return ; }
  {
    char const *a ;
    size_t save = p->pos ;
    size_t l = p_atom(p, &a) ;
    if (l && p_end(p) && ((l == 3 && !case_diffb(a, 3, "ALL")) || (l == 4 && !case_diffb(a, 4, "FAST")) || (l == 4 && !case_diffb(a, 4, "FULL"))))
    {
      items[ni++].kind = I_FLAGS ;
      items[ni++].kind = I_INTERNALDATE ;
      items[ni++].kind = I_SIZE ;
      if (a[1] != 'A' && a[1] != 'a') items[ni++].kind = I_ENVELOPE ;
      if (a[1] == 'U' || a[1] == 'u') items[ni++].kind = I_BODY ;
    }
    else
    {
      int paren ;
      p->pos = save ;
      paren = p_char(p, '(') ;
      for (;;)
      {
        if (ni >= ITEMS_MAX || !p_item(p, &items[ni])) { bad(tag, "BAD syntax: FETCH item") ; return ; }
        ni++ ;
        if (!paren || !p_sp(p)) break ;
      }
      if ((paren && !p_char(p, ')')) || !p_end(p)) { bad(tag, "BAD syntax: FETCH items") ; return ; }
    }
  }
  for (k = 0 ; k < ni ; k++)
  {
    need |= needs(&items[k]) ;
    if ((items[k].kind == I_SECTION && !items[k].peek) || items[k].kind == I_RFC822 || items[k].kind == I_RFC822_TEXT) setseen = 1 ;
  }
  if (b->readonly) setseen = 0 ;
  star = uid ? (b->n ? b->m[b->n-1].uid : 0) : b->n ;
  if (!uid && s.n) for (k = 0 ; k < s.n ; k++) if (s.r[k] > b->n) { bad(tag, "BAD no such message") ; return ; }
  for (i = 0 ; i < b->n ; i++)
  {
    int sp = 0 ;
    int flagsdone = 0 ;
    int fd = -1 ;
    uint64_t size = 0 ;
    if (!seq_has(&s, uid ? b->m[i].uid : i + 1, star)) continue ;
    if (need && !prepare(b, i, need, &msgbuf, &fd, &size))
    {
      if (errno == ENOENT && msg_refind(b, i) && prepare(b, i, need, &msgbuf, &fd, &size)) ;
      else { missing = 1 ; continue ; }
    }
    if (setseen && !(b->m[i].flags & FL_SEEN)) msg_setflags(b, i, b->m[i].flags | FL_SEEN, msg_kw(b, i)) ;
    else setseen = setseen ;
    putraw("* ") ; putnum(i + 1) ; putraw(" FETCH (") ;
    if (uid) { putraw("UID ") ; putnum(b->m[i].uid) ; sp = 1 ; }
    for (k = 0 ; k < ni ; k++)
    {
      item const *it = items + k ;
      size_t h ;
      if (it->kind == I_UID && uid) continue ;
      if (it->kind == I_FLAGS && flagsdone) continue ;
      if (sp) putraw(" ") ;
      sp = 1 ;
      switch (it->kind)
      {
        case I_FLAGS : putraw("FLAGS ") ; put_flags(&b->kw, b->m[i].flags, msg_kw(b, i)) ; flagsdone = 1 ; break ;
        case I_UID : putraw("UID ") ; putnum(b->m[i].uid) ; break ;
        case I_INTERNALDATE : putraw("INTERNALDATE ") ; put_internaldate(msg_mtime(b, i)) ; break ;
        case I_SIZE : putraw("RFC822.SIZE ") ; putnum(size) ; break ;
        case I_ENVELOPE : putraw("ENVELOPE ") ; put_envelope(msgbuf.s, msgbuf.len) ; break ;
        case I_BODYSTRUCTURE : putraw("BODYSTRUCTURE ") ; put_bodystructure(msgbuf.s, msgbuf.len, 1) ; break ;
        case I_BODY : putraw("BODY ") ; put_bodystructure(msgbuf.s, msgbuf.len, 0) ; break ;
        case I_SECTION :
          if (fd < 0) put_section(it, msgbuf.s, msgbuf.len) ;
          else put_section_file(it, msgbuf.s, msgbuf.len, fd, size) ;
          break ;
        case I_RFC822 :
          if (fd < 0) { putraw("RFC822 {") ; putnum(msgbuf.len) ; putraw("}\r\n") ; put(msgbuf.s, msgbuf.len) ; }
          else { item whole = { .kind = I_RFC822 } ; putraw("RFC822") ; put_part_file(&whole, fd, 0, size) ; }
          break ;
        case I_RFC822_HEADER :
          h = header_end(msgbuf.s, msgbuf.len) ;
          putraw("RFC822.HEADER {") ; putnum(h) ; putraw("}\r\n") ; put(msgbuf.s, h) ; break ;
        case I_RFC822_TEXT :
          h = header_end(msgbuf.s, msgbuf.len) ;
          if (fd < 0) { putraw("RFC822.TEXT {") ; putnum(msgbuf.len - h) ; putraw("}\r\n") ; put(msgbuf.s + h, msgbuf.len - h) ; }
          else { item whole = { .kind = I_RFC822_TEXT } ; putraw("RFC822.TEXT") ; put_part_file(&whole, fd, h, size - h) ; }
          break ;
      }
    }
    if (fd >= 0) close(fd) ;
    if (setseen && !flagsdone) { putraw(" FLAGS ") ; put_flags(&b->kw, b->m[i].flags, msg_kw(b, i)) ; }
    putraw(")\r\n") ;
  }
  stralloc_free(&msgbuf) ;
  hcache_done(b) ;
  msg_trim() ;
  tagged(tag, missing ? "NO some messages could not be read (expunged meanwhile?)" : "OK FETCH completed") ;
}

void cmd_store (box *b, parser *p, int uid, char const *tag)
{
  seqset s ;
  char const *a ;
  size_t l, i ;
  int mode = 0, silent = 0, failed = 0, added = 0 ;
  unsigned char fl ;
  kwnames kn ;
  uint32_t star, kw ;
  if (!p_sp(p) || !p_seqset(p, &s) || !p_sp(p)) { bad(tag, "BAD syntax: STORE set item flags") ; return ; }
  if (p_char(p, '+')) mode = 1 ; else if (p_char(p, '-')) mode = -1 ;
  l = p_atom(p, &a) ;
  if (l == 12 && !case_diffb(a, 12, "FLAGS.SILENT")) silent = 1 ;
  else if (!(l == 5 && !case_diffb(a, 5, "FLAGS"))) { bad(tag, "BAD syntax: STORE set [+-]FLAGS[.SILENT] flags") ; return ; }
  if (!p_sp(p) || !p_flaglist(p, &fl, &kn) || !p_end(p)) { bad(tag, "BAD syntax: STORE flags") ; return ; }
  if (b->readonly) { tagged(tag, "NO [READ-ONLY] folder is read-only") ; return ; }
  if (!kw_mask(b->dir, &b->kw, &kn, mode >= 0, &kw, &added))
  {
    if (errno == ENOSPC) tagged(tag, "NO [LIMIT] this folder has 26 keywords already, the most it can keep") ;
    else tagged(tag, "NO [SERVERBUG] cannot store the keyword") ;
    return ;
  }
  if (added) put_flaglists(b) ;
  star = uid ? (b->n ? b->m[b->n-1].uid : 0) : b->n ;
  for (i = 0 ; i < b->n ; i++)
  {
    unsigned char nf ;
    uint32_t nk ;
    if (!seq_has(&s, uid ? b->m[i].uid : i + 1, star)) continue ;
    nf = mode > 0 ? b->m[i].flags | fl : mode < 0 ? b->m[i].flags & ~fl : fl ;
    nk = mode > 0 ? msg_kw(b, i) | kw : mode < 0 ? msg_kw(b, i) & ~kw : kw ;
    if (!msg_setflags(b, i, nf, nk)) { failed = 1 ; continue ; }
    if (!silent)
    {
      putraw("* ") ; putnum(i + 1) ; putraw(" FETCH (") ;
      if (uid) { putraw("UID ") ; putnum(b->m[i].uid) ; putraw(" ") ; }
      putraw("FLAGS ") ; put_flags(&b->kw, b->m[i].flags, msg_kw(b, i)) ; putraw(")\r\n") ;
    }
  }
  tagged(tag, failed ? "NO some flags could not be stored (expunged meanwhile?)" : "OK STORE completed") ;
}
