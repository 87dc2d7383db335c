/* postie-imapd: the IMAP4rev1 session (RFC 3501) after login, on the
   user's Maildir and its Maildir++ folders, for a client on fd 0 and fd 1:

     postie-imapd [ maildir ]

   The maildir is the argument, else $MAILDIR (from postie-checkpassword),
   else Maildir/, relative to the current directory (HOME). Started by
   postie-imapup through the checkpassword chain: IMAPLOGINTAG holds the
   tag of the LOGIN or AUTHENTICATE command, which it answers OK. Without
   IMAPLOGINTAG (run directly, e.g. over ssh) it greets "* PREAUTH".

   See doc/postie-imapd.md for the commands, and doc/imap-uids.md for
   the UID file. */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>  /* rename */
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/bytestr.h>
#include <skalibs/djbunix.h>
#include <skalibs/iopause.h>
#include <skalibs/sgetopt.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>
#include "cmd.h"
#include "imapd.h"
#include "postie.h"
#include "timedline.h"

#define USAGE "postie-imapd [ maildir ]"

#define LINE_MAX 65536           /* one line of a command */
#define CMD_MAX (1 << 20)        /* a command, literals included (APPEND's message aside) */
#define TAG_MAX 64

#define CAPS "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS MOVE UNSELECT CHILDREN SPECIAL-USE"

static unsigned long timeout = 1800 ;
static unsigned long maxbad = 20 ;
static unsigned long idlepoll = 2 ;
unsigned long maxmessage = 40000000 ;
static unsigned long nbad = 0 ;

static char inbuf[8192] ;
static timedin in = TIMEDIN_INIT(0, inbuf, sizeof inbuf) ;
static char outbuf[16384] ;
static size_t outlen = 0 ;

static box cur ;
static int selected = 0 ;

/* Output */

void flush (void)
{
  tain deadline ;
  tain_now_g() ;
  tain_addsec_g(&deadline, timeout) ;
  if (outlen && !timed_writeall(1, outbuf, outlen, &deadline)) _exit(0) ;
  outlen = 0 ;
}

void put (char const *s, size_t n)
{
  while (n)
  {
    size_t k = sizeof outbuf - outlen ;
    if (!k) { flush() ; continue ; }
    if (k > n) k = n ;
    memcpy(outbuf + outlen, s, k) ;
    outlen += k ; s += k ; n -= k ;
  }
}

void puts_ (char const *s) { put(s, strlen(s)) ; }
void putnum (uint64_t u) { char f[UINT64_FMT] ; put(f, uint64_fmt(f, u)) ; }

/* A string: quoted when it can be, else a literal. */
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

void tagged (char const *tag, char const *s)
{
  puts_(tag) ; put(" ", 1) ; puts_(s) ; put("\r\n", 2) ;
  flush() ;
}

static void bye (char const *s)
{
  puts_("* BYE ") ; puts_(s) ; put("\r\n", 2) ;
  flush() ;
  _exit(0) ;
}

void bad (char const *tag, char const *s)
{
  tagged(tag, s) ;
  if (++nbad >= maxbad) bye("too many bad commands") ;
}

void die_temp (char const *what)
{
  strerr_warnwusys(what) ;
  bye("[UNAVAILABLE] temporary failure") ;
}

/* Input: one command, literals included, into c. Returns 1, or 0 when
   the command was refused already (too long, literal too big). */
static int readcmd (stralloc *c, char *tag)
{
  char line[LINE_MAX + 1] ;
  int first = 1, append = 0 ;
  c->len = 0 ;
  for (;;)
  {
    tain deadline ;
    size_t len, lit = 0, cap ;
    int r, sync = 1, haslit = 0 ;
    tain_now_g() ;
    tain_addsec_g(&deadline, timeout) ;
    r = timedin_getline(&in, line, LINE_MAX, &len, &deadline) ;
    if (r == -1 && errno == ETIMEDOUT) bye("autologout: idle for too long") ;
    if (r == 0 || r == -1) _exit(0) ;
    if (r == -3) bye("line too long") ;  /* no end of line in sight */
    if (r == -2)
    {
      put("* BAD line too long\r\n", 21) ; flush() ;
      if (++nbad >= maxbad) bye("too many bad commands") ;
      return 0 ;
    }
    len-- ;
    if (len && line[len-1] == '\r') len-- ;
    if (first)
    {
      size_t t = 0 ;
      while (t < len && t < TAG_MAX && line[t] != ' ') t++ ;
      memcpy(tag, line, t) ; tag[t] = 0 ;
      if (!t || (t < len && line[t] != ' ')) strcpy(tag, "*") ;
      /* APPEND (or UID-less variants of it) may carry a message */
      {
        char const *cmd = line + t + 1 ;
        append = t < len && len - t - 1 >= 6 && !case_diffb(cmd, 6, "APPEND") ;
      }
      first = 0 ;
    }
    if (memchr(line, 0, len)) { bad(tag, "BAD NUL byte in command") ; return 0 ; }
    /* a literal at the end? */
    if (len >= 3 && line[len-1] == '}')
    {
      size_t i = len - 1, k ;
      if (line[i-1] == '+') { sync = 0 ; i-- ; }
      k = i ;
      while (k && line[k-1] >= '0' && line[k-1] <= '9') k-- ;
      if (k < i && k && line[k-1] == '{')
      {
        haslit = 1 ;
        if (i - k > 12 || size_scan(line + k, &lit) != i - k) lit = (size_t)-1 ;
      }
    }
    /* what the command may hold in all; c->len + len + 2 <= cap is checked
       first so that cap - (c->len + len + 2) cannot wrap */
    cap = CMD_MAX + (append ? maxmessage : 0) ;
    if (c->len + len + 2 > cap || (haslit && lit > cap - (c->len + len + 2)))
    {
      if (haslit && !sync) { tagged(tag, "BAD [TOOBIG] literal too big") ; bye("cannot skip a non-synchronizing literal") ; }
      bad(tag, haslit ? "NO [TOOBIG] literal too big" : "BAD command too long") ;
      return 0 ;
    }
    if (!stralloc_catb(c, line, len) || !stralloc_catb(c, "\r\n", 2)) die_temp("allocate memory") ;
    if (!haslit) { c->len -= 2 ; return 1 ; }
    if (sync) { put("+ Ready for literal data\r\n", 26) ; flush() ; }
    if (!stralloc_readyplus(c, lit)) die_temp("allocate memory") ;
    tain_now_g() ;
    tain_addsec_g(&deadline, timeout) ;
    r = timedin_get(&in, c->s + c->len, lit, &deadline) ;
    if (r < 0 && errno == ETIMEDOUT) bye("autologout: idle for too long") ;
    if (r <= 0) _exit(0) ;
    c->len += lit ;
  }
}

static void put_flags_of (box *b, size_t i) { put_flags(b->m[i].flags) ; }

/* The changes since the last look at the selected folder: EXPUNGE,
   EXISTS, FETCH FLAGS. */
static void update (void)
{
  uint32_t *ou ; unsigned char *of ;
  size_t on = cur.n, i, j ;
  if (!selected) return ;
  ou = malloc((on + 1) * sizeof(uint32_t)) ;
  of = malloc(on + 1) ;
  if (!ou || !of) die_temp("allocate memory") ;
  for (i = 0 ; i < on ; i++) { ou[i] = cur.m[i].uid ; of[i] = cur.m[i].flags ; }
  if (!box_sync(&cur, 0)) die_temp("read the folder") ;
  /* expunged: those no longer there, from the last down */
  for (i = on, j = cur.n ; i-- ;)
  {
    size_t lo = 0, hi = cur.n ;
    int found = 0 ;
    (void)j ;
    while (lo < hi)
    {
      size_t mid = (lo + hi) / 2 ;
      if (cur.m[mid].uid == ou[i]) { found = 1 ; break ; }
      if (cur.m[mid].uid < ou[i]) lo = mid + 1 ; else hi = mid ;
    }
    if (!found) { puts_("* ") ; putnum(i + 1) ; puts_(" EXPUNGE\r\n") ; }
  }
  /* flags changed, and new ones */
  {
    size_t k = 0 ;
    for (i = 0 ; i < cur.n ; i++)
    {
      while (k < on && ou[k] < cur.m[i].uid) k++ ;
      if (k < on && ou[k] == cur.m[i].uid && of[k] != cur.m[i].flags)
      {
        puts_("* ") ; putnum(i + 1) ; puts_(" FETCH (FLAGS ") ; put_flags_of(&cur, i) ; puts_(")\r\n") ;
      }
    }
  }
  {
    size_t still = 0 ;
    for (i = 0 ; i < on ; i++)
    {
      size_t lo = 0, hi = cur.n ;
      while (lo < hi)
      {
        size_t mid = (lo + hi) / 2 ;
        if (cur.m[mid].uid == ou[i]) { still++ ; break ; }
        if (cur.m[mid].uid < ou[i]) lo = mid + 1 ; else hi = mid ;
      }
    }
    if (cur.n != still || cur.n != on) { puts_("* ") ; putnum(cur.n) ; puts_(" EXISTS\r\n") ; }
  }
  free(ou) ; free(of) ;
}

static int getbox (parser *p, char *dir, size_t max, char **name, size_t *nlen)
{
  if (!p_astring(p, name, nlen)) return 0 ;
  return box_name_to_dir(*name, *nlen, dir, max) ? 1 : -1 ;
}

static int isdir (char const *d)
{
  struct stat st ;
  char p[600] ;
  size_t l = strlen(d) ;
  if (l + 5 > sizeof p) return 0 ;
  memcpy(p, d, l) ; memcpy(p + l, "/cur", 5) ;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode) ;
}

static void cmd_select (parser *p, char const *tag, int ro)
{
  char dir[512] ;
  char *name ; size_t nlen ;
  size_t i, unseen = 0 ;
  int r = p_sp(p) ? getbox(p, dir, sizeof dir, &name, &nlen) : 0 ;
  if (selected) { box_free(&cur) ; selected = 0 ; puts_("* OK [CLOSED] previous folder closed\r\n") ; }
  if (!r || !p_end(p)) { bad(tag, "BAD syntax: SELECT folder") ; return ; }
  if (r < 0 || !isdir(dir)) { tagged(tag, "NO [NONEXISTENT] no such folder") ; return ; }
  memset(&cur, 0, sizeof cur) ;
  strcpy(cur.dir, dir) ;
  cur.readonly = ro ;
  if (!box_sync(&cur, 1)) { strerr_warnwusys("read ", dir) ; tagged(tag, "NO [UNAVAILABLE] cannot read the folder") ; return ; }
  selected = 1 ;
  puts_("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n") ;
  puts_(ro ? "* OK [PERMANENTFLAGS ()] read-only\r\n" : "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)] no keywords\r\n") ;
  puts_("* ") ; putnum(cur.n) ; puts_(" EXISTS\r\n* 0 RECENT\r\n") ;
  for (i = 0 ; i < cur.n ; i++) if (!(cur.m[i].flags & FL_SEEN)) { unseen = i + 1 ; break ; }
  if (unseen) { puts_("* OK [UNSEEN ") ; putnum(unseen) ; puts_("] first unseen\r\n") ; }
  puts_("* OK [UIDVALIDITY ") ; putnum(cur.uidvalidity) ; puts_("] UIDs valid\r\n") ;
  puts_("* OK [UIDNEXT ") ; putnum(cur.uidnext) ; puts_("] predicted next UID\r\n") ;
  tagged(tag, ro ? "OK [READ-ONLY] EXAMINE completed" : "OK [READ-WRITE] SELECT completed") ;
}

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

static void cmd_list (parser *p, char const *tag, int lsub)
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

static void cmd_status (parser *p, char const *tag)
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
    else { box_free(&b) ; outlen = 0 ; bad(tag, "BAD unknown STATUS item") ; return ; }
    if (!p_sp(p)) break ;
  }
  box_free(&b) ;
  if (!p_char(p, ')') || !p_end(p)) { outlen = 0 ; bad(tag, "BAD syntax: STATUS folder (items)") ; return ; }
  puts_(")\r\n") ;
  tagged(tag, "OK STATUS completed") ;
}

static void cmd_create (parser *p, char const *tag)
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

static void cmd_delete (parser *p, char const *tag)
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

static void cmd_rename (parser *p, char const *tag)
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

static void cmd_subscribe (parser *p, char const *tag, int add)
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

/* EXPUNGE (all \Deleted, or those of a UID set) */
static void expunge (seqset const *uids, int silent)
{
  size_t i ;
  int dirty = 0 ;
  for (i = cur.n ; i-- ;)
  {
    stralloc pth = STRALLOC_ZERO ;
    if (!(cur.m[i].flags & FL_DELETED)) continue ;
    if (uids && !seq_has(uids, cur.m[i].uid, cur.n ? cur.m[cur.n-1].uid : 0)) continue ;
    if (!stralloc_cats(&pth, cur.dir) || !stralloc_cats(&pth, "/") || !stralloc_cats(&pth, cur.names.s + cur.m[i].name) || !stralloc_0(&pth)) die_temp("allocate memory") ;
    if (unlink(pth.s) < 0 && errno == ENOENT && msg_refind(&cur, i) && (cur.m[i].flags & FL_DELETED))
    {
      pth.len = 0 ;
      if (stralloc_cats(&pth, cur.dir) && stralloc_cats(&pth, "/") && stralloc_cats(&pth, cur.names.s + cur.m[i].name) && stralloc_0(&pth)) unlink(pth.s) ;
    }
    stralloc_free(&pth) ;
    dirty = 1 ;
    if (!silent) { puts_("* ") ; putnum(i + 1) ; puts_(" EXPUNGE\r\n") ; }
    memmove(cur.m + i, cur.m + i + 1, (cur.n - i - 1) * sizeof(msg)) ;
    cur.n-- ;
  }
  if (dirty)
  {
    int fd = open(cur.dir, O_RDONLY | O_DIRECTORY) ;
    char p2[600] ;
    (void)fd ;
    if (fd >= 0) close(fd) ;
    memcpy(p2, cur.dir, strlen(cur.dir)) ; strcpy(p2 + strlen(cur.dir), "/cur") ;
    fd = open(p2, O_RDONLY | O_DIRECTORY) ;
    if (fd >= 0) { fsync(fd) ; close(fd) ; }
  }
}

/* COPY and MOVE */
static void cmd_copy (parser *p, char const *tag, int uid, int move)
{
  seqset s ;
  char dir[512] ;
  char *name ; size_t nlen ;
  box d ;
  size_t i, count = 0, retried = (size_t)-1 ;
  stralloc src = STRALLOC_ZERO, uniqs = STRALLOC_ZERO, srcuids = STRALLOC_ZERO, dstuids = STRALLOC_ZERO ;
  uint32_t star ;
  int r ;
  if (!p_sp(p) || !p_seqset(p, &s) || !p_sp(p)) { bad(tag, "BAD syntax: COPY set folder") ; return ; }
  r = getbox(p, dir, sizeof dir, &name, &nlen) ;
  if (!r || !p_end(p)) { bad(tag, "BAD syntax: COPY set folder") ; return ; }
  if (r < 0 || !isdir(dir)) { tagged(tag, "NO [TRYCREATE] no such folder") ; return ; }
  if (move && cur.readonly) { tagged(tag, "NO [READ-ONLY] folder is read-only") ; return ; }
  star = uid ? (cur.n ? cur.m[cur.n-1].uid : 0) : cur.n ;
  for (i = 0 ; i < cur.n ; i++)
  {
    char uniq[128] ;
    if (!seq_has(&s, uid ? cur.m[i].uid : i + 1, star)) continue ;
    src.len = 0 ;
    if (!stralloc_cats(&src, cur.dir) || !stralloc_cats(&src, "/") || !stralloc_cats(&src, cur.names.s + cur.m[i].name) || !stralloc_0(&src)) die_temp("allocate memory") ;
    if (!box_add_file(dir, src.s, 1, cur.m[i].flags & ~FL_DELETED, uniq, sizeof uniq))
    {
      /* the source renamed meanwhile: look it up again, once (ENOENT
         may as well be the destination's, e.g. a folder with no tmp/) */
      if (errno == ENOENT && retried != i && msg_refind(&cur, i)) { retried = i-- ; continue ; }
      strerr_warnwusys("copy ", src.s) ;
      tagged(tag, "NO [SERVERBUG] cannot copy every message") ;
      goto end ;
    }
    stralloc_catb(&uniqs, uniq, strlen(uniq) + 1) ;
    if (count) stralloc_catb(&srcuids, ",", 1) ;
    { char f[UINT32_FMT] ; stralloc_catb(&srcuids, f, uint32_fmt(f, cur.m[i].uid)) ; }
    count++ ;
  }
  memset(&d, 0, sizeof d) ;
  strcpy(d.dir, dir) ;
  if (count && box_sync(&d, 1))
  {
    size_t k = 0, j ;
    for (j = 0 ; j < count ; j++)
    {
      char f[UINT32_FMT] ;
      if (j) stralloc_catb(&dstuids, ",", 1) ;
      stralloc_catb(&dstuids, f, uint32_fmt(f, box_uid_of(&d, uniqs.s + k))) ;
      k += strlen(uniqs.s + k) + 1 ;
    }
    stralloc_0(&srcuids) ; stralloc_0(&dstuids) ;
    if (move) { puts_("* OK [COPYUID ") ; putnum(d.uidvalidity) ; puts_(" ") ; puts_(srcuids.s) ; puts_(" ") ; puts_(dstuids.s) ; puts_("] moved\r\n") ; }
  }
  if (move && count)
  {
    for (i = 0 ; i < cur.n ; i++)
      if (seq_has(&s, uid ? cur.m[i].uid : i + 1, star) && !(cur.m[i].flags & FL_DELETED))
        msg_setflags(&cur, i, cur.m[i].flags | FL_DELETED) ;
    {
      seqset us ;
      /* only those just moved: by UID */
      us.n = 0 ;
      for (i = 0 ; i < cur.n && us.n < sizeof us.r / sizeof us.r[0] ; i++)
        if (seq_has(&s, uid ? cur.m[i].uid : i + 1, star)) { us.r[us.n++] = cur.m[i].uid ; us.r[us.n++] = cur.m[i].uid ; }
      expunge(&us, 0) ;
    }
  }
  if (!move && count && dstuids.len)
  {
    char buf[64] ;
    size_t n = 0 ;
    memcpy(buf, "OK [COPYUID ", 12) ; n = 12 ;
    n += uint32_fmt(buf + n, d.uidvalidity) ; buf[n] = 0 ;
    puts_(tag) ; puts_(" ") ; puts_(buf) ; puts_(" ") ; puts_(srcuids.s) ; puts_(" ") ; puts_(dstuids.s) ; puts_("] COPY completed\r\n") ;
    flush() ;
  }
  else tagged(tag, move ? "OK MOVE completed" : "OK COPY completed") ;
  box_free(&d) ;
 end:
  stralloc_free(&src) ; stralloc_free(&uniqs) ; stralloc_free(&srcuids) ; stralloc_free(&dstuids) ;
}

static void cmd_append (parser *p, char const *tag)
{
  char dir[512] ;
  char *name, *data ; size_t nlen, dlen ;
  unsigned char fl = 0 ;
  char uniq[128] ;
  char tmpname[600] ;
  box d ;
  int r = p_sp(p) ? getbox(p, dir, sizeof dir, &name, &nlen) : 0 ;
  int fd ;
  if (!r || !p_sp(p)) { bad(tag, "BAD syntax: APPEND folder [(flags)] [date] literal") ; return ; }
  if (p->pos < p->len && p->s[p->pos] == '(')
  {
    if (!p_flaglist(p, &fl) || !p_sp(p)) { bad(tag, "BAD syntax: APPEND flags") ; return ; }
  }
  if (p->pos < p->len && p->s[p->pos] == '"')
  {
    char *dt ; size_t dl ;
    if (!p_string(p, &dt, &dl) || !p_sp(p)) { bad(tag, "BAD syntax: APPEND date") ; return ; }
  }
  if (!p_string(p, &data, &dlen) || !p_end(p)) { bad(tag, "BAD syntax: APPEND message literal") ; return ; }
  if (r < 0 || !isdir(dir)) { tagged(tag, "NO [TRYCREATE] no such folder") ; return ; }
  {
    size_t n = strlen(dir) ;
    memcpy(tmpname, dir, n) ;
    memcpy(tmpname + n, "/tmp/append.", 12) ; n += 12 ;
    n += uint64_fmt(tmpname + n, (uint64_t)getpid()) ;
    tmpname[n++] = '.' ;
    n += uint64_fmt(tmpname + n, (uint64_t)time(0)) ;
    tmpname[n] = 0 ;
  }
  fd = open(tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600) ;
  if (fd < 0) { strerr_warnwusys("create ", tmpname) ; tagged(tag, "NO [SERVERBUG] cannot store the message") ; return ; }
  if (allwrite(fd, data, dlen) < dlen || fsync(fd) < 0)
  {
    close(fd) ; unlink(tmpname) ;
    tagged(tag, errno == ENOSPC || errno == EDQUOT ? "NO [OVERQUOTA] no space" : "NO [SERVERBUG] cannot store the message") ;
    return ;
  }
  close(fd) ;
  if (!box_add_file(dir, tmpname, 0, fl, uniq, sizeof uniq))
  {
    unlink(tmpname) ;
    tagged(tag, "NO [SERVERBUG] cannot store the message") ;
    return ;
  }
  {
    char cd[600] ;
    size_t n = strlen(dir) ;
    memcpy(cd, dir, n) ; strcpy(cd + n, "/cur") ;
    fd = open(cd, O_RDONLY | O_DIRECTORY) ;
    if (fd >= 0) { fsync(fd) ; close(fd) ; }
  }
  memset(&d, 0, sizeof d) ;
  strcpy(d.dir, dir) ;
  if (selected && !strcmp(dir, cur.dir)) update() ;
  if (box_sync(&d, 1))
  {
    puts_(tag) ; puts_(" OK [APPENDUID ") ; putnum(d.uidvalidity) ; puts_(" ") ; putnum(box_uid_of(&d, uniq)) ; puts_("] APPEND completed\r\n") ;
    flush() ;
  }
  else tagged(tag, "OK APPEND completed") ;
  box_free(&d) ;
}

/* IDLE (RFC 2177): updates every idlepoll seconds until DONE. */
static void cmd_idle (char const *tag)
{
  tain end ;
  puts_("+ idling\r\n") ;
  flush() ;
  tain_now_g() ;
  tain_addsec_g(&end, timeout) ;
  for (;;)
  {
    tain deadline ;
    iopause_fd x = { .fd = 0, .events = IOPAUSE_READ, .revents = 0 } ;
    int r ;
    update() ;
    flush() ;
    if (in.pos < in.len) break ;
    tain_now_g() ;
    tain_addsec_g(&deadline, idlepoll) ;
    if (tain_less(&end, &deadline)) deadline = end ;
    r = iopause_g(&x, 1, &deadline) ;
    if (r < 0 && errno != EINTR) _exit(0) ;
    if (r > 0) break ;
    if (!tain_less(&STAMP, &end)) bye("autologout: idle for too long") ;
  }
  {
    char line[64] ;
    size_t len ;
    tain deadline ;
    int r ;
    tain_now_g() ;
    tain_addsec_g(&deadline, timeout) ;
    r = timedin_getline(&in, line, sizeof line - 1, &len, &deadline) ;
    if (r == -1 && errno == ETIMEDOUT) bye("autologout: idle for too long") ;
    if (r == 0 || r == -1) _exit(0) ;
    if (r == -3) bye("line too long") ;
    if (r == -2 || len < 5 || case_diffb(line, 4, "DONE") || (line[4] != '\r' && line[4] != '\n')) { bad(tag, "BAD expected DONE") ; return ; }
  }
  update() ;
  tagged(tag, "OK IDLE terminated") ;
}

static int cmdis (char const *a, size_t n, char const *cmd)
{
  return strlen(cmd) == n && !case_diffb(a, n, cmd) ;
}

static void readcontrols (void)
{
  int here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  if (here < 0) strerr_diefusys(111, "open the current directory") ;
  if (chdir(postie_home()) == 0)
  {
    if (control_readulong(&timeout, "imaptimeout", timeout) < 0) strerr_warnwu("read control/imaptimeout") ;
    if (control_readulong(&maxbad, "imapmaxbad", maxbad) < 0) strerr_warnwu("read control/imapmaxbad") ;
    if (control_readulong(&idlepoll, "imapidlepoll", idlepoll) < 0) strerr_warnwu("read control/imapidlepoll") ;
    if (control_readulong(&maxmessage, "imapmaxmessage", maxmessage) < 0) strerr_warnwu("read control/imapmaxmessage") ;
  }
  else strerr_warnwusys("chdir to ", postie_home(), " to read control/: using the defaults") ;
  if (fchdir(here) < 0) strerr_diefusys(111, "return to the current directory") ;
  close(here) ;
  if (timeout < 60) timeout = 60 ;
  if (timeout > 86400) timeout = 86400 ;
  if (!maxbad) maxbad = 1 ;
  if (!idlepoll) idlepoll = 1 ;
  if (idlepoll > 600) idlepoll = 600 ;
  if (maxmessage > 1000000000) maxmessage = 1000000000 ;
}

/* First login: the special-use folders. */
static void special_folders (void)
{
  static char const *const names[4] = { "./.Sent", "./.Drafts", "./.Trash", "./.Junk" } ;
  unsigned int k ;
  for (k = 0 ; k < 4 ; k++)
    if (!isdir(names[k]) && !box_create(names[k]) && errno != EEXIST) strerr_warnwusys("create ", names[k]) ;
}

int main (int argc, char const *const *argv)
{
  stralloc c = STRALLOC_ZERO ;
  char tag[TAG_MAX + 1] ;
  char const *maildir ;
  char const *logintag ;
  PROG = "postie-imapd" ;
  if (argc > 2) strerr_dieusage(100, USAGE) ;
  maildir = argc == 2 ? argv[1] : getenv("MAILDIR") ;
  if (!maildir || !*maildir) maildir = "Maildir/" ;
  logintag = getenv("IMAPLOGINTAG") ;
  signal(SIGPIPE, SIG_IGN) ;
  tain_now_set_stopwatch_g() ;
  tain_now_g() ;
  readcontrols() ;
  if (chdir(maildir) < 0) strerr_diefusys(111, "chdir to the Maildir ", maildir) ;
  umask(077) ;
  if (!isdir(".")) strerr_dief(111, maildir, " is not a Maildir (no cur/)") ;
  special_folders() ;
  if (ndelay_on(0) < 0 || ndelay_on(1) < 0) strerr_diefusys(111, "set non-blocking mode") ;
  if (logintag && *logintag && strlen(logintag) <= TAG_MAX)
  {
    puts_(logintag) ; puts_(" OK [CAPABILITY " CAPS "] logged in\r\n") ;
  }
  else puts_("* PREAUTH [CAPABILITY " CAPS "] logged in\r\n") ;
  flush() ;

  for (;;)
  {
    parser p ;
    char const *cmd ;
    size_t cl ;
    int uid = 0 ;
    if (!readcmd(&c, tag)) continue ;
    p.s = c.s ; p.len = c.len ; p.pos = 0 ;
    {
      char const *t ;
      size_t tl = p_atom(&p, &t) ;
      if (!tl || tl > TAG_MAX || memchr(t, '+', tl) || !p_sp(&p)) { bad("*", "BAD syntax: tag command") ; continue ; }
    }
    cl = p_atom(&p, &cmd) ;
    if (cmdis(cmd, cl, "UID"))
    {
      uid = 1 ;
      if (!p_sp(&p)) { bad(tag, "BAD syntax: UID command") ; continue ; }
      cl = p_atom(&p, &cmd) ;
      if (!(cmdis(cmd, cl, "FETCH") || cmdis(cmd, cl, "STORE") || cmdis(cmd, cl, "SEARCH") || cmdis(cmd, cl, "COPY")
         || cmdis(cmd, cl, "MOVE") || cmdis(cmd, cl, "EXPUNGE"))) { bad(tag, "BAD unknown UID command") ; continue ; }
    }
    if (cmdis(cmd, cl, "CAPABILITY")) { puts_("* CAPABILITY " CAPS "\r\n") ; tagged(tag, "OK CAPABILITY completed") ; }
    else if (cmdis(cmd, cl, "NOOP") || cmdis(cmd, cl, "CHECK")) { update() ; tagged(tag, "OK completed") ; }
    else if (cmdis(cmd, cl, "LOGOUT")) { puts_("* BYE logging out\r\n") ; tagged(tag, "OK LOGOUT completed") ; return 0 ; }
    else if (cmdis(cmd, cl, "ID")) { puts_("* ID (\"name\" \"postie\")\r\n") ; tagged(tag, "OK ID completed") ; }
    else if (cmdis(cmd, cl, "ENABLE")) { puts_("* ENABLED\r\n") ; tagged(tag, "OK ENABLE completed") ; }
    else if (cmdis(cmd, cl, "NAMESPACE")) { puts_("* NAMESPACE ((\"\" \".\")) NIL NIL\r\n") ; tagged(tag, "OK NAMESPACE completed") ; }
    else if (cmdis(cmd, cl, "SELECT")) cmd_select(&p, tag, 0) ;
    else if (cmdis(cmd, cl, "EXAMINE")) cmd_select(&p, tag, 1) ;
    else if (cmdis(cmd, cl, "LIST")) cmd_list(&p, tag, 0) ;
    else if (cmdis(cmd, cl, "LSUB")) cmd_list(&p, tag, 1) ;
    else if (cmdis(cmd, cl, "STATUS")) cmd_status(&p, tag) ;
    else if (cmdis(cmd, cl, "CREATE")) cmd_create(&p, tag) ;
    else if (cmdis(cmd, cl, "DELETE")) cmd_delete(&p, tag) ;
    else if (cmdis(cmd, cl, "RENAME")) cmd_rename(&p, tag) ;
    else if (cmdis(cmd, cl, "SUBSCRIBE")) cmd_subscribe(&p, tag, 1) ;
    else if (cmdis(cmd, cl, "UNSUBSCRIBE")) cmd_subscribe(&p, tag, 0) ;
    else if (cmdis(cmd, cl, "APPEND")) cmd_append(&p, tag) ;
    else if (cmdis(cmd, cl, "LOGIN") || cmdis(cmd, cl, "AUTHENTICATE") || cmdis(cmd, cl, "STARTTLS")) bad(tag, "BAD already logged in") ;
    else if (cmdis(cmd, cl, "IDLE")) cmd_idle(tag) ;
    else if (!selected && (cmdis(cmd, cl, "CLOSE") || cmdis(cmd, cl, "UNSELECT") || cmdis(cmd, cl, "EXPUNGE") || cmdis(cmd, cl, "SEARCH")
          || cmdis(cmd, cl, "FETCH") || cmdis(cmd, cl, "STORE") || cmdis(cmd, cl, "COPY") || cmdis(cmd, cl, "MOVE")))
      bad(tag, "BAD no folder selected") ;
    else if (cmdis(cmd, cl, "CLOSE") || cmdis(cmd, cl, "UNSELECT"))
    {
      if (!cur.readonly && (cmd[0] == 'C' || cmd[0] == 'c')) expunge(0, 1) ;
      box_free(&cur) ; selected = 0 ;
      tagged(tag, "OK completed") ;
    }
    else if (cmdis(cmd, cl, "EXPUNGE"))
    {
      seqset s ;
      if (uid && (!p_sp(&p) || !p_seqset(&p, &s))) { bad(tag, "BAD syntax: UID EXPUNGE set") ; continue ; }
      if (cur.readonly) { tagged(tag, "NO [READ-ONLY] folder is read-only") ; continue ; }
      update() ;
      expunge(uid ? &s : 0, 0) ;
      tagged(tag, "OK EXPUNGE completed") ;
    }
    else if (cmdis(cmd, cl, "SEARCH")) cmd_search(&cur, &p, uid, tag) ;
    else if (cmdis(cmd, cl, "FETCH")) cmd_fetch(&cur, &p, uid, tag) ;
    else if (cmdis(cmd, cl, "STORE")) cmd_store(&cur, &p, uid, tag) ;
    else if (cmdis(cmd, cl, "COPY")) cmd_copy(&p, tag, uid, 0) ;
    else if (cmdis(cmd, cl, "MOVE")) cmd_copy(&p, tag, uid, 1) ;
    else bad(tag, "BAD unknown command") ;
    if (c.a > CMD_MAX) stralloc_free(&c) ;
  }
}
