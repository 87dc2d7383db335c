/* search.c: SEARCH. The keys are parsed and evaluated in one pass per
   message (a first pass with no message checks the syntax); NOT, OR and
   parentheses nest at most SEARCH_DEPTH deep. */

#include <errno.h>
#include <string.h>
#include <skalibs/bytestr.h>
#include <skalibs/stralloc.h>
#include <skalibs/types.h>
#include "cmd.h"
#include "imapd.h"

#define SEARCH_DEPTH 32
/* Text keys (FROM, TO, CC, BCC, SUBJECT, HEADER, BODY, TEXT) cost a
   substring search each, per message: at most SEARCH_TEXT_MAX of them in
   one SEARCH, each string at most SEARCH_NEEDLE_MAX bytes. */
#define SEARCH_TEXT_MAX 16
#define SEARCH_NEEDLE_MAX 1024
#define STR_(x) #x
#define STR(x) STR_(x)

typedef struct ctx_s ctx ;
struct ctx_s
{
  box *b ;
  size_t i ;          /* the message, or (size_t)-1 for the syntax pass */
  int uid ;
  char const *ms ;    /* the message as stored (msg_raw's buffer) */
  size_t mn ;
  size_t h ;          /* where its body begins */
  int loaded ;        /* 0 not yet, 1 its header, 2 all of it, -1 unreadable */
  stralloc field ;    /* a header field's value, kept from message to message */
  stralloc crlf ;     /* the message in CRLF form, when a needle has CR or LF */
  unsigned int ntext ;  /* text keys seen by the syntax pass */
  int toomuch ;         /* past SEARCH_TEXT_MAX or SEARCH_NEEDLE_MAX */
} ;

/* The syntax pass counts the text keys; 0 when past a limit. */
static int textkey (ctx *c, size_t vl)
{
  if (c->i != (size_t)-1) return 1 ;
  if (++c->ntext > SEARCH_TEXT_MAX || vl > SEARCH_NEEDLE_MAX) { c->toomuch = 1 ; return 0 ; }
  return 1 ;
}

/* Reads the message as stored, its header only (whole = 0: the header
   keys look no further) or all of it. Its own line ends do not change
   what a key finds: header values are unfolded without CR and LF, and a
   needle without CR or LF matches the same bytes in either form. */
static int load (ctx *c, int whole)
{
  int want = whole ? 2 : 1, r ;
  if (c->loaded < 0) return 0 ;
  if (c->loaded >= want) return 1 ;
  r = whole ? msg_raw(c->b, c->i, 0, maxmessage, &c->ms, &c->mn, 0) : msg_head(c->b, c->i, &c->ms, &c->mn) ;
  if (!r && errno == ENOENT && msg_refind(c->b, c->i))
    r = whole ? msg_raw(c->b, c->i, 0, maxmessage, &c->ms, &c->mn, 0) : msg_head(c->b, c->i, &c->ms, &c->mn) ;
  if (r) c->h = header_end(c->ms, c->mn) ;
  c->loaded = r ? r : -1 ;
  return r > 0 ;
}

/* ASCII case folding */
static unsigned char lower[256] ;
static void lower_init (void)
{
  unsigned int k ;
  if (lower['A'] == 'a') return ;
  for (k = 0 ; k < 256 ; k++) lower[k] = k >= 'A' && k <= 'Z' ? k + 32 : k ;
}

/* case-insensitive (ASCII) substring: the first byte and the last byte
   of the needle are checked before the rest; stops at the first match */
static int contains (char const *hs, size_t hl, char const *ns, size_t nl)
{
  unsigned char const *h = (unsigned char const *)hs, *n = (unsigned char const *)ns ;
  unsigned char first, last ;
  size_t i, end ;
  if (!nl) return 1 ;
  if (nl > hl) return 0 ;
  first = lower[n[0]] ; last = lower[n[nl-1]] ;
  end = hl - nl ;
  for (i = 0 ; i <= end ; i++)
  {
    size_t k ;
    if (lower[h[i]] != first || lower[h[i + nl - 1]] != last) continue ;
    for (k = 1 ; k + 1 < nl ; k++) if (lower[h[i+k]] != lower[n[k]]) break ;
    if (k + 1 >= nl) return 1 ;
  }
  return 0 ;
}

static int hdr_contains (ctx *c, char const *field, char const *v, size_t vl)
{
  if (!load(c, 0)) return 0 ;
  return header_get(c->ms, c->h, field, &c->field) && contains(c->field.s, c->field.len, v, vl) ;
}

/* BODY (the body) or TEXT (all of it) */
static int text_contains (ctx *c, int body, char const *v, size_t vl)
{
  size_t h ;
  if (!load(c, 1)) return 0 ;
  if (!memchr(v, '\r', vl) && !memchr(v, '\n', vl))
  {
    h = body ? c->h : 0 ;
    return contains(c->ms + h, c->mn - h, v, vl) ;
  }
  /* a needle with CR or LF: the CRLF form, as the client sees it */
  c->crlf.len = 0 ;
  if (!crlf_cat(&c->crlf, c->ms, c->mn)) die_temp("allocate memory") ;
  h = body ? header_end(c->crlf.s, c->crlf.len) : 0 ;
  return contains(c->crlf.s + h, c->crlf.len - h, v, vl) ;
}

/* its size as sent */
static uint64_t crlf_len (ctx *c)
{
  if (msg_sent(c->b, c->i) < 0) msg_setsent(c->b, c->i, crlf_size(c->ms, c->mn)) ;
  return msg_sent(c->b, c->i) ;
}

static int64_t p_date (parser *p)
{
  static char const *const mon[12] = { "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec" } ;
  char *s ;
  size_t n, k ;
  uint32_t d, y ;
  unsigned int m ;
  parser q ;
  if (p->pos < p->len && p->s[p->pos] == '"') { if (!p_string(p, &s, &n)) return -1 ; }
  else { char const *a ; n = p_atom(p, &a) ; s = (char *)a ; }
  q.s = s ; q.len = n ; q.pos = 0 ;
  if (!p_number(&q, &d) || !d || d > 31 || !p_char(&q, '-') || q.pos + 4 > n) return -1 ;
  for (m = 0 ; m < 12 ; m++) if (!case_diffb(s + q.pos, 3, mon[m])) break ;
  if (m == 12) return -1 ;
  q.pos += 3 ;
  if (!p_char(&q, '-') || !p_number(&q, &y) || y < 1970 || y > 9999 || q.pos != n) return -1 ;
  /* days since 1970-01-01 (civil from days, the usual algorithm) */
  {
    int64_t yy = (int64_t)y - (m < 2) ;
    int64_t era = yy / 400 ;
    int64_t yoe = yy - era * 400 ;
    int64_t mm = m + 1 ;
    int64_t doy = (153 * (mm + (mm > 2 ? -3 : 9)) + 2) / 5 + d - 1 ;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy ;
    (void)k ;
    return era * 146097 + doe - 719468 ;
  }
}

static int keys (parser *p, ctx *c, unsigned int depth) ;

/* One key. Returns 1 match, 0 no match, -1 syntax error. */
/* About 120 lines, on purpose: the table of RFC 3501's search keys, one
   case each. */
static int key (parser *p, ctx *c, unsigned int depth)
{
  char const *a ;
  size_t l ;
  int dry = c->i == (size_t)-1 ;
  msg const *m = dry ? 0 : c->b->m + c->i ;
  uint32_t star = c->b->n ? c->b->m[c->b->n-1].uid : 0 ;
  if (depth > SEARCH_DEPTH) return -1 ;
  if (p_char(p, '('))
  {
    int r = keys(p, c, depth + 1) ;
    if (r < 0 || !p_char(p, ')')) return -1 ;
    return r ;
  }
  if (p->pos < p->len && ((p->s[p->pos] >= '1' && p->s[p->pos] <= '9') || p->s[p->pos] == '*'))
  {
    seqset s ;
    if (!p_seqset(p, &s)) return -1 ;
    return dry ? 0 : seq_has(&s, c->i + 1, c->b->n) ;
  }
  l = p_atom(p, &a) ;
  if (!l) return -1 ;
#define IS(w) (l == sizeof(w) - 1 && !case_diffb(a, l, w))
#define FLAG(fl, want) return dry ? 0 : (!!(m->flags & (fl)) == (want))
  if (IS("ALL")) return 1 ;
  if (IS("SEEN")) FLAG(FL_SEEN, 1) ;
  if (IS("UNSEEN") || IS("NEW")) FLAG(FL_SEEN, 0) ;
  if (IS("OLD")) return 1 ;
  if (IS("RECENT")) return 0 ;
  if (IS("FLAGGED")) FLAG(FL_FLAGGED, 1) ;
  if (IS("UNFLAGGED")) FLAG(FL_FLAGGED, 0) ;
  if (IS("DELETED")) FLAG(FL_DELETED, 1) ;
  if (IS("UNDELETED")) FLAG(FL_DELETED, 0) ;
  if (IS("ANSWERED")) FLAG(FL_ANSWERED, 1) ;
  if (IS("UNANSWERED")) FLAG(FL_ANSWERED, 0) ;
  if (IS("DRAFT")) FLAG(FL_DRAFT, 1) ;
  if (IS("UNDRAFT")) FLAG(FL_DRAFT, 0) ;
  if (IS("KEYWORD") || IS("UNKEYWORD"))
  {
    char const *k ;
    size_t kl ;
    int want = !(a[0] == 'U' || a[0] == 'u'), idx ;
    if (!p_sp(p) || !(kl = p_atom(p, &k))) return -1 ;
    if (dry) return 0 ;
    idx = kw_find(&c->b->kw, k, kl) ;
    return (idx >= 0 && (msg_kw(c->b, c->i) & (1u << idx))) == want ;
  }
  if (IS("NOT"))
  {
    int r ;
    if (!p_sp(p)) return -1 ;
    r = key(p, c, depth + 1) ;
    return r < 0 ? -1 : !r ;
  }
  if (IS("OR"))
  {
    int r1, r2 ;
    if (!p_sp(p)) return -1 ;
    r1 = key(p, c, depth + 1) ;
    if (r1 < 0 || !p_sp(p)) return -1 ;
    r2 = key(p, c, depth + 1) ;
    if (r2 < 0) return -1 ;
    return r1 || r2 ;
  }
  if (IS("UID"))
  {
    seqset s ;
    if (!p_sp(p) || !p_seqset(p, &s)) return -1 ;
    return dry ? 0 : seq_has(&s, m->uid, star) ;
  }
  if (IS("LARGER") || IS("SMALLER"))
  {
    uint32_t n ;
    int larger = a[0] == 'L' || a[0] == 'l' ;
    if (!p_sp(p) || !p_number(p, &n)) return -1 ;
    if (dry || !load(c, 1)) return 0 ;
    return larger ? crlf_len(c) > n : crlf_len(c) < n ;
  }
  if (IS("SINCE") || IS("BEFORE") || IS("ON"))
  {
    int64_t d, md ;
    if (!p_sp(p)) return -1 ;
    d = p_date(p) ;
    if (d < 0) return -1 ;
    if (dry) return 0 ;
    md = msg_mtime(c->b, c->i) >= 0 ? msg_mtime(c->b, c->i) / 86400 : 0 ;
    if (a[0] == 'S' || a[0] == 's') return md >= d ;
    if (a[0] == 'B' || a[0] == 'b') return md < d ;
    return md == d ;
  }
  if (IS("FROM") || IS("TO") || IS("CC") || IS("BCC") || IS("SUBJECT"))
  {
    char field[8] ;
    char *v ; size_t vl ;
    memcpy(field, a, l) ; field[l] = 0 ;
    if (!p_sp(p) || !p_astring(p, &v, &vl) || !textkey(c, vl)) return -1 ;
    return dry ? 0 : hdr_contains(c, field, v, vl) ;
  }
  if (IS("HEADER"))
  {
    char *f, *v ; size_t fl, vl ;
    char field[256] ;
    if (!p_sp(p) || !p_astring(p, &f, &fl) || !p_sp(p) || !p_astring(p, &v, &vl) || fl >= sizeof field || !textkey(c, vl)) return -1 ;
    if (dry) return 0 ;
    memcpy(field, f, fl) ; field[fl] = 0 ;
    return hdr_contains(c, field, v, vl) ;
  }
  if (IS("BODY") || IS("TEXT"))
  {
    char *v ; size_t vl ;
    int body = a[0] == 'B' || a[0] == 'b' ;
    if (!p_sp(p) || !p_astring(p, &v, &vl) || !textkey(c, vl)) return -1 ;
    return dry ? 0 : text_contains(c, body, v, vl) ;
  }
#undef IS
#undef FLAG
  return -1 ;
}

/* keys separated by spaces, all must match; stops before ')' or at the end */
static int keys (parser *p, ctx *c, unsigned int depth)
{
  int all = 1 ;
  for (;;)
  {
    int r = key(p, c, depth) ;
    if (r < 0) return -1 ;
    if (!r) all = 0 ;
    if (!p_sp(p)) return all ;
  }
}

void cmd_search (box *b, parser *p, int uid, char const *tag)
{
  ctx c = { .b = b, .i = (size_t)-1, .uid = uid, .ms = 0, .mn = 0, .h = 0, .loaded = 0, .field = STRALLOC_ZERO, .crlf = STRALLOC_ZERO, .ntext = 0, .toomuch = 0 } ;
  stralloc saved = STRALLOC_ZERO ;
  size_t start, i ;
  int ok ;
  if (!p_sp(p)) { bad(tag, "BAD syntax: SEARCH keys") ; return ; }
  lower_init() ;
  start = p->pos ;
  {
    char const *a ;
    size_t l = p_atom(p, &a) ;
    if (l == 7 && !case_diffb(a, 7, "CHARSET"))
    {
      char *cs ; size_t cl ;
      if (!p_sp(p) || !p_astring(p, &cs, &cl) || !p_sp(p)) { bad(tag, "BAD syntax: SEARCH CHARSET name keys") ; return ; }
      if (!(cl == 8 && !case_diffb(cs, 8, "US-ASCII")) && !(cl == 5 && !case_diffb(cs, 5, "UTF-8")))
      { tagged(tag, "NO [BADCHARSET (US-ASCII UTF-8)] unknown charset") ; return ; }
      start = p->pos ;
    }
    else p->pos = start ;
  }
  /* Quoted strings are unescaped in place as they are parsed: each pass
     starts from a copy of the keys as sent. */
  if (!stralloc_copyb(&saved, p->s + start, p->len - start)) die_temp("allocate memory") ;
  ok = keys(p, &c, 0) >= 0 ;
  if (c.toomuch)
  {
    stralloc_free(&saved) ;
    tagged(tag, "NO [LIMIT] SEARCH: at most " STR(SEARCH_TEXT_MAX) " text keys, each at most " STR(SEARCH_NEEDLE_MAX) " bytes") ;
    return ;
  }
  if (!ok || !p_end(p)) { stralloc_free(&saved) ; bad(tag, "BAD syntax: SEARCH keys") ; return ; }
  putraw("* SEARCH") ;
  for (i = 0 ; i < b->n ; i++)
  {
    int r ;
    p->pos = start ;
    memcpy(p->s + start, saved.s, saved.len) ;
    c.i = i ; c.loaded = 0 ;
    r = keys(p, &c, 0) ;
    if (r > 0) { putraw(" ") ; putnum(uid ? b->m[i].uid : i + 1) ; }
  }
  putraw("\r\n") ;
  hcache_done(b) ;
  msg_trim() ;
  stralloc_free(&c.field) ;
  stralloc_free(&c.crlf) ;
  stralloc_free(&saved) ;
  tagged(tag, "OK SEARCH completed") ;
}
