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

static int subscribed (char const *name)
{
  stralloc sa = STRALLOC_ZERO ;
  size_t i = 0, nl = strlen(name) ;
  int r = 0 ;
  if (!openslurpclose(&sa, "postie-subscriptions")) return 0 ;
  while (i < sa.len)
  {
    char *e = memchr(sa.s + i, '\n', sa.len - i) ;
    size_t l = e ? (size_t)(e - sa.s) - i : sa.len - i ;
    if (l == nl && !memcmp(sa.s + i, name, nl)) { r = 1 ; break ; }
    i += l + 1 ;
  }
  stralloc_free(&sa) ;
  return r ;
}

void cmd_list (parser *p, char const *tag, int lsub)
{
  char *ref, *pat ;
  size_t rl, pl ;
  stralloc full = STRALLOC_ZERO ;
  DIR *d ;
  if (!p_sp(p) || !p_astring(p, &ref, &rl)) { bad(tag, "BAD syntax: LIST reference pattern") ; return ; }
  /* "" is an atom-less empty quoted string: p_astring handles it */
  if (!p_sp(p)) { bad(tag, "BAD syntax: LIST reference pattern") ; return ; }
  {
    /* list-mailbox: atoms with % and * too */
    size_t st = p->pos ;
    if (p->pos < p->len && (p->s[p->pos] == '"' || p->s[p->pos] == '{')) { if (!p_string(p, &pat, &pl)) { bad(tag, "BAD syntax: LIST pattern") ; return ; } }
    else
    {
      while (p->pos < p->len && p->s[p->pos] != ' ' && p->s[p->pos] != '(' && p->s[p->pos] != ')') p->pos++ ;
      pat = p->s + st ; pl = p->pos - st ;
    }
  }
  /* LIST-EXTENDED return options: accepted, not acted on */
  if (!stralloc_catb(&full, ref, rl) || !stralloc_catb(&full, pat, pl)) die_temp("allocate memory") ;
  if (!pl)
  {
    puts_("* LIST (\\Noselect) \".\" \"\"\r\n") ;
    tagged(tag, "OK LIST completed") ;
    stralloc_free(&full) ;
    return ;
  }
  if (match(full.s, full.len, "INBOX", 5) && (!lsub || subscribed("INBOX")))
    puts_(lsub ? "* LSUB () \".\" INBOX\r\n" : "* LIST (\\HasNoChildren) \".\" INBOX\r\n") ;
  d = opendir(".") ;
  if (d)
  {
    for (;;)
    {
      struct dirent *de = readdir(d) ;
      char const *nm ;
      char const *su ;
      size_t l ;
      if (!de) break ;
      if (de->d_name[0] != '.' || !de->d_name[1] || de->d_name[1] == '.') continue ;
      nm = de->d_name + 1 ;
      l = strlen(nm) ;
      if (!isdir(de->d_name)) continue ;
      if (!match(full.s, full.len, nm, l)) continue ;
      if (lsub && !subscribed(nm)) continue ;
      su = special_use(nm) ;
      puts_(lsub ? "* LSUB (" : "* LIST (") ;
      if (!lsub) puts_("\\HasNoChildren") ;
      if (!lsub && su) { puts_(" ") ; puts_(su) ; }
      puts_(") \".\" ") ;
      putstring(nm, l) ;
      puts_("\r\n") ;
    }
    closedir(d) ;
  }
  stralloc_free(&full) ;
  tagged(tag, lsub ? "OK LSUB completed" : "OK LIST completed") ;
}

void cmd_status (parser *p, char const *tag)
{
  char dir[512] ;
  char *name ; size_t nlen ;
  box b ;
  size_t i, unseen = 0 ;
  int r = p_sp(p) ? getbox(p, dir, sizeof dir, &name, &nlen) : 0 ;
  int first = 1 ;
  if (!r || !p_sp(p) || !p_char(p, '(')) { bad(tag, "BAD syntax: STATUS folder (items)") ; return ; }
  if (r < 0 || !isdir(dir)) { tagged(tag, "NO [NONEXISTENT] no such folder") ; return ; }
  memset(&b, 0, sizeof b) ;
  strcpy(b.dir, dir) ;
  if (!box_sync(&b, 1)) { tagged(tag, "NO [UNAVAILABLE] cannot read the folder") ; return ; }
  for (i = 0 ; i < b.n ; i++) if (!(b.m[i].flags & FL_SEEN)) unseen++ ;
  puts_("* STATUS ") ; putstring(name, nlen) ; puts_(" (") ;
  for (;;)
  {
    char const *a ;
    size_t l = p_atom(p, &a) ;
    if (!l) break ;
    if (!first) puts_(" ") ;
    first = 0 ;
    if (l == 8 && !case_diffb(a, 8, "MESSAGES")) { puts_("MESSAGES ") ; putnum(b.n) ; }
    else if (l == 6 && !case_diffb(a, 6, "RECENT")) puts_("RECENT 0") ;
    else if (l == 7 && !case_diffb(a, 7, "UIDNEXT")) { puts_("UIDNEXT ") ; putnum(b.uidnext) ; }
    else if (l == 11 && !case_diffb(a, 11, "UIDVALIDITY")) { puts_("UIDVALIDITY ") ; putnum(b.uidvalidity) ; }
    else if (l == 6 && !case_diffb(a, 6, "UNSEEN")) { puts_("UNSEEN ") ; putnum(unseen) ; }
    else { box_free(&b) ; out_discard() ; bad(tag, "BAD unknown STATUS item") ; return ; }
    if (!p_sp(p)) break ;
  }
  box_free(&b) ;
  if (!p_char(p, ')') || !p_end(p)) { out_discard() ; bad(tag, "BAD syntax: STATUS folder (items)") ; return ; }
  puts_(")\r\n") ;
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
    static char const *const files[4] = { "postie-uids", "postie-uids.lock", "postie-uids.tmp", "maildirfolder" } ;
    for (k = 0 ; k < 4 ; k++)
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
    for (i = 0 ; i < b.n ; i++)
      box_add_file(to, b.names.s + b.m[i].name, 0, b.m[i].flags, uniq, sizeof uniq) ;
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
