/* folders.c: the commands on folders as a whole: LIST and LSUB, STATUS,
   CREATE, DELETE, RENAME, SUBSCRIBE and UNSUBSCRIBE. */

#include <errno.h>
#include <stdio.h>  /* rename */
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>
#include <skalibs/bytestr.h>
#include <skalibs/djbunix.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include "cmd.h"
#include "imapd.h"

/* Folder listing */

static char const *special_use (char const *name)
{
  if (!strcmp(name, "Sent")) return "\\Sent" ;
  if (!strcmp(name, "Drafts")) return "\\Drafts" ;
  if (!strcmp(name, "Trash")) return "\\Trash" ;
  if (!strcmp(name, "Junk")) return "\\Junk" ;
  return 0 ;
}

/* IMAP LIST pattern: '*' any, '%' any but the separator '.'. One row of
   a table over pattern x name, kept up as the pattern is read: row[j]
   says whether the pattern so far matches the name's first j bytes.
   Time: pattern length x name length at most (a row with nothing left
   in it ends the look), no recursion. A name is a directory entry's, at
   most 255 bytes. */
static int match (char const *pat, size_t pl, char const *s, size_t sl)
{
  unsigned char row[256] ;
  size_t i, j ;
  if (sl >= sizeof row) return 0 ;
  memset(row, 0, sl + 1) ;
  row[0] = 1 ;
  for (i = 0 ; i < pl ; i++)
  {
    int any = 0 ;
    if (pat[i] == '*')
    {
      for (j = 1 ; j <= sl ; j++) row[j] |= row[j-1] ;
      while (i + 1 < pl && (pat[i+1] == '*' || pat[i+1] == '%')) i++ ;
      any = 1 ;
    }
    else if (pat[i] == '%')
    {
      for (j = 1 ; j <= sl ; j++) if (row[j-1] && s[j-1] != '.') row[j] = 1 ;
      any = 1 ;
    }
    else
    {
      for (j = sl ; j ; j--) { row[j] = row[j-1] && s[j-1] == pat[i] ; any |= row[j] ; }
      row[0] = 0 ;
    }
    if (!any) return 0 ;
  }
  return row[sl] ;
}

/* A sorted list of names (NUL-terminated, in one stralloc), searched by
   bisection: the folders of the Maildir, the subscriptions. */
typedef struct names_s names ;
struct names_s
{
  stralloc s ;
  size_t *off ;
  size_t n ;
} ;
#define NAMES_ZERO { STRALLOC_ZERO, 0, 0 }

static char const *sortbase ;
static int cmpoff (void const *a, void const *b)
{
  return strcmp(sortbase + *(size_t const *)a, sortbase + *(size_t const *)b) ;
}

static int names_add (names *l, char const *s, size_t n)
{
  return stralloc_catb(&l->s, s, n) && stralloc_0(&l->s) ;
}

/* offsets of every name, sorted */
static int names_sort (names *l)
{
  size_t i, k = 0 ;
  for (i = 0 ; i < l->s.len ; i++) if (!l->s.s[i]) k++ ;
  l->off = malloc((k + 1) * sizeof(size_t)) ;
  if (!l->off) return 0 ;
  l->n = 0 ;
  for (i = 0 ; i < l->s.len ; i += strlen(l->s.s + i) + 1) l->off[l->n++] = i ;
  sortbase = l->s.s ;
  qsort(l->off, l->n, sizeof(size_t), &cmpoff) ;
  /* one entry a name: postie-subscriptions may repeat a line */
  for (i = k = 0 ; i < l->n ; i++)
    if (!k || strcmp(l->s.s + l->off[k - 1], l->s.s + l->off[i])) l->off[k++] = l->off[i] ;
  l->n = k ;
  return 1 ;
}

static void names_free (names *l) { stralloc_free(&l->s) ; free(l->off) ; l->off = 0 ; l->n = 0 ; }

/* the index of the first name not below s (first n bytes of s) */
static size_t names_lower (names const *l, char const *s, size_t n)
{
  size_t lo = 0, hi = l->n ;
  while (lo < hi)
  {
    size_t mid = (lo + hi) / 2 ;
    char const *x = l->s.s + l->off[mid] ;
    size_t xl = strlen(x) ;
    int c = memcmp(x, s, xl < n ? xl : n) ;
    if (!c) c = (xl > n) - (xl < n) ;
    if (c < 0) lo = mid + 1 ; else hi = mid ;
  }
  return lo ;
}

static int names_has (names const *l, char const *s, size_t n)
{
  size_t i = names_lower(l, s, n) ;
  return i < l->n && strlen(l->s.s + l->off[i]) == n && !memcmp(l->s.s + l->off[i], s, n) ;
}

/* some name begins with s "." */
static int names_haschild (names const *l, char const *s, size_t n)
{
  char buf[300] ;
  size_t i ;
  if (n + 1 > sizeof buf) return 0 ;
  memcpy(buf, s, n) ; buf[n] = '.' ;
  i = names_lower(l, buf, n + 1) ;
  return i < l->n && !strncmp(l->s.s + l->off[i], buf, n + 1) ;
}

/* The folders: INBOX and every .Name directory with cur/ */
static int folders_read (names *l)
{
  DIR *d = opendir(".") ;
  if (!names_add(l, "INBOX", 5)) return 0 ;
  if (!d) return 0 ;
  for (;;)
  {
    struct dirent *de ;
    errno = 0 ;
    de = readdir(d) ;
    if (!de) break ;
    if (de->d_name[0] != '.' || !de->d_name[1] || de->d_name[1] == '.') continue ;
    if (!isdir(de->d_name)) continue ;
    if (!names_add(l, de->d_name + 1, strlen(de->d_name + 1))) { closedir(d) ; return 0 ; }
  }
  closedir(d) ;
  return !errno && names_sort(l) ;
}

/* postie-subscriptions, one name a line */
static int subs_read (names *l)
{
  stralloc sa = STRALLOC_ZERO ;
  size_t i = 0 ;
  if (!openslurpclose(&sa, "postie-subscriptions") && errno != ENOENT) return 0 ;
  while (i < sa.len)
  {
    char *e = memchr(sa.s + i, '\n', sa.len - i) ;
    size_t n = e ? (size_t)(e - sa.s) - i : sa.len - i ;
    if (n && !memchr(sa.s + i, 0, n) && !names_add(l, sa.s + i, n)) { stralloc_free(&sa) ; return 0 ; }
    i += n + 1 ;
  }
  stralloc_free(&sa) ;
  return names_sort(l) ;
}

/* STATUS items, in p up to ')': checks them (dry, b null) or writes
   them for the folder b. Returns 1, 0 for an unknown item. */
static int status_items (parser *p, box const *b)
{
  size_t i, unseen = 0 ;
  int first = 1 ;
  if (b) for (i = 0 ; i < b->n ; i++) if (!(b->m[i].flags & FL_SEEN)) unseen++ ;
  for (;;)
  {
    char const *a ;
    size_t l = p_atom(p, &a) ;
    if (!l) return 1 ;
    if (b && !first) putraw(" ") ;
    first = 0 ;
    if (l == 8 && !case_diffb(a, 8, "MESSAGES")) { if (b) { putraw("MESSAGES ") ; putnum(b->n) ; } }
    else if (l == 6 && !case_diffb(a, 6, "RECENT")) { if (b) putraw("RECENT 0") ; }
    else if (l == 7 && !case_diffb(a, 7, "UIDNEXT")) { if (b) { putraw("UIDNEXT ") ; putnum(b->uidnext) ; } }
    else if (l == 11 && !case_diffb(a, 11, "UIDVALIDITY")) { if (b) { putraw("UIDVALIDITY ") ; putnum(b->uidvalidity) ; } }
    else if (l == 6 && !case_diffb(a, 6, "UNSEEN")) { if (b) { putraw("UNSEEN ") ; putnum(unseen) ; } }
    else return 0 ;
    if (!p_sp(p)) return 1 ;
  }
}

#define LS_SUBSCRIBED 1    /* selection */
#define LS_SPECIALUSE 2
#define LR_SUBSCRIBED 1    /* return */
#define LR_STATUS 2

/* the atoms of "(A B ...)" at p: each given to f; 0 on bad syntax or
   an option f refuses */
static int optlist (parser *p, int (*f)(char const *, size_t, int *, parser *), int *set)
{
  if (!p_char(p, '(')) return 0 ;
  if (p_char(p, ')')) return 1 ;
  for (;;)
  {
    char const *a ;
    size_t l = p_atom(p, &a) ;
    if (!l || !(*f)(a, l, set, p)) return 0 ;
    if (!p_sp(p)) break ;
  }
  return p_char(p, ')') ;
}

static int selopt (char const *a, size_t l, int *set, parser *p)
{
  (void)p ;
  if (l == 10 && !case_diffb(a, 10, "SUBSCRIBED")) *set |= LS_SUBSCRIBED ;
  else if (l == 11 && !case_diffb(a, 11, "SPECIAL-USE")) *set |= LS_SPECIALUSE ;
  else if (l == 6 && !case_diffb(a, 6, "REMOTE")) ;  /* none here */
  else return 0 ;  /* RECURSIVEMATCH and the unknown */
  return 1 ;
}

static size_t status_at ;  /* where RETURN (STATUS (...)) items begin */
static int retopt (char const *a, size_t l, int *set, parser *p)
{
  if (l == 10 && !case_diffb(a, 10, "SUBSCRIBED")) *set |= LR_SUBSCRIBED ;
  else if ((l == 8 && !case_diffb(a, 8, "CHILDREN")) || (l == 11 && !case_diffb(a, 11, "SPECIAL-USE"))) ;  /* always given */
  else if (l == 6 && !case_diffb(a, 6, "STATUS"))
  {
    if (!p_sp(p) || !p_char(p, '(')) return 0 ;
    status_at = p->pos ;
    if (!status_items(p, 0) || !p_char(p, ')')) return 0 ;
    *set |= LR_STATUS ;
  }
  else return 0 ;
  return 1 ;
}

/* a list-mailbox: a string, or an atom that may hold % and * */
static int p_listmailbox (parser *p, char **s, size_t *n)
{
  size_t st = p->pos ;
  if (p->pos < p->len && (p->s[p->pos] == '"' || p->s[p->pos] == '{')) return p_string(p, s, n) ;
  while (p->pos < p->len && p->s[p->pos] != ' ' && p->s[p->pos] != '(' && p->s[p->pos] != ')'
         && p->s[p->pos] != '"' && (unsigned char)p->s[p->pos] > 0x20) p->pos++ ;
  *s = p->s + st ; *n = p->pos - st ;
  return *n > 0 ;
}

#define PATS_MAX 16

/* LIST's (or LSUB's) arguments: the reference, the patterns (np of
   them), the selection and return options. 0, or the BAD reply. */
static char const *list_args (parser *p, int lsub, char **ref, size_t *rl, char **pat, size_t *pl, size_t *np, int *sel, int *ret)
{
  if (!p_sp(p)) return "BAD syntax: LIST reference pattern" ;
  if (!lsub && p->pos < p->len && p->s[p->pos] == '(')
  {
    if (!optlist(p, &selopt, sel) || !p_sp(p)) return "BAD syntax or unsupported LIST selection option" ;
  }
  if (!p_astring(p, ref, rl) || !p_sp(p)) return "BAD syntax: LIST reference pattern" ;
  if (!lsub && p_char(p, '('))
  {
    for (;;)
    {
      if (*np >= PATS_MAX || !p_listmailbox(p, &pat[*np], &pl[*np])) return "BAD syntax: LIST patterns" ;
      (*np)++ ;
      if (!p_sp(p)) break ;
    }
    if (!p_char(p, ')')) return "BAD syntax: LIST patterns" ;
  }
  else
  {
    if (p->pos < p->len && (p->s[p->pos] == '"' || p->s[p->pos] == '{')) { if (!p_string(p, &pat[0], &pl[0])) return "BAD syntax: LIST pattern" ; }
    else if (!p_listmailbox(p, &pat[0], &pl[0])) return "BAD syntax: LIST pattern" ;
    *np = 1 ;
  }
  if (!lsub && p_sp(p))
  {
    char const *a ;
    size_t l = p_atom(p, &a) ;
    if (!(l == 6 && !case_diffb(a, 6, "RETURN")) || !p_sp(p) || !optlist(p, &retopt, ret)) return "BAD syntax or unsupported LIST return option" ;
  }
  if (!p_end(p)) return "BAD syntax: LIST reference pattern" ;
  return 0 ;
}

/* LIST, with the LIST-EXTENDED (RFC 5258) selection options SUBSCRIBED,
   SPECIAL-USE (RFC 6154), REMOTE, several patterns, the return options
   SUBSCRIBED, CHILDREN, SPECIAL-USE and STATUS (LIST-STATUS, RFC 5819);
   and LSUB. The folders are read once, sorted: \HasChildren by
   bisection, whatever their number. About 85 lines: the answer (the
   arguments are list_args'). */
void cmd_list (parser *p, char const *tag, int lsub)
{
  char *ref, *pat[PATS_MAX] ;
  size_t rl, pl[PATS_MAX], np = 0, i, k ;
  int sel = 0, ret = 0 ;
  names fl = NAMES_ZERO, sl = NAMES_ZERO ;
  stralloc full = STRALLOC_ZERO ;
  {
    char const *why = list_args(p, lsub, &ref, &rl, pat, pl, &np, &sel, &ret) ;
    if (why) { bad(tag, why) ; return ; }
  }
  if (sel & LS_SUBSCRIBED) ret |= LR_SUBSCRIBED ;
  if (np == 1 && !pl[0] && !sel)
  {
    putraw(lsub ? "* LSUB (\\Noselect) \".\" \"\"\r\n" : "* LIST (\\Noselect) \".\" \"\"\r\n") ;
    tagged(tag, lsub ? "OK LSUB completed" : "OK LIST completed") ;
    return ;
  }
  if (!folders_read(&fl) || ((lsub || ret & LR_SUBSCRIBED) && !subs_read(&sl)))
  {
    names_free(&fl) ; names_free(&sl) ;
    strerr_warnwusys("read the folders or the subscriptions") ;
    tagged(tag, "NO [SERVERBUG] cannot read the folders") ;
    return ;
  }
  /* candidates: the folders, and with SUBSCRIBED selection the
     subscriptions too (those that do not exist are \NonExistent) */
  for (k = 0 ; k < 2 ; k++)
  {
    names const *l = k ? &sl : &fl ;
    if (k && !(lsub || (sel & LS_SUBSCRIBED))) break ;
    for (i = 0 ; i < l->n ; i++)
    {
      char const *nm = l->s.s + l->off[i] ;
      size_t nl = strlen(nm), j ;
      int exists = !k || names_has(&fl, nm, nl), sub, m = 0 ;
      char const *su = special_use(nm) ;
      if (k && exists) continue ;  /* listed with the folders */
      for (j = 0 ; j < np && !m ; j++)
      {
        full.len = 0 ;
        if (!stralloc_catb(&full, ref, rl) || !stralloc_catb(&full, pat[j], pl[j])) die_temp("allocate memory") ;
        m = match(full.s, full.len, nm, nl) || (nl == 5 && !strcmp(nm, "INBOX") && full.len == 5 && !case_diffb(full.s, 5, "INBOX")) ;
      }
      if (!m) continue ;
      sub = (lsub || (ret & LR_SUBSCRIBED)) && names_has(&sl, nm, nl) ;
      if ((lsub || (sel & LS_SUBSCRIBED)) && !sub) continue ;
      if ((sel & LS_SPECIALUSE) && !su) continue ;
      if (lsub)
      {
        putraw("* LSUB () \".\" ") ;
        if (!strcmp(nm, "INBOX")) putraw("INBOX") ; else putstring(nm, nl) ;
        putraw("\r\n") ;
        continue ;
      }
      putraw("* LIST (") ;
      if (!exists) putraw("\\NonExistent") ;
      else putraw(names_haschild(&fl, nm, nl) ? "\\HasChildren" : "\\HasNoChildren") ;
      if (sub) putraw(" \\Subscribed") ;
      if (su && exists) { putraw(" ") ; putraw(su) ; }
      putraw(") \".\" ") ;
      if (!strcmp(nm, "INBOX")) putraw("INBOX") ; else putstring(nm, nl) ;
      putraw("\r\n") ;
      if ((ret & LR_STATUS) && exists)
      {
        char dir[512] ;
        box b ;
        parser q = { .s = p->s, .len = p->len, .pos = status_at } ;
        memset(&b, 0, sizeof b) ;
        if (!box_name_to_dir(nm, nl, dir, sizeof dir)) continue ;
        strcpy(b.dir, dir) ;
        b.lazynames = 1 ;  /* STATUS reads no name */
        if (!box_sync(&b, 1)) continue ;
        putraw("* STATUS ") ;
        if (!strcmp(nm, "INBOX")) putraw("INBOX") ; else putstring(nm, nl) ;
        putraw(" (") ;
        status_items(&q, &b) ;
        putraw(")\r\n") ;
        box_free(&b) ;
      }
    }
  }
  names_free(&fl) ; names_free(&sl) ;
  stralloc_free(&full) ;
  tagged(tag, lsub ? "OK LSUB completed" : "OK LIST completed") ;
}

void cmd_status (parser *p, char const *tag)
{
  char dir[512] ;
  char *name ; size_t nlen ;
  box b ;
  size_t st ;
  int r = p_sp(p) ? getbox(p, dir, sizeof dir, &name, &nlen) : 0 ;
  if (!r || !p_sp(p) || !p_char(p, '(')) { bad(tag, "BAD syntax: STATUS folder (items)") ; return ; }
  st = p->pos ;
  if (!status_items(p, 0)) { bad(tag, "BAD unknown STATUS item") ; return ; }
  if (!p_char(p, ')') || !p_end(p)) { bad(tag, "BAD syntax: STATUS folder (items)") ; return ; }
  if (r < 0 || !isdir(dir)) { tagged(tag, "NO [NONEXISTENT] no such folder") ; return ; }
  memset(&b, 0, sizeof b) ;
  strcpy(b.dir, dir) ;
  b.lazynames = 1 ;  /* STATUS reads no name */
  if (!box_sync(&b, 1)) { tagged(tag, "NO [UNAVAILABLE] cannot read the folder") ; return ; }
  putraw("* STATUS ") ; putstring(name, nlen) ; putraw(" (") ;
  p->pos = st ;
  status_items(p, &b) ;
  putraw(")\r\n") ;
  box_free(&b) ;
  tagged(tag, "OK STATUS completed") ;
}

void cmd_create (parser *p, char const *tag)
{
  char dir[512] ;
  char *name ; size_t nlen ;
  int r = p_sp(p) ? getbox(p, dir, sizeof dir, &name, &nlen) : 0 ;
  if (!r || !p_end(p)) { bad(tag, "BAD syntax: CREATE folder") ; return ; }
  if (nlen && name[nlen-1] == '.') { nlen-- ; r = box_name_to_dir(name, nlen, dir, sizeof dir) ? 1 : -1 ; }
  if (r < 0 || !strcmp(dir, ".")) { tagged(tag, "NO [CANNOT] not a folder name here") ; return ; }
  if (isdir(dir)) { tagged(tag, "NO [ALREADYEXISTS] folder exists") ; return ; }
  if (!box_create(dir)) { strerr_warnwusys("create ", dir) ; tagged(tag, "NO [SERVERBUG] cannot create the folder") ; return ; }
  tagged(tag, "OK CREATE completed") ;
}

/* Remove a folder directory: its three subdirectories' files, then it.
   cur last: a folder is a directory with cur/, so one that a crash
   left half-deleted still shows in LIST and a second DELETE finishes it
   (a COPY into it meanwhile, with no tmp/, answers NO). */
static int rmfolder (char const *dir)
{
  static char const *const subs[3] = { "tmp", "new", "cur" } ;
  stralloc pth = STRALLOC_ZERO ;
  unsigned int k ;
  int ok = 1 ;
  for (k = 0 ; k < 3 ; k++)
  {
    DIR *d ;
    pth.len = 0 ;
    if (!stralloc_cats(&pth, dir) || !stralloc_cats(&pth, "/") || !stralloc_cats(&pth, subs[k]) || !stralloc_0(&pth)) return 0 ;
    d = opendir(pth.s) ;
    if (!d) continue ;
    for (;;)
    {
      struct dirent *de = readdir(d) ;
      stralloc f = STRALLOC_ZERO ;
      if (!de) break ;
      if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue ;
      if (stralloc_cats(&f, pth.s) && stralloc_cats(&f, "/") && stralloc_cats(&f, de->d_name) && stralloc_0(&f))
        if (unlink(f.s) < 0) ok = 0 ;
      stralloc_free(&f) ;
    }
    closedir(d) ;
    if (rmdir(pth.s) < 0) ok = 0 ;
  }
  {
    static char const *const files[8] = { "postie-uids", "postie-uids.lock", "postie-uids.tmp", "postie-keywords", "postie-keywords.tmp", "postie-index", "postie-index.tmp", "maildirfolder" } ;
    for (k = 0 ; k < 8 ; k++)
    {
      pth.len = 0 ;
      if (stralloc_cats(&pth, dir) && stralloc_cats(&pth, "/") && stralloc_cats(&pth, files[k]) && stralloc_0(&pth)) unlink(pth.s) ;
    }
  }
  stralloc_free(&pth) ;
  return ok && rmdir(dir) == 0 ;
}

void cmd_delete (parser *p, char const *tag)
{
  char dir[512] ;
  char *name ; size_t nlen ;
  int r = p_sp(p) ? getbox(p, dir, sizeof dir, &name, &nlen) : 0 ;
  if (!r || !p_end(p)) { bad(tag, "BAD syntax: DELETE folder") ; return ; }
  if (r > 0 && !strcmp(dir, ".")) { tagged(tag, "NO [CANNOT] INBOX cannot be deleted") ; return ; }
  if (r < 0 || !isdir(dir)) { tagged(tag, "NO [NONEXISTENT] no such folder") ; return ; }
  if (selected && !strcmp(cur.dir, dir)) { box_free(&cur) ; selected = 0 ; }
  if (!rmfolder(dir)) { strerr_warnwusys("delete ", dir) ; tagged(tag, "NO [SERVERBUG] cannot delete the folder wholly") ; return ; }
  tagged(tag, "OK DELETE completed") ;
}

void cmd_rename (parser *p, char const *tag)
{
  char from[512], to[512] ;
  char *n1, *n2 ; size_t l1, l2 ;
  int r1 = p_sp(p) ? getbox(p, from, sizeof from, &n1, &l1) : 0 ;
  int r2 = r1 && p_sp(p) ? getbox(p, to, sizeof to, &n2, &l2) : 0 ;
  if (!r1 || !r2 || !p_end(p)) { bad(tag, "BAD syntax: RENAME old new") ; return ; }
  if (r1 < 0 || !isdir(from)) { tagged(tag, "NO [NONEXISTENT] no such folder") ; return ; }
  if (r2 < 0 || !strcmp(to, ".")) { tagged(tag, "NO [CANNOT] not a folder name here") ; return ; }
  if (isdir(to)) { tagged(tag, "NO [ALREADYEXISTS] folder exists") ; return ; }
  if (!strcmp(from, "."))
  {
    /* RENAME INBOX: its messages move to the new folder, INBOX stays */
    box b ; size_t i ;
    char uniq[128] ;
    memset(&b, 0, sizeof b) ; strcpy(b.dir, ".") ;
    if (!box_create(to) || !box_sync(&b, 1)) { tagged(tag, "NO [SERVERBUG] cannot rename INBOX") ; return ; }
    {
      /* the keywords keep their letters: the new folder gets INBOX's list */
      stralloc kf = STRALLOC_ZERO, kt = STRALLOC_ZERO ;
      if (openslurpclose(&kf, "postie-keywords") && stralloc_cats(&kt, to) && stralloc_cats(&kt, "/postie-keywords") && stralloc_0(&kt))
        openwritenclose_suffix(kt.s, kf.s, kf.len, ".tmp") ;
      stralloc_free(&kf) ; stralloc_free(&kt) ;
    }
    for (i = 0 ; i < b.n ; i++)
      box_add_file(to, msg_name(&b, i), 0, b.m[i].flags, msg_kw(&b, i), uniq, sizeof uniq) ;
    box_free(&b) ;
    tagged(tag, "OK RENAME completed") ;
    return ;
  }
  if (rename(from, to) < 0) { strerr_warnwusys("rename ", from) ; tagged(tag, "NO [SERVERBUG] cannot rename") ; return ; }
  if (selected && !strcmp(cur.dir, from)) strcpy(cur.dir, to) ;
  tagged(tag, "OK RENAME completed") ;
}

void cmd_subscribe (parser *p, char const *tag, int add)
{
  char dir[512] ;
  char *name ; size_t nlen ;
  stralloc sa = STRALLOC_ZERO, out = STRALLOC_ZERO ;
  size_t i = 0 ;
  int r = p_sp(p) ? getbox(p, dir, sizeof dir, &name, &nlen) : 0 ;
  if (!r || !p_end(p)) { bad(tag, "BAD syntax: SUBSCRIBE folder") ; return ; }
  if (r < 0) { tagged(tag, "NO [NONEXISTENT] no such folder") ; return ; }
  if (!strcmp(dir, ".")) { name = "INBOX" ; nlen = 5 ; }
  else { name = dir + 3 ; nlen = strlen(name) ; }
  if (!openslurpclose(&sa, "postie-subscriptions") && errno != ENOENT) { tagged(tag, "NO [SERVERBUG] cannot read the subscriptions") ; return ; }
  while (i < sa.len)
  {
    char *e = memchr(sa.s + i, '\n', sa.len - i) ;
    size_t l = e ? (size_t)(e - sa.s) - i : sa.len - i ;
    if (l && !(l == nlen && !memcmp(sa.s + i, name, nlen))) { stralloc_catb(&out, sa.s + i, l) ; stralloc_catb(&out, "\n", 1) ; }
    i += l + 1 ;
  }
  if (add) { stralloc_catb(&out, name, nlen) ; stralloc_catb(&out, "\n", 1) ; }
  if (!openwritenclose_suffix("postie-subscriptions", out.s, out.len, ".tmp"))
  {
    stralloc_free(&sa) ; stralloc_free(&out) ;
    tagged(tag, "NO [SERVERBUG] cannot write the subscriptions") ;
    return ;
  }
  stralloc_free(&sa) ; stralloc_free(&out) ;
  tagged(tag, add ? "OK SUBSCRIBE completed" : "OK UNSUBSCRIBE completed") ;
}
