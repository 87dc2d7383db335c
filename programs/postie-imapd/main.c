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
#include <sys/inotify.h>
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
#include "fsync_dir.h"
#include "imap_literal.h"
#include "imapd.h"
#include "postie.h"
#include "timedio.h"

#define USAGE "postie-imapd [ maildir ]"

#define LINE_MAX 65536           /* one line of a command */
#define CMD_MAX (1 << 20)        /* a command, literals included (APPEND's message aside) */
#define TAG_MAX 64
#define SPOOL_MIN 65536          /* an APPEND literal larger goes to a file */

#define CAPS "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS MOVE UNSELECT CHILDREN SPECIAL-USE LIST-EXTENDED LIST-STATUS"

static unsigned long timeout = 1800 ;
static unsigned long maxbad = 20 ;
static unsigned long idlepoll = 30 ;
unsigned long maxmessage = 40000000 ;
static unsigned long nbad = 0 ;

/* One more byte than each side holds: a skalibs buffer keeps one free. */
static char inbuf[8192 + 1] ;
static char outbuf[16384 + 1] ;
static timedio io = TIMEDIO_INIT(0, inbuf, sizeof inbuf, 1, outbuf, sizeof outbuf) ;

box cur ;
int selected = 0 ;


/* Output */

/* A write that fails or times out ends the session: the client is gone. */
void flush (void) { if (!timedio_flush_within(&io, timeout)) _exit(0) ; }
void put (char const *s, size_t n) { if (!timedio_put(&io, s, n, timeout)) _exit(0) ; }

/* Drops what was put and not sent yet (a reply given up half-way). */
void out_discard (void) { timedio_unput(&io) ; }

void putraw (char const *s) { put(s, strlen(s)) ; }
void putnum (uint64_t u) { char f[UINT64_FMT] ; put(f, uint64_fmt(f, u)) ; }

void tagged (char const *tag, char const *s)
{
  putraw(tag) ; put(" ", 1) ; putraw(s) ; put("\r\n", 2) ;
  flush() ;
}

static void bye (char const *s)
{
  putraw("* BYE ") ; putraw(s) ; put("\r\n", 2) ;
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

/* APPEND's message, when it is big, is not kept in memory: it is read
   into a file in the Maildir's tmp/, and the command holds only its
   {n}CRLF (spool.at is where its bytes would begin). cmd_append renames
   the file into the folder; readcmd removes one left unused. */
struct spool_s spool = { .fd = -1 } ;

static void spool_drop (void)
{
  if (spool.fd >= 0) { close(spool.fd) ; spool.fd = -1 ; }
  if (spool.path[0]) { unlink(spool.path) ; spool.path[0] = 0 ; }
  spool.at = 0 ; spool.len = 0 ;
}

/* Reads the literal of lit bytes into a new spool file. */
static void spool_read (size_t lit, size_t at)
{
  static unsigned long seq = 0 ;
  char buf[65536] ;
  size_t n = 0 ;
  memcpy(spool.path, "tmp/append.", 11) ; n = 11 ;
  n += uint64_fmt(spool.path + n, (uint64_t)getpid()) ;
  spool.path[n++] = '.' ;
  n += uint64_fmt(spool.path + n, (uint64_t)++seq) ;
  spool.path[n] = 0 ;
  spool.fd = open(spool.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) ;
  if (spool.fd < 0) { spool.path[0] = 0 ; die_temp("create a file in tmp/ for APPEND") ; }
  spool.at = at ; spool.len = lit ;
  while (lit)
  {
    tain deadline ;
    size_t k = lit < sizeof buf ? lit : sizeof buf ;
    int r ;
    tain_now_g() ;
    tain_addsec_g(&deadline, timeout) ;
    r = timedio_get(&io, buf, k, &deadline) ;
    if (r < 0 && errno == ETIMEDOUT) { spool_drop() ; bye("autologout: idle for too long") ; }
    if (r <= 0) { spool_drop() ; _exit(0) ; }
    if (spool.err || allwrite(spool.fd, buf, k) < k) { if (!spool.err) spool.err = errno ? errno : EIO ; }
    lit -= k ;
  }
}

/* Input: one command, literals included, into c. Returns 1, or 0 when
   the command was refused already (too long, literal too big). */
static int readcmd (stralloc *c, char *tag)
{
  char line[LINE_MAX + 1] ;
  int first = 1, append = 0 ;
  size_t spooled = 0 ;
  c->len = 0 ;
  spool_drop() ;
  spool.err = 0 ;
  for (;;)
  {
    tain deadline ;
    size_t len, lit = 0, cap ;
    int r, sync = 1, haslit ;
    tain_now_g() ;
    tain_addsec_g(&deadline, timeout) ;
    r = timedio_getline(&io, line, LINE_MAX, &len, &deadline) ;
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
    haslit = imap_literal_at_end(line, len, &lit, &sync) ;
    if (haslit < 0) lit = (size_t)-1 ;  /* too big to read: refused below */
    /* what the command may hold in all; c->len + len + 2 <= cap is checked
       first so that cap - (c->len + len + 2) cannot wrap */
    cap = CMD_MAX + (append ? maxmessage : 0) ;
    if (spooled + c->len + len + 2 > cap || (haslit && lit > cap - (spooled + c->len + len + 2)))
    {
      if (haslit && !sync) { tagged(tag, "BAD [TOOBIG] literal too big") ; bye("cannot skip a non-synchronizing literal") ; }
      bad(tag, haslit ? "NO [TOOBIG] literal too big" : "BAD command too long") ;
      return 0 ;
    }
    if (!stralloc_catb(c, line, len) || !stralloc_catb(c, "\r\n", 2)) die_temp("allocate memory") ;
    if (!haslit) { c->len -= 2 ; return 1 ; }
    if (sync) { put("+ Ready for literal data\r\n", 26) ; flush() ; }
    if (append && lit > SPOOL_MIN && spool.fd < 0)
    {
      spool_read(lit, c->len) ;
      spooled = lit ;
      continue ;
    }
    if (!stralloc_readyplus(c, lit)) die_temp("allocate memory") ;
    tain_now_g() ;
    tain_addsec_g(&deadline, timeout) ;
    r = timedio_get(&io, c->s + c->len, lit, &deadline) ;
    if (r < 0 && errno == ETIMEDOUT) bye("autologout: idle for too long") ;
    if (r <= 0) _exit(0) ;
    c->len += lit ;
  }
}

static void put_flags_of (box *b, size_t i) { put_flags(&b->kw, b->m[i].flags, msg_kw(b, i)) ; }

/* The changes since the last look at the selected folder: EXPUNGE,
   EXISTS, FETCH FLAGS. */
static void update (void)
{
  uint32_t *ou, *ok ; unsigned char *of ;
  size_t on = cur.n, i, j ;
  kwtab okw ;
  if (!selected) return ;
  okw = cur.kw ;
  if (box_unchanged(&cur))
  {
    /* nothing to compare: only keywords another session added */
    if (memcmp(&okw, &cur.kw, sizeof okw)) put_flaglists(&cur) ;
    return ;
  }
  ou = malloc((on + 1) * sizeof(uint32_t)) ;
  ok = malloc((on + 1) * sizeof(uint32_t)) ;
  of = malloc(on + 1) ;
  if (!ou || !of || !ok) die_temp("allocate memory") ;
  for (i = 0 ; i < on ; i++) { ou[i] = cur.m[i].uid ; of[i] = cur.m[i].flags ; ok[i] = msg_kw(&cur, i) ; }
  if (!box_sync(&cur, 0)) die_temp("read the folder") ;
  if (memcmp(&okw, &cur.kw, sizeof okw)) put_flaglists(&cur) ;  /* keywords added by another session */
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
    if (!found) { putraw("* ") ; putnum(i + 1) ; putraw(" EXPUNGE\r\n") ; }
  }
  /* flags changed, and new ones */
  {
    size_t k = 0 ;
    for (i = 0 ; i < cur.n ; i++)
    {
      while (k < on && ou[k] < cur.m[i].uid) k++ ;
      if (k < on && ou[k] == cur.m[i].uid && (of[k] != cur.m[i].flags || ok[k] != msg_kw(&cur, i)))
      {
        putraw("* ") ; putnum(i + 1) ; putraw(" FETCH (FLAGS ") ; put_flags_of(&cur, i) ; putraw(")\r\n") ;
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
    if (cur.n != still || cur.n != on) { putraw("* ") ; putnum(cur.n) ; putraw(" EXISTS\r\n") ; }
  }
  free(ou) ; free(of) ; free(ok) ;
}

/* Before a command that may read a message's name, date or size: SELECT
   left the names block of the selected folder's index unchecked
   (doc/imap-index.md); it is checked now, and when damaged the folder is
   listed again (the index written again) and any difference reported
   as NOOP would. */
static void names_ready (void)
{
  if (!selected || idx_names(&cur)) return ;
  strerr_warnw3x("damaged ", cur.dir, "/postie-index: listing the folder") ;
  cur.fresh = 0 ; cur.lazynames = 0 ;
  update() ;
  cur.lazynames = 1 ;
}

int getbox (parser *p, char *dir, size_t max, char **name, size_t *nlen)
{
  if (!p_astring(p, name, nlen)) return 0 ;
  return box_name_to_dir(*name, *nlen, dir, max) ? 1 : -1 ;
}

int isdir (char const *d)
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
  if (selected) { box_free(&cur) ; selected = 0 ; putraw("* OK [CLOSED] previous folder closed\r\n") ; }
  if (!r || !p_end(p)) { bad(tag, "BAD syntax: SELECT folder") ; return ; }
  if (r < 0 || !isdir(dir)) { tagged(tag, "NO [NONEXISTENT] no such folder") ; return ; }
  memset(&cur, 0, sizeof cur) ;
  strcpy(cur.dir, dir) ;
  cur.readonly = ro ;
  cur.lazynames = 1 ;  /* names checked when a command first needs one */
  if (!box_sync(&cur, 1)) { strerr_warnwusys("read ", dir) ; tagged(tag, "NO [UNAVAILABLE] cannot read the folder") ; return ; }
  selected = 1 ;
  put_flaglists(&cur) ;
  putraw("* ") ; putnum(cur.n) ; putraw(" EXISTS\r\n* 0 RECENT\r\n") ;
  for (i = 0 ; i < cur.n ; i++) if (!(cur.m[i].flags & FL_SEEN)) { unseen = i + 1 ; break ; }
  if (unseen) { putraw("* OK [UNSEEN ") ; putnum(unseen) ; putraw("] first unseen\r\n") ; }
  putraw("* OK [UIDVALIDITY ") ; putnum(cur.uidvalidity) ; putraw("] UIDs valid\r\n") ;
  putraw("* OK [UIDNEXT ") ; putnum(cur.uidnext) ; putraw("] predicted next UID\r\n") ;
  tagged(tag, ro ? "OK [READ-ONLY] EXAMINE completed" : "OK [READ-WRITE] SELECT completed") ;
}

/* EXPUNGE (all \Deleted, or those of a UID set, or those whose only[]
   is set: only[] is indexed as cur.m was on entry) */
static void expunge (seqset const *uids, unsigned char const *only, int silent)
{
  size_t i ;
  int dirty = 0 ;
  uint32_t star = cur.n ? cur.m[cur.n-1].uid : 0 ;
  for (i = cur.n ; i-- ;)
  {
    stralloc pth = STRALLOC_ZERO ;
    if (!(cur.m[i].flags & FL_DELETED)) continue ;
    if (uids && !seq_has(uids, cur.m[i].uid, star)) continue ;
    if (only && !only[i]) continue ;
    if (!stralloc_cats(&pth, cur.dir) || !stralloc_cats(&pth, "/") || !stralloc_cats(&pth, msg_name(&cur, i)) || !stralloc_0(&pth)) die_temp("allocate memory") ;
    if (unlink(pth.s) < 0 && errno == ENOENT && msg_refind(&cur, i) && (cur.m[i].flags & FL_DELETED))
    {
      pth.len = 0 ;
      if (stralloc_cats(&pth, cur.dir) && stralloc_cats(&pth, "/") && stralloc_cats(&pth, msg_name(&cur, i)) && stralloc_0(&pth)) unlink(pth.s) ;
    }
    stralloc_free(&pth) ;
    dirty = 1 ;
    if (!silent) { putraw("* ") ; putnum(i + 1) ; putraw(" EXPUNGE\r\n") ; }
    box_remove(&cur, i) ;
  }
  if (dirty)
  {
    char p2[600] ;
    memcpy(p2, cur.dir, strlen(cur.dir)) ; strcpy(p2 + strlen(cur.dir), "/cur") ;
    fsync_dir(p2) ;
  }
}

/* The keywords of message i of cur as the folder dir (its table dkw)
   writes them: by name, since its letters may differ. 1 with them in
   *dk, 0 (errno; ENOSPC: dir has no room for one more). */
static int copy_keywords (char const *dir, kwtab *dkw, size_t i, uint32_t *dk)
{
  kwnames kn ;
  unsigned int k ;
  kn.count = 0 ;
  for (k = 0 ; k < KW_N ; k++)
    if ((msg_kw(&cur, i) & (1u << k)) && cur.kw.name[k][0]) { kn.s[kn.count] = cur.kw.name[k] ; kn.n[kn.count++] = strlen(cur.kw.name[k]) ; }
  return kw_mask(dir, dkw, &kn, 1, dk, 0) ;
}

/* The messages of s (UIDs or numbers, star the last) copied into dir,
   in order: their unique parts into uniqs (each with its '\0'), their
   UIDs into srcuids ("1,2,3"), how many into *count. Returns 1, or 0
   after answering NO. */
static int copy_messages (seqset const *s, int uid, uint32_t star, char const *dir, stralloc *uniqs, stralloc *srcuids, size_t *count, char const *tag)
{
  static kwtab dkw ;
  stralloc src = STRALLOC_ZERO ;
  size_t i, retried = (size_t)-1 ;
  if (!kw_load(dir, &dkw)) { tagged(tag, "NO [SERVERBUG] cannot read the folder's keywords") ; return 0 ; }
  for (i = 0 ; i < cur.n ; i++)
  {
    char uniq[128] ;
    uint32_t dk = 0 ;
    if (!seq_has(s, uid ? cur.m[i].uid : i + 1, star)) continue ;
    if (msg_kw(&cur, i) && !copy_keywords(dir, &dkw, i, &dk))
    {
      tagged(tag, errno == ENOSPC ? "NO [LIMIT] the destination has 26 keywords already, the most it can keep" : "NO [SERVERBUG] cannot copy the keywords") ;
      goto err ;
    }
    src.len = 0 ;
    if (!stralloc_cats(&src, cur.dir) || !stralloc_cats(&src, "/") || !stralloc_cats(&src, msg_name(&cur, i)) || !stralloc_0(&src)) die_temp("allocate memory") ;
    if (!box_add_file(dir, src.s, 1, cur.m[i].flags & ~FL_DELETED, dk, uniq, sizeof uniq))
    {
      /* the source renamed meanwhile: look it up again, once (ENOENT
         may as well be the destination's, e.g. a folder with no tmp/) */
      if (errno == ENOENT && retried != i && msg_refind(&cur, i)) { retried = i-- ; continue ; }
      strerr_warnwusys("copy ", src.s) ;
      tagged(tag, "NO [SERVERBUG] cannot copy every message") ;
      goto err ;
    }
    stralloc_catb(uniqs, uniq, strlen(uniq) + 1) ;
    if (*count) stralloc_catb(srcuids, ",", 1) ;
    { char f[UINT32_FMT] ; stralloc_catb(srcuids, f, uint32_fmt(f, cur.m[i].uid)) ; }
    (*count)++ ;
  }
  stralloc_free(&src) ;
  return 1 ;
 err:
  stralloc_free(&src) ;
  return 0 ;
}

/* The UIDs the folder d, read again, gave the count messages whose
   unique parts are in uniqs: "7,8,9\0" into dstuids. 0 when d cannot be
   read. */
static int copied_uids (box *d, char const *uniqs, size_t count, stralloc *dstuids)
{
  size_t k = 0, j ;
  if (!box_sync(d, 1)) return 0 ;
  for (j = 0 ; j < count ; j++)
  {
    char f[UINT32_FMT] ;
    if (j) stralloc_catb(dstuids, ",", 1) ;
    stralloc_catb(dstuids, f, uint32_fmt(f, box_uid_of(d, uniqs + k))) ;
    k += strlen(uniqs + k) + 1 ;
  }
  stralloc_0(dstuids) ;
  return 1 ;
}

/* MOVE's end: the messages of s, copied, flagged \Deleted and
   expunged, only they, however many */
static void expunge_moved (seqset const *s, int uid, uint32_t star)
{
  unsigned char *only ;
  size_t i ;
  for (i = 0 ; i < cur.n ; i++)
    if (seq_has(s, uid ? cur.m[i].uid : i + 1, star) && !(cur.m[i].flags & FL_DELETED))
      msg_setflags(&cur, i, cur.m[i].flags | FL_DELETED, msg_kw(&cur, i)) ;
  only = calloc(cur.n + 1, 1) ;
  if (!only) die_temp("allocate memory") ;
  for (i = 0 ; i < cur.n ; i++) only[i] = !!seq_has(s, uid ? cur.m[i].uid : i + 1, star) ;
  expunge(0, only, 0) ;
  free(only) ;
}

/* COPY and MOVE */
static void cmd_copy (parser *p, char const *tag, int uid, int move)
{
  seqset s ;
  char dir[512] ;
  char *name ; size_t nlen ;
  box d ;
  size_t count = 0 ;
  stralloc uniqs = STRALLOC_ZERO, srcuids = STRALLOC_ZERO, dstuids = STRALLOC_ZERO ;
  uint32_t star ;
  int r ;
  if (!p_sp(p) || !p_seqset(p, &s) || !p_sp(p)) { bad(tag, "BAD syntax: COPY set folder") ; return ; }
  r = getbox(p, dir, sizeof dir, &name, &nlen) ;
  if (!r || !p_end(p)) { bad(tag, "BAD syntax: COPY set folder") ; return ; }
  if (r < 0 || !isdir(dir)) { tagged(tag, "NO [TRYCREATE] no such folder") ; return ; }
  if (move && cur.readonly) { tagged(tag, "NO [READ-ONLY] folder is read-only") ; return ; }
  star = uid ? (cur.n ? cur.m[cur.n-1].uid : 0) : cur.n ;
  if (!copy_messages(&s, uid, star, dir, &uniqs, &srcuids, &count, tag)) goto end ;
  memset(&d, 0, sizeof d) ;
  strcpy(d.dir, dir) ;
  if (count && copied_uids(&d, uniqs.s, count, &dstuids))
  {
    stralloc_0(&srcuids) ;
    if (move) { putraw("* OK [COPYUID ") ; putnum(d.uidvalidity) ; putraw(" ") ; putraw(srcuids.s) ; putraw(" ") ; putraw(dstuids.s) ; putraw("] moved\r\n") ; }
  }
  if (move && count) expunge_moved(&s, uid, star) ;
  if (!move && count && dstuids.len)
  {
    char buf[64] ;
    size_t n = 0 ;
    memcpy(buf, "OK [COPYUID ", 12) ; n = 12 ;
    n += uint32_fmt(buf + n, d.uidvalidity) ; buf[n] = 0 ;
    putraw(tag) ; putraw(" ") ; putraw(buf) ; putraw(" ") ; putraw(srcuids.s) ; putraw(" ") ; putraw(dstuids.s) ; putraw("] COPY completed\r\n") ;
    flush() ;
  }
  else tagged(tag, move ? "OK MOVE completed" : "OK COPY completed") ;
  box_free(&d) ;
 end:
  stralloc_free(&uniqs) ; stralloc_free(&srcuids) ; stralloc_free(&dstuids) ;
}

/* About 90 lines: one job, storing one APPEND; its two ways in (a literal
   spooled to a file, or one in memory) meet at stored:. */
static void cmd_append (parser *p, char const *tag)
{
  char dir[512] ;
  char *name, *data ; size_t nlen, dlen ;
  unsigned char fl = 0 ;
  kwnames kn = { .count = 0 } ;
  static kwtab dkw ;
  uint32_t kw = 0 ;
  char uniq[128] ;
  char tmpname[600] ;
  box d ;
  int r = p_sp(p) ? getbox(p, dir, sizeof dir, &name, &nlen) : 0 ;
  int fd ;
  if (!r || !p_sp(p)) { bad(tag, "BAD syntax: APPEND folder [(flags)] [date] literal") ; return ; }
  if (p->pos < p->len && p->s[p->pos] == '(')
  {
    if (!p_flaglist(p, &fl, &kn) || !p_sp(p)) { bad(tag, "BAD syntax: APPEND flags") ; return ; }
  }
  if (p->pos < p->len && p->s[p->pos] == '"')
  {
    char *dt ; size_t dl ;
    if (!p_string(p, &dt, &dl) || !p_sp(p)) { bad(tag, "BAD syntax: APPEND date") ; return ; }
  }
  if (p_spooled(p))
  {
    /* the message is in spool.path already */
    if (!p_end(p)) { bad(tag, "BAD syntax: APPEND message literal") ; return ; }
    if (r < 0 || !isdir(dir)) { tagged(tag, "NO [TRYCREATE] no such folder") ; return ; }
    if (spool.err || fsync(spool.fd) < 0)
    {
      int e = spool.err ? spool.err : errno ;
      tagged(tag, e == ENOSPC || e == EDQUOT ? "NO [OVERQUOTA] no space" : "NO [SERVERBUG] cannot store the message") ;
      return ;
    }
    close(spool.fd) ; spool.fd = -1 ;
    if (strlen(spool.path) >= sizeof tmpname) { tagged(tag, "NO [SERVERBUG] cannot store the message") ; return ; }
    strcpy(tmpname, spool.path) ;
    spool.path[0] = 0 ;  /* renamed away now, or unlinked below */
    goto stored ;
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
 stored:
  if (kn.count && (!kw_load(dir, &dkw) || !kw_mask(dir, &dkw, &kn, 1, &kw, 0)))
  {
    unlink(tmpname) ;
    tagged(tag, errno == ENOSPC ? "NO [LIMIT] this folder has 26 keywords already, the most it can keep" : "NO [SERVERBUG] cannot store the keywords") ;
    return ;
  }
  if (!box_add_file(dir, tmpname, 0, fl, kw, uniq, sizeof uniq))
  {
    unlink(tmpname) ;
    tagged(tag, "NO [SERVERBUG] cannot store the message") ;
    return ;
  }
  {
    char cd[600] ;
    size_t n = strlen(dir) ;
    memcpy(cd, dir, n) ; strcpy(cd + n, "/cur") ;
    fsync_dir(cd) ;
  }
  memset(&d, 0, sizeof d) ;
  strcpy(d.dir, dir) ;
  if (selected && !strcmp(dir, cur.dir)) update() ;
  if (box_sync(&d, 1))
  {
    putraw(tag) ; putraw(" OK [APPENDUID ") ; putnum(d.uidvalidity) ; putraw(" ") ; putnum(box_uid_of(&d, uniq)) ; putraw("] APPEND completed\r\n") ;
    flush() ;
  }
  else tagged(tag, "OK APPEND completed") ;
  box_free(&d) ;
}

/* An inotify watch on the selected folder's new/ and cur/: a delivery
   (a file renamed or linked into new/), an expunge or a flag change by
   anyone (a rename in cur/) wakes IDLE at once. Returns the descriptor,
   or -1 (no inotify here: IDLE then looks every idlepoll seconds). */
static int idle_watch (void)
{
  static char const *const subs[2] = { "/new", "/cur" } ;
  char p[600] ;
  size_t l = strlen(cur.dir) ;
  unsigned int k ;
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC) ;
  if (fd < 0) { strerr_warnwusys("inotify_init1: IDLE polls every ", "imapidlepoll seconds") ; return -1 ; }
  for (k = 0 ; k < 2 ; k++)
  {
    memcpy(p, cur.dir, l) ; strcpy(p + l, subs[k]) ;
    if (inotify_add_watch(fd, p, IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ONLYDIR) < 0)
    {
      strerr_warnwusys("watch ", p, ": IDLE polls every imapidlepoll seconds") ;
      close(fd) ;
      return -1 ;
    }
  }
  return fd ;
}

/* IDLE (RFC 2177): updates when the folder changes (inotify), and every
   idlepoll seconds anyway (a file system without inotify events), until
   DONE. */
static void cmd_idle (char const *tag)
{
  tain end ;
  int wfd = selected ? idle_watch() : -1 ;
  putraw("+ idling\r\n") ;
  flush() ;
  tain_now_g() ;
  tain_addsec_g(&end, timeout) ;
  for (;;)
  {
    tain deadline ;
    iopause_fd x[2] = { { .fd = 0, .events = IOPAUSE_READ, .revents = 0 }, { .fd = wfd, .events = IOPAUSE_READ, .revents = 0 } } ;
    int r ;
    update() ;
    flush() ;
    if (timedio_buffered(&io)) break ;
    if (selected) box_release(&cur) ;
    tain_now_g() ;
    tain_addsec_g(&deadline, idlepoll) ;
    if (tain_less(&end, &deadline)) deadline = end ;
    r = iopause_g(x, wfd >= 0 ? 2 : 1, &deadline) ;
    if (r < 0 && errno != EINTR) _exit(0) ;
    if (r > 0 && x[0].revents) break ;
    if (r > 0 && x[1].revents)
    {
      /* drain the events: what changed is read from the folder itself */
      char ev[4096] ;
      while (read(wfd, ev, sizeof ev) > 0) ;
    }
    if (!tain_less(&STAMP, &end)) { if (wfd >= 0) close(wfd) ; bye("autologout: idle for too long") ; }
  }
  if (wfd >= 0) close(wfd) ;
  {
    char line[64] ;
    size_t len ;
    tain deadline ;
    int r ;
    tain_now_g() ;
    tain_addsec_g(&deadline, timeout) ;
    r = timedio_getline(&io, line, sizeof line - 1, &len, &deadline) ;
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
    if (control_readulong(&hcache_max, "imapheadercache", hcache_max) < 0) strerr_warnwu("read control/imapheadercache") ;
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
  if (hcache_max > 1000000000) hcache_max = 1000000000 ;
}

/* First login: the special-use folders. */
static void special_folders (void)
{
  static char const *const names[4] = { "./.Sent", "./.Drafts", "./.Trash", "./.Junk" } ;
  unsigned int k ;
  for (k = 0 ; k < 4 ; k++)
    if (!isdir(names[k]) && !box_create(names[k]) && errno != EEXIST) strerr_warnwusys("create ", names[k]) ;
}

/* Over 80 lines: the session's start (environment, controls, the
   login's tagged OK) and the command loop, one dispatch line per command. */
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
    putraw(logintag) ; putraw(" OK [CAPABILITY " CAPS "] logged in\r\n") ;
  }
  else putraw("* PREAUTH [CAPABILITY " CAPS "] logged in\r\n") ;
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
    if (cmdis(cmd, cl, "FETCH") || cmdis(cmd, cl, "STORE") || cmdis(cmd, cl, "SEARCH") || cmdis(cmd, cl, "COPY")
     || cmdis(cmd, cl, "MOVE") || cmdis(cmd, cl, "EXPUNGE") || cmdis(cmd, cl, "CLOSE")) names_ready() ;
    if (cmdis(cmd, cl, "CAPABILITY")) { putraw("* CAPABILITY " CAPS "\r\n") ; tagged(tag, "OK CAPABILITY completed") ; }
    else if (cmdis(cmd, cl, "NOOP") || cmdis(cmd, cl, "CHECK")) { update() ; tagged(tag, "OK completed") ; }
    else if (cmdis(cmd, cl, "LOGOUT")) { putraw("* BYE logging out\r\n") ; tagged(tag, "OK LOGOUT completed") ; return 0 ; }
    else if (cmdis(cmd, cl, "ID")) { putraw("* ID (\"name\" \"postie\")\r\n") ; tagged(tag, "OK ID completed") ; }
    else if (cmdis(cmd, cl, "ENABLE")) { putraw("* ENABLED\r\n") ; tagged(tag, "OK ENABLE completed") ; }
    else if (cmdis(cmd, cl, "NAMESPACE")) { putraw("* NAMESPACE ((\"\" \".\")) NIL NIL\r\n") ; tagged(tag, "OK NAMESPACE completed") ; }
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
      if (!cur.readonly && (cmd[0] == 'C' || cmd[0] == 'c')) expunge(0, 0, 1) ;
      box_free(&cur) ; selected = 0 ;
      tagged(tag, "OK completed") ;
    }
    else if (cmdis(cmd, cl, "EXPUNGE"))
    {
      seqset s ;
      if (uid && (!p_sp(&p) || !p_seqset(&p, &s))) { bad(tag, "BAD syntax: UID EXPUNGE set") ; continue ; }
      if (cur.readonly) { tagged(tag, "NO [READ-ONLY] folder is read-only") ; continue ; }
      update() ;
      expunge(uid ? &s : 0, 0, 0) ;
      tagged(tag, "OK EXPUNGE completed") ;
    }
    else if (cmdis(cmd, cl, "SEARCH")) cmd_search(&cur, &p, uid, tag) ;
    else if (cmdis(cmd, cl, "FETCH")) cmd_fetch(&cur, &p, uid, tag) ;
    else if (cmdis(cmd, cl, "STORE")) cmd_store(&cur, &p, uid, tag) ;
    else if (cmdis(cmd, cl, "COPY")) cmd_copy(&p, tag, uid, 0) ;
    else if (cmdis(cmd, cl, "MOVE")) cmd_copy(&p, tag, uid, 1) ;
    else bad(tag, "BAD unknown command") ;
    if (c.a > CMD_MAX) stralloc_free(&c) ;
    if (selected) box_release(&cur) ;
  }
}
