/* mime.c: what FETCH needs from a message's MIME structure (RFC 2045,
   2046): ENVELOPE, BODYSTRUCTURE and the byte ranges of sections. The
   message is hostile input: every field is bounded by the message, nesting
   is followed to MIME_DEPTH levels only (deeper parts are described as
   application/octet-stream), a multipart has at most MIME_PARTS parts. */

#include <string.h>
#include <skalibs/bytestr.h>
#include <skalibs/stralloc.h>
#include "imapd.h"
#include "mime.h"
#include "rfc5322.h"

#define LINE_LIMIT 1000000

/* Where the header ends: the offset of the body (after the empty line),
   or n when there is no empty line. */
size_t header_end (char const *m, size_t n)
{
  size_t i = 0 ;
  while (i < n)
  {
    char const *nl = memchr(m + i, '\n', n - i) ;
    size_t l ;
    if (!nl) return n ;
    l = nl - (m + i) ;
    if (!l || (l == 1 && m[i] == '\r')) return nl + 1 - m ;
    i = nl + 1 - m ;
  }
  return n ;
}

/* The first field called field in the header m[0, hlen), its body
   unfolded (CR and LF dropped) into sa, leading blanks removed. Returns
   1, 0 when absent. */
int header_get (char const *m, size_t hlen, char const *field, stralloc *sa)
{
  size_t pos = 0 ;
  size_t flen = strlen(field) ;
  sa->len = 0 ;
  while (pos < hlen)
  {
    rfc5322_field f ;
    rfc5322_error e = RFC5322_ERROR_ZERO ;
    size_t save = pos ;
    int r = rfc5322_field_next(m, hlen, &pos, LINE_LIMIT, &f, &e) ;
    if (r == 0) return 0 ;
    if (r < 0)
    {
      /* skip the bad line */
      char const *nl = memchr(m + save, '\n', hlen - save) ;
      if (!nl) return 0 ;
      pos = nl + 1 - m ;
      continue ;
    }
    if (f.namelen == flen && rfc5322_field_is(m + f.start, f.namelen, field))
    {
      size_t i = f.body ;
      while (i < f.end && (m[i] == ' ' || m[i] == '\t')) i++ ;
      while (i < f.end)
      {
        size_t j = i ;
        while (j < f.end && m[j] != '\r' && m[j] != '\n') j++ ;
        if (j > i && !stralloc_catb(sa, m + i, j - i)) return 0 ;
        i = j + 1 ;
      }
      while (sa->len && (sa->s[sa->len-1] == ' ' || sa->s[sa->len-1] == '\t')) sa->len-- ;
      return 1 ;
    }
  }
  return 0 ;
}

/* A string, as IMAP writes one: quoted when it can be, else a literal
   (used by every file of postie-imapd; here, so that the fuzz target of
   this file checks it too). */
void putstring (char const *s, size_t n)
{
  size_t i ;
  int q = n < 1024 ;
  for (i = 0 ; q && i < n ; i++)
    if (s[i] == '\r' || s[i] == '\n' || !s[i] || (unsigned char)s[i] >= 0x80) q = 0 ;
  if (q)
  {
    put("\"", 1) ;
    for (i = 0 ; i < n ; i++)
    {
      if (s[i] == '"' || s[i] == '\\') put("\\", 1) ;
      put(s + i, 1) ;
    }
    put("\"", 1) ;
  }
  else
  {
    put("{", 1) ; putnum(n) ; put("}\r\n", 3) ;
    put(s, n) ;
  }
}

/* Content-Type and friends of one part */

static size_t skipws (char const *s, size_t i, size_t n)
{
  for (;;)
  {
    while (i < n && (s[i] == ' ' || s[i] == '\t')) i++ ;
    if (i < n && s[i] == '(')
    {
      unsigned int depth = 0 ;
      for (; i < n ; i++)
      {
        if (s[i] == '\\') { i++ ; continue ; }
        if (s[i] == '(') depth++ ;
        else if (s[i] == ')' && !--depth) { i++ ; break ; }
      }
      continue ;
    }
    return i ;
  }
}

static int istspecial (char c) { return !!strchr("()<>@,;:\\\"/[]?= \t", c) || (unsigned char)c < 0x21 ; }

/* A token or quoted string at s[i]: into out (value, NUL-terminated). */
static size_t getvalue (char const *s, size_t i, size_t n, stralloc *out)
{
  out->len = 0 ;
  if (i < n && s[i] == '"')
  {
    for (i++ ; i < n && s[i] != '"' ; i++)
    {
      if (s[i] == '\\' && i + 1 < n) i++ ;
      stralloc_catb(out, s + i, 1) ;
    }
    if (i < n) i++ ;
  }
  else
    for (; i < n && !istspecial(s[i]) ; i++) stralloc_catb(out, s + i, 1) ;
  stralloc_0(out) ;
  out->len-- ;
  return i ;
}

/* type/subtype; params: into ct */
void mime_ctype (char const *s, size_t n, mimetype *ct)
{
  stralloc v = STRALLOC_ZERO ;
  size_t i = skipws(s, 0, n) ;
  ct->type.len = ct->subtype.len = ct->params.len = 0 ;
  ct->nparams = 0 ;
  i = getvalue(s, i, n, &v) ;
  i = skipws(s, i, n) ;
  if (v.len && i < n && s[i] == '/')
  {
    stralloc_copyb(&ct->type, v.s, v.len) ;
    i = getvalue(s, skipws(s, i + 1, n), n, &v) ;
    stralloc_copyb(&ct->subtype, v.s, v.len) ;
  }
  case_lowerb(ct->type.s, ct->type.len) ;
  case_lowerb(ct->subtype.s, ct->subtype.len) ;
  /* NUL-terminated (not counted) */
  if (stralloc_0(&ct->type)) ct->type.len-- ;
  if (stralloc_0(&ct->subtype)) ct->subtype.len-- ;
  while (ct->nparams < 64)
  {
    size_t a ;
    i = skipws(s, i, n) ;
    if (i >= n || s[i] != ';') break ;
    i = skipws(s, i + 1, n) ;
    a = i ;
    i = getvalue(s, i, n, &v) ;
    if (!v.len || i == a) break ;
    case_lowerb(v.s, v.len) ;
    stralloc_catb(&ct->params, v.s, v.len + 1) ;
    i = skipws(s, i, n) ;
    if (i >= n || s[i] != '=') { ct->params.len -= v.len + 1 ; break ; }
    i = getvalue(s, skipws(s, i + 1, n), n, &v) ;
    stralloc_catb(&ct->params, v.s, v.len + 1) ;
    ct->nparams++ ;
  }
  stralloc_free(&v) ;
}

char const *mime_param (mimetype const *ct, char const *name)
{
  size_t i = 0, k ;
  for (k = 0 ; k < ct->nparams ; k++)
  {
    char const *nm = ct->params.s + i ;
    char const *val = nm + strlen(nm) + 1 ;
    if (!strcmp(nm, name)) return val ;
    i = val + strlen(val) + 1 - ct->params.s ;
  }
  return 0 ;
}

void mime_free (mimetype *ct)
{
  stralloc_free(&ct->type) ; stralloc_free(&ct->subtype) ; stralloc_free(&ct->params) ;
}

/* After "--boundary" on a line: "--" or nothing, then only blanks (and
   the CR). Returns 1 when the line is a delimiter (*last for "--"). */
static int delimiter_end (char const *s, size_t n, int *last)
{
  size_t i = 0 ;
  *last = 0 ;
  if (n >= 2 && s[0] == '-' && s[1] == '-') { *last = 1 ; i = 2 ; }
  for (; i < n ; i++) if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0 ;
  return 1 ;
}

/* The parts of a multipart body m[0, n) with boundary b: their offsets
   into starts[] and lengths into lens[] (at most max). Returns how many. */
size_t mime_parts (char const *m, size_t n, char const *b, size_t *starts, size_t *lens, size_t max)
{
  size_t bl = strlen(b), i = 0, k = 0 ;
  size_t cur = (size_t)-1 ;
  if (!bl || bl > 200) return 0 ;
  while (i < n)
  {
    char const *nl = memchr(m + i, '\n', n - i) ;
    size_t e = nl ? (size_t)(nl - m) : n ;
    int last = 0 ;
    if (e - i >= bl + 2 && m[i] == '-' && m[i+1] == '-' && !memcmp(m + i + 2, b, bl) && delimiter_end(m + i + 2 + bl, e - i - 2 - bl, &last))
    {
      if (cur != (size_t)-1 && k < max)
      {
        /* the CRLF before the delimiter belongs to it */
        size_t end = i ;
        if (end > cur && m[end-1] == '\n') end-- ;
        if (end > cur && m[end-1] == '\r') end-- ;
        starts[k] = cur ; lens[k] = end - cur ; k++ ;
      }
      cur = nl ? e + 1 : n ;
      if (last || k >= max) return k ;
    }
    i = nl ? e + 1 : n ;
  }
  if (cur != (size_t)-1 && k < max && cur <= n) { starts[k] = cur ; lens[k] = n - cur ; k++ ; }
  return k ;
}

static size_t count_lines (char const *m, size_t n)
{
  size_t c = 0 ;
  for (size_t i = 0 ; i < n ; i++) if (m[i] == '\n') c++ ;
  if (n && m[n-1] != '\n') c++ ;
  return c ;
}

static void put_field_nstring (char const *m, size_t hlen, char const *field)
{
  stralloc v = STRALLOC_ZERO ;
  if (header_get(m, hlen, field, &v) && v.len) putstring(v.s, v.len) ;
  else putraw("NIL") ;
  stralloc_free(&v) ;
}

static void put_addresses (char const *m, size_t hlen, char const *field, char const *fallback)
{
  stralloc v = STRALLOC_ZERO, out = STRALLOC_ZERO ;
  rfc5322_error e = RFC5322_ERROR_ZERO ;
  size_t n = 0, i, pos = 0 ;
  int have = header_get(m, hlen, field, &v) ;
  if (!have && fallback) have = header_get(m, hlen, fallback, &v) ;
  if (!have || !v.len) { putraw("NIL") ; goto end ; }
  if (rfc5322_addrlist(v.s, v.len, RFC5322_BARE, &out, &n, &e) < 0) n = 0 ;
  if (!n) { putraw("NIL") ; goto end ; }
  putraw("(") ;
  for (i = 0 ; i < n && pos < out.len ; i++)
  {
    char const *grp = out.s + pos ;
    char const *name = grp + strlen(grp) + 1 ;
    char const *local = name + strlen(name) + 1 ;
    char const *domain = local + strlen(local) + 1 ;
    pos = domain + strlen(domain) + 1 - out.s ;
    putraw("(") ;
    if (*name) putstring(name, strlen(name)) ; else putraw("NIL") ;
    putraw(" NIL ") ;
    putstring(local, strlen(local)) ;
    putraw(" ") ;
    if (*domain) putstring(domain, strlen(domain)) ; else putraw("NIL") ;
    putraw(")") ;
  }
  putraw(")") ;
 end:
  stralloc_free(&v) ; stralloc_free(&out) ;
}

void put_envelope (char const *m, size_t n)
{
  size_t h = header_end(m, n) ;
  putraw("(") ;
  put_field_nstring(m, h, "Date") ; putraw(" ") ;
  put_field_nstring(m, h, "Subject") ; putraw(" ") ;
  put_addresses(m, h, "From", 0) ; putraw(" ") ;
  put_addresses(m, h, "Sender", "From") ; putraw(" ") ;
  put_addresses(m, h, "Reply-To", "From") ; putraw(" ") ;
  put_addresses(m, h, "To", 0) ; putraw(" ") ;
  put_addresses(m, h, "Cc", 0) ; putraw(" ") ;
  put_addresses(m, h, "Bcc", 0) ; putraw(" ") ;
  put_field_nstring(m, h, "In-Reply-To") ; putraw(" ") ;
  put_field_nstring(m, h, "Message-ID") ;
  putraw(")") ;
}

static void put_params (mimetype const *ct, int charset_default)
{
  size_t i = 0, k ;
  if (!ct->nparams)
  {
    putraw(charset_default ? "(\"charset\" \"us-ascii\")" : "NIL") ;
    return ;
  }
  putraw("(") ;
  for (k = 0 ; k < ct->nparams ; k++)
  {
    char const *nm = ct->params.s + i ;
    char const *val = nm + strlen(nm) + 1 ;
    if (k) putraw(" ") ;
    putstring(nm, strlen(nm)) ; putraw(" ") ; putstring(val, strlen(val)) ;
    i = val + strlen(val) + 1 - ct->params.s ;
  }
  putraw(")") ;
}

static void put_disposition (char const *m, size_t h)
{
  stralloc v = STRALLOC_ZERO ;
  mimetype d = MIMETYPE_ZERO ;
  if (!header_get(m, h, "Content-Disposition", &v) || !v.len) { putraw("NIL") ; stralloc_free(&v) ; return ; }
  /* "attachment; filename=x": parsed as a type without a subtype */
  {
    stralloc t = STRALLOC_ZERO ;
    size_t i = getvalue(v.s, skipws(v.s, 0, v.len), v.len, &t) ;
    case_lowerb(t.s, t.len) ;
    if (!t.len) { putraw("NIL") ; stralloc_free(&t) ; stralloc_free(&v) ; return ; }
    putraw("(") ; putstring(t.s, t.len) ; putraw(" ") ;
    /* parameters: reuse the Content-Type parser on "x/x" + the rest */
    {
      stralloc fake = STRALLOC_ZERO ;
      stralloc_cats(&fake, "x/x") ;
      stralloc_catb(&fake, v.s + i, v.len - i) ;
      mime_ctype(fake.s, fake.len, &d) ;
      stralloc_free(&fake) ;
    }
    put_params(&d, 0) ;
    putraw(")") ;
    stralloc_free(&t) ;
  }
  mime_free(&d) ;
  stralloc_free(&v) ;
}

static void put_body (char const *m, size_t n, int ext, unsigned int depth, int digest)
{
  size_t h = header_end(m, n) ;
  stralloc v = STRALLOC_ZERO ;
  mimetype ct = MIMETYPE_ZERO ;
  if (header_get(m, h, "Content-Type", &v)) mime_ctype(v.s, v.len, &ct) ;
  if (!ct.type.len || !ct.subtype.len)
  {
    stralloc_copys(&ct.type, digest ? "message" : "text") ;
    stralloc_copys(&ct.subtype, digest ? "rfc822" : "plain") ;
  }
  stralloc_0(&ct.type) ; ct.type.len-- ;
  if (!strcmp(ct.type.s, "multipart") && depth >= MIME_DEPTH)
  {
    stralloc_copys(&ct.type, "application") ; stralloc_copys(&ct.subtype, "octet-stream") ;
  }
  stralloc_0(&ct.type) ; ct.type.len-- ;
  stralloc_0(&ct.subtype) ; ct.subtype.len-- ;
  putraw("(") ;
  if (!strcmp(ct.type.s, "multipart"))
  {
    char const *b = mime_param(&ct, "boundary") ;
    size_t starts[MIME_PARTS], lens[MIME_PARTS], k = 0, j ;
    if (b) k = mime_parts(m + h, n - h, b, starts, lens, MIME_PARTS) ;
    if (!k) { starts[0] = 0 ; lens[0] = 0 ; k = 1 ; h = n ; }
    for (j = 0 ; j < k ; j++)
      put_body(m + h + starts[j], lens[j], ext, depth + 1, !strcmp(ct.subtype.s, "digest")) ;
    putraw(" ") ;
    putstring(ct.subtype.s, ct.subtype.len) ;
    if (ext)
    {
      putraw(" ") ; put_params(&ct, 0) ;
      putraw(" ") ; put_disposition(m, h <= n ? header_end(m, n) : n) ;
      putraw(" NIL NIL") ;
    }
  }
  else
  {
    int text = !strcmp(ct.type.s, "text") ;
    int rfc822 = !strcmp(ct.type.s, "message") && !strcmp(ct.subtype.s, "rfc822") && depth < MIME_DEPTH ;
    putstring(ct.type.s, ct.type.len) ; putraw(" ") ;
    putstring(ct.subtype.s, ct.subtype.len) ; putraw(" ") ;
    put_params(&ct, text) ; putraw(" ") ;
    put_field_nstring(m, h, "Content-ID") ; putraw(" ") ;
    put_field_nstring(m, h, "Content-Description") ; putraw(" ") ;
    if (header_get(m, h, "Content-Transfer-Encoding", &v) && v.len)
    {
      case_lowerb(v.s, v.len) ;
      putstring(v.s, v.len) ;
    }
    else putraw("\"7bit\"") ;
    putraw(" ") ; putnum(n - h) ;
    if (rfc822)
    {
      putraw(" ") ; put_envelope(m + h, n - h) ;
      putraw(" ") ; put_body(m + h, n - h, ext, depth + 1, 0) ;
      putraw(" ") ; putnum(count_lines(m + h, n - h)) ;
    }
    else if (text) { putraw(" ") ; putnum(count_lines(m + h, n - h)) ; }
    if (ext)
    {
      putraw(" NIL ") ; put_disposition(m, h) ; putraw(" NIL NIL") ;
    }
  }
  putraw(")") ;
  mime_free(&ct) ;
  stralloc_free(&v) ;
}

void put_bodystructure (char const *m, size_t n, int ext)
{
  put_body(m, n, ext, 0, 0) ;
}

/* The part of m[0, n) named by the section numbers sec[0..nsec): its
   whole (header and body) at *start, *len; *ismsg when the part is a
   message/rfc822 (or the message itself, nsec 0). Returns 1, or 0 when
   there is no such part. */
int mime_section (char const *m, size_t n, unsigned int const *sec, unsigned int nsec, size_t *start, size_t *len)
{
  size_t off = 0 ;
  unsigned int d ;
  int inmsg = 1 ;  /* m[off, off+n) is a message: its body holds the parts */
  if (nsec > MIME_DEPTH) return 0 ;
  for (d = 0 ; d < nsec ; d++)
  {
    size_t h = header_end(m + off, n) ;
    stralloc v = STRALLOC_ZERO ;
    mimetype ct = MIMETYPE_ZERO ;
    size_t starts[MIME_PARTS], lens[MIME_PARTS], k = 0 ;
    char const *b ;
    (void)inmsg ;
    if (header_get(m + off, h, "Content-Type", &v)) mime_ctype(v.s, v.len, &ct) ;
    stralloc_0(&ct.type) ;
    if (!strcmp(ct.type.s, "message") && ct.subtype.len == 6 && !memcmp(ct.subtype.s, "rfc822", 6) && d)
    {
      /* a message/rfc822 part: its number addresses the inner message */
      off += h ; n -= h ;
      h = header_end(m + off, n) ;
      stralloc_free(&v) ; mime_free(&ct) ;
      if (header_get(m + off, h, "Content-Type", &v)) mime_ctype(v.s, v.len, &ct) ;
      stralloc_0(&ct.type) ;
    }
    if (strcmp(ct.type.s, "multipart"))
    {
      stralloc_free(&v) ; mime_free(&ct) ;
      /* a single-part body: its part 1 is its body */
      if (sec[d] != 1) return 0 ;
      if (d + 1 == nsec) { *start = off + h ; *len = n - h ; return 2 ; }
      off += h ; n -= h ;
      continue ;
    }
    b = mime_param(&ct, "boundary") ;
    if (b) k = mime_parts(m + off + h, n - h, b, starts, lens, MIME_PARTS) ;
    stralloc_free(&v) ; mime_free(&ct) ;
    if (!sec[d] || sec[d] > k) return 0 ;
    off += h + starts[sec[d]-1] ;
    n = lens[sec[d]-1] ;
  }
  *start = off ; *len = n ;
  return 1 ;
}
