/* rfc5322_addrlist.c: the addresses in an address field (RFC 5322 3.4,
   with the obsolete forms of 4.4). A small lexer (atoms, quoted strings,
   domain literals, specials; blanks and comments skipped) under a parser
   with one token of look-ahead. Nothing recurses: comments nest by a
   counter, groups do not nest. */
#include <errno.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include "rfc5322.h"

enum { T_END, T_ATOM, T_QSTR, T_DLIT, T_SPECIAL } ;

typedef struct tok_s tok ;
struct tok_s
{
  int type ;
  char c ;          /* T_SPECIAL: the character */
  size_t start ;    /* the token's bytes, quotes or brackets included */
  size_t end ;
  int spaced ;      /* blanks or a comment came before it */
} ;

typedef struct lex_s lex ;
struct lex_s
{
  char const *s ;
  size_t len ;
  size_t pos ;
  tok ahead ;
  int hasahead ;
  rfc5322_error *e ;
} ;

int rfc5322_isatext (unsigned char c)
{
  if (c >= 128) return 1 ;
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1 ;
  return c && !!strchr("!#$%&'*+-/=?^_`{|}~", c) ;
}

static int isctl (unsigned char c)
{
  return (c < 32 && c != '\t' && c != '\r' && c != '\n') || c == 127 ;
}

static int fail (lex *lx, char const *what, size_t pos)
{
  lx->e->what = what ;
  lx->e->pos = pos ;
  return 0 ;
}

/* Blanks, line ends and comments. */
static int skip (lex *lx, int *spaced)
{
  char const *s = lx->s ;
  while (lx->pos < lx->len)
  {
    unsigned char c = s[lx->pos] ;
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') { lx->pos++ ; *spaced = 1 ; continue ; }
    if (c != '(') break ;
    {
      size_t open = lx->pos, depth = 0 ;
      *spaced = 1 ;
      for (;;)
      {
        if (lx->pos >= lx->len) return fail(lx, "unbalanced parenthesis: comment not closed", open) ;
        c = s[lx->pos] ;
        if (!c) return fail(lx, "NUL byte in a comment", lx->pos) ;
        if (isctl(c)) return fail(lx, "control character in a comment", lx->pos) ;
        if (c == '\\')
        {
          if (++lx->pos >= lx->len) return fail(lx, "unbalanced parenthesis: comment not closed", open) ;
          c = s[lx->pos] ;
          if (!c || isctl(c)) return fail(lx, "control character in a comment", lx->pos) ;
        }
        else if (c == '(') depth++ ;
        else if (c == ')') { if (!--depth) { lx->pos++ ; break ; } }
        lx->pos++ ;
      }
    }
  }
  return 1 ;
}

/* The next token: 1 read, 0 error. */
static int next (lex *lx, tok *t)
{
  char const *s = lx->s ;
  unsigned char c ;
  if (lx->hasahead) { *t = lx->ahead ; lx->hasahead = 0 ; return 1 ; }
  t->spaced = 0 ;
  if (!skip(lx, &t->spaced)) return 0 ;
  t->start = lx->pos ;
  if (lx->pos >= lx->len) { t->type = T_END ; t->end = lx->pos ; return 1 ; }
  c = s[lx->pos] ;
  if (c == '"' || c == '[')
  {
    char close = c == '"' ? '"' : ']' ;
    t->type = c == '"' ? T_QSTR : T_DLIT ;
    lx->pos++ ;
    for (;;)
    {
      if (lx->pos >= lx->len)
        return fail(lx, close == '"' ? "unbalanced quote: quoted string not closed" : "unbalanced bracket: domain literal not closed", t->start) ;
      c = s[lx->pos] ;
      if (!c) return fail(lx, "NUL byte in an address", lx->pos) ;
      if (isctl(c)) return fail(lx, "control character in an address", lx->pos) ;
      if (c == '\\')
      {
        if (++lx->pos >= lx->len)
          return fail(lx, close == '"' ? "unbalanced quote: quoted string not closed" : "unbalanced bracket: domain literal not closed", t->start) ;
        c = s[lx->pos] ;
        if (!c || isctl(c) || c == '\r' || c == '\n') return fail(lx, "control character in an address", lx->pos) ;
      }
      else if (c == close) { lx->pos++ ; break ; }
      else if (close == ']' && c == '[') return fail(lx, "[ inside a domain literal", lx->pos) ;
      lx->pos++ ;
    }
    t->end = lx->pos ;
    return 1 ;
  }
  if (rfc5322_isatext(c))
  {
    t->type = T_ATOM ;
    while (lx->pos < lx->len && rfc5322_isatext((unsigned char)s[lx->pos])) lx->pos++ ;
    t->end = lx->pos ;
    return 1 ;
  }
  if (!c) return fail(lx, "NUL byte in an address", lx->pos) ;
  if (isctl(c)) return fail(lx, "control character in an address", lx->pos) ;
  if (c == ')') return fail(lx, "unbalanced parenthesis: ) with no (", lx->pos) ;
  if (c == ']') return fail(lx, "unbalanced bracket: ] with no [", lx->pos) ;
  if (c == '\\') return fail(lx, "backslash outside a quoted string", lx->pos) ;
  t->type = T_SPECIAL ;
  t->c = c ;
  t->end = ++lx->pos ;
  return 1 ;
}

static void unget (lex *lx, tok const *t)
{
  lx->ahead = *t ;
  lx->hasahead = 1 ;
}

static int isspecial (tok const *t, char c)
{
  return t->type == T_SPECIAL && t->c == c ;
}

/* Appends a token's text: a quoted string unquoted (folding removed), a
   domain literal without its blanks but with its quoted-pairs kept whole
   (backslash and character: the literal keeps RFC 5322 syntax, so what
   is written out parses again to the same thing), an atom as is. */
static int cattok (stralloc *sa, lex const *lx, tok const *t)
{
  char const *s = lx->s ;
  size_t i = t->start, end = t->end ;
  if (t->type == T_ATOM) return stralloc_catb(sa, s + i, end - i) ;
  if (t->type == T_SPECIAL) return stralloc_catb(sa, &t->c, 1) ;
  if (t->type == T_QSTR) { i++ ; end-- ; }
  for (; i < end ; i++)
  {
    char c = s[i] ;
    if (c == '\r' || c == '\n') continue ;
    if (t->type == T_DLIT && (c == ' ' || c == '\t')) continue ;
    if (c == '\\' && t->type == T_DLIT)
    {
      if (!stralloc_catb(sa, s + i, 2)) return 0 ;  /* next() saw both */
      i++ ;
      continue ;
    }
    if (c == '\\' && t->type == T_QSTR) c = s[++i] ;
    if (!stralloc_catb(sa, &c, 1)) return 0 ;
  }
  return 1 ;
}

typedef struct parse_s parse ;
struct parse_s
{
  lex lx ;
  stralloc *out ;
  size_t *n ;
  unsigned int flags ;
  stralloc phrase ;
  stralloc local ;
  stralloc group ;
  int nomem ;
} ;

#define NOMEM(p) ((p)->nomem = 1, 0)

/* domain = dot-atom / domain-literal / obs-domain; appended to out. */
static int domain (parse *p)
{
  tok t ;
  if (!next(&p->lx, &t)) return 0 ;
  if (t.type == T_DLIT) return cattok(p->out, &p->lx, &t) ? 1 : NOMEM(p) ;
  if (t.type != T_ATOM) return fail(&p->lx, "missing domain after @", t.start) ;
  for (;;)
  {
    if (!cattok(p->out, &p->lx, &t)) return NOMEM(p) ;
    if (!next(&p->lx, &t)) return 0 ;
    if (!isspecial(&t, '.')) { unget(&p->lx, &t) ; return 1 ; }
    if (!next(&p->lx, &t)) return 0 ;
    if (t.type != T_ATOM) return fail(&p->lx, "domain ends with a dot, or has two dots in a row", t.start) ;
    if (!stralloc_catb(p->out, ".", 1)) return NOMEM(p) ;
  }
}

/* Appends one mailbox record: group, display name, local part, then the
   domain from the input (or "" when bare). */
static int record_head (parse *p)
{
  if (!stralloc_catb(p->out, p->group.s, p->group.len) || !stralloc_0(p->out)
   || !stralloc_catb(p->out, p->phrase.s, p->phrase.len) || !stralloc_0(p->out)
   || !stralloc_catb(p->out, p->local.s, p->local.len) || !stralloc_0(p->out)) return NOMEM(p) ;
  return 1 ;
}

/* Inside <...>: [obs-route] local-part "@" domain ">". */
static int angle (parse *p, size_t open)
{
  tok t ;
  int want = 1 ;  /* 1: a word is expected, 0: a dot or @ */
  if (!next(&p->lx, &t)) return 0 ;
  if (isspecial(&t, '@'))
  {
    /* obs-route: "@" domain *("," ["@" domain]) ":" -- dropped */
    stralloc *save = p->out ;
    stralloc junk = STRALLOC_ZERO ;
    int r ;
    p->out = &junk ;
    for (;;)
    {
      r = domain(p) ;
      if (!r) break ;
      if (!next(&p->lx, &t)) { r = 0 ; break ; }
      while (isspecial(&t, ','))
        if (!next(&p->lx, &t)) { r = 0 ; break ; }
      if (!r) break ;
      if (isspecial(&t, ':')) break ;
      if (!isspecial(&t, '@')) { r = fail(&p->lx, "malformed route in <...>", t.start) ; break ; }
    }
    stralloc_free(&junk) ;
    p->out = save ;
    if (!r) return 0 ;
    if (!next(&p->lx, &t)) return 0 ;
  }
  if (isspecial(&t, '>')) return fail(&p->lx, "empty address <>", open) ;
  p->local.len = 0 ;
  for (;;)
  {
    if (t.type == T_ATOM || t.type == T_QSTR)
    {
      if (!want) return fail(&p->lx, "blank between two words of a local part", t.start) ;
      if (!cattok(&p->local, &p->lx, &t)) return NOMEM(p) ;
      want = 0 ;
    }
    else if (isspecial(&t, '.'))
    {
      if (want) return fail(&p->lx, "local part starts with a dot, or has two dots in a row", t.start) ;
      if (!stralloc_catb(&p->local, ".", 1)) return NOMEM(p) ;
      want = 1 ;
    }
    else if (isspecial(&t, '@'))
    {
      if (want) return fail(&p->lx, p->local.len ? "local part ends with a dot" : "missing local part before @", t.start) ;
      break ;
    }
    else if (t.type == T_END) return fail(&p->lx, "unbalanced angle bracket: < with no >", open) ;
    else if (isspecial(&t, '>')) return fail(&p->lx, "missing @domain in <...>", t.start) ;
    else return fail(&p->lx, "unexpected character in <...>", t.start) ;
    if (!next(&p->lx, &t)) return 0 ;
  }
  if (!record_head(p)) return 0 ;
  if (!domain(p)) return 0 ;
  if (!stralloc_0(p->out)) return NOMEM(p) ;
  if (!next(&p->lx, &t)) return 0 ;
  if (t.type == T_END) return fail(&p->lx, "unbalanced angle bracket: < with no >", open) ;
  if (!isspecial(&t, '>')) return fail(&p->lx, "unexpected character after the domain in <...>", t.start) ;
  (*p->n)++ ;
  return 1 ;
}

/* One member of a list: a mailbox, or (when ingroup is 0) a group.
   t is its first token. Returns 1 and leaves the token after it unread. */
/* About 95 lines, on purpose: RFC 5322 3.4's address grammar (mailbox,
   name-addr, group) read left to right in one place, as the RFC writes it. */
static int address (parse *p, tok t, int ingroup)
{
  int localok = 1, want = 1, words = 0 ;
  size_t first = t.start ;
  p->phrase.len = 0 ;
  p->local.len = 0 ;
  /* phrase / local part: words and dots */
  for (;;)
  {
    if (t.type == T_ATOM || t.type == T_QSTR)
    {
      if (words && t.spaced && !stralloc_catb(&p->phrase, " ", 1)) return NOMEM(p) ;
      if (!cattok(&p->phrase, &p->lx, &t)) return NOMEM(p) ;
      if (!want) localok = 0 ;
      if (localok && !cattok(&p->local, &p->lx, &t)) return NOMEM(p) ;
      want = 0 ;
      words++ ;
    }
    else if (isspecial(&t, '.'))
    {
      /* obs-phrase allows dots after the first word ("Joe Q. Public") */
      if (!words) return fail(&p->lx, "address starts with a dot", t.start) ;
      if (t.spaced && !stralloc_catb(&p->phrase, " ", 1)) return NOMEM(p) ;
      if (!stralloc_catb(&p->phrase, ".", 1)) return NOMEM(p) ;
      if (want) localok = 0 ;
      if (localok && !stralloc_catb(&p->local, ".", 1)) return NOMEM(p) ;
      want = 1 ;
      words++ ;
    }
    else break ;
    if (!next(&p->lx, &t)) return 0 ;
  }

  if (isspecial(&t, '<'))
  {
    size_t open = t.start ;
    /* the display name is the phrase; angle() fills local itself */
    return angle(p, open) ;
  }

  if (isspecial(&t, ':'))
  {
    if (ingroup) return fail(&p->lx, "group inside a group", t.start) ;
    if (!words) return fail(&p->lx, "group with no name", t.start) ;
    if (!stralloc_copyb(&p->group, p->phrase.s, p->phrase.len)) return NOMEM(p) ;
    for (;;)
    {
      if (!next(&p->lx, &t)) return 0 ;
      if (isspecial(&t, ';')) break ;
      if (isspecial(&t, ',')) continue ;
      if (t.type == T_END) return fail(&p->lx, "group not closed with ;", first) ;
      if (!address(p, t, 1)) return 0 ;
      if (!next(&p->lx, &t)) return 0 ;
      if (isspecial(&t, ';')) break ;
      if (t.type == T_END) return fail(&p->lx, "group not closed with ;", first) ;
      if (!isspecial(&t, ',')) return fail(&p->lx, "expected , or ; after an address in a group", t.start) ;
    }
    p->group.len = 0 ;
    return 1 ;
  }

  if (!words)
  {
    if (isspecial(&t, '@')) return fail(&p->lx, "missing local part before @", t.start) ;
    if (isspecial(&t, '>')) return fail(&p->lx, "unbalanced angle bracket: > with no <", t.start) ;
    if (isspecial(&t, ';')) return fail(&p->lx, "; outside a group", t.start) ;
    return fail(&p->lx, "unexpected character where an address should be", t.start) ;
  }

  if (isspecial(&t, '@'))
  {
    if (!localok) return fail(&p->lx, "invalid local part (a display name needs the address in <...>)", first) ;
    if (want) return fail(&p->lx, "local part ends with a dot", t.start) ;
    p->phrase.len = 0 ;
    if (!record_head(p)) return 0 ;
    if (!domain(p)) return 0 ;
    if (!stralloc_0(p->out)) return NOMEM(p) ;
    (*p->n)++ ;
    return 1 ;
  }

  if (t.type == T_END || isspecial(&t, ',') || isspecial(&t, ';'))
  {
    if (!(p->flags & RFC5322_BARE)) return fail(&p->lx, "missing @domain in address", first) ;
    if (!localok || want) return fail(&p->lx, "not an address (a display name needs the address in <...>)", first) ;
    unget(&p->lx, &t) ;
    p->phrase.len = 0 ;
    if (!record_head(p)) return 0 ;
    if (!stralloc_0(p->out)) return NOMEM(p) ;
    (*p->n)++ ;
    return 1 ;
  }

  if (isspecial(&t, '>')) return fail(&p->lx, "unbalanced angle bracket: > with no <", t.start) ;
  return fail(&p->lx, "unexpected character in an address", t.start) ;
}

int rfc5322_addrlist (char const *s, size_t len, unsigned int flags, stralloc *out, size_t *n, rfc5322_error *e)
{
  parse p = { .lx = { .s = s, .len = len, .pos = 0, .hasahead = 0, .e = e }, .out = out, .n = n, .flags = flags,
              .phrase = STRALLOC_ZERO, .local = STRALLOC_ZERO, .group = STRALLOC_ZERO, .nomem = 0 } ;
  tok t ;
  int r = 1 ;
  for (;;)
  {
    if (!next(&p.lx, &t)) { r = 0 ; break ; }
    if (t.type == T_END) break ;
    if (isspecial(&t, ',')) continue ;
    if (!address(&p, t, 0)) { r = 0 ; break ; }
    if (!next(&p.lx, &t)) { r = 0 ; break ; }
    if (t.type == T_END) break ;
    if (!isspecial(&t, ','))
    {
      r = fail(&p.lx, isspecial(&t, '>') ? "unbalanced angle bracket: > with no <"
                    : isspecial(&t, ';') ? "; outside a group"
                    : "expected , between addresses", t.start) ;
      break ;
    }
  }
  stralloc_free(&p.phrase) ;
  stralloc_free(&p.local) ;
  stralloc_free(&p.group) ;
  if (p.nomem) { errno = ENOMEM ; return -1 ; }
  return r ;
}

static int isdotatom (char const *s)
{
  int want = 1 ;
  for (; *s ; s++)
  {
    if (*s == '.') { if (want) return 0 ; want = 1 ; }
    else if (rfc5322_isatext((unsigned char)*s)) want = 0 ;
    else return 0 ;
  }
  return !want ;
}

static int catquoted (stralloc *sa, char const *s)
{
  if (!stralloc_catb(sa, "\"", 1)) return 0 ;
  for (; *s ; s++)
  {
    if ((*s == '"' || *s == '\\') && !stralloc_catb(sa, "\\", 1)) return 0 ;
    if (!stralloc_catb(sa, s, 1)) return 0 ;
  }
  return stralloc_catb(sa, "\"", 1) ;
}

int rfc5322_cat_addr (stralloc *sa, char const *local, char const *domain)
{
  if (!(isdotatom(local) ? stralloc_cats(sa, local) : catquoted(sa, local))) return 0 ;
  if (!*domain) return 1 ;
  return stralloc_catb(sa, "@", 1) && stralloc_cats(sa, domain) ;
}

int rfc5322_cat_phrase (stralloc *sa, char const *name)
{
  char const *s = name ;
  int plain = *s && *s != ' ' ;
  for (; *s && plain ; s++)
  {
    if (*s == ' ') { if (s[1] == ' ' || !s[1]) plain = 0 ; }
    else if (!rfc5322_isatext((unsigned char)*s)) plain = 0 ;
  }
  return plain ? stralloc_cats(sa, name) : catquoted(sa, name) ;
}
