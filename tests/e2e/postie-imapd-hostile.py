#!/usr/bin/python3
"""Hostile input to postie-imapup and postie-imapd (in clear, with
AUTHCLEARTEXT, on loopback): commands before login, absurd literal sizes
(synchronizing: refused and the session goes on; non-synchronizing: the
session ends), LOGIN with literals and LITERAL+, overlong lines, the
pre-login command limit; after login an APPEND of absurd size, MIME
nested thousands deep (BODYSTRUCTURE and a deep section stay bounded),
SEARCH nested too deep, FETCH of a message that does not exist."""
import os, re, shutil, socket, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from poptest import *
from tcp import Server

pub = public_tmp("imapd-hostile")
sandir = san_reports_into(pub)
home = pop_instance(pub)
for name, val in (("imapfaildelay", "0"), ("imapmaxcmds", "30")):
    with open(os.path.join(home, "control", name), "w") as f:
        f.write(val + "\n")
root = os.geteuid() == 0
uid = 4242 if root else os.getuid()
gid = 4243 if root else os.getgid()
uhome = os.path.join(pub, "alice")
md = make_maildir(os.path.join(uhome, "Maildir"), uid, gid)
chown_r(uhome, uid, gid)
users(home, "add", "alice", str(uid), str(gid), uhome, password="alice pw")
srv = Server(["-v"], "127.0.0.1", [prog("postie-imapup"), "imap.test", prog("postie-checkpassword"), prog("postie-imapd")],
             os.path.join(pub, "srv.log"), env={"POSTIE_HOME": home, "AUTHCLEARTEXT": "1"})

DEPTH = 3000
deep = b"From: x@example.org\nSubject: deep\nMIME-Version: 1.0\n"
for i in range(DEPTH):
    deep += b"Content-Type: multipart/mixed; boundary=\"b%d\"\n\n--b%d\n" % (i, i)
deep += b"Content-Type: text/plain\n\ninnermost\n"
for i in reversed(range(DEPTH)):
    deep += b"--b%d--\n" % i


class C(Raw):
    def tagged(self, tag):
        """lines up to the tagged reply; returns (untagged, tagged)"""
        out = []
        while True:
            l = self.line()
            if l.startswith(tag + b" ") or l == b"":
                return out, l
            out.append(l)


def login(c):
    c.line()
    c.send(b"l LOGIN alice \"alice pw\"\r\n")
    return c.tagged(b"l")[1]


try:
    deliver(md, deep, uid, gid)

    c = C(srv.port)
    g = c.line()
    check("greeting-authplain", b"AUTH=PLAIN" in g and b"LOGINDISABLED" not in g, g)
    for cmd in (b"a SELECT INBOX", b"b FETCH 1 BODY[]", b"c UID FETCH 1 FLAGS", b"d IDLE"):
        r = c.cmd(cmd)
        check("before-login-" + cmd.split()[1].decode().lower(), r.startswith(cmd.split()[0] + b" BAD"), r)
    r = c.cmd(b"e LOGIN {4294967296}")
    check("login-literal-absurd-sync", r == b"e BAD literal too big", r)
    r = c.cmd(b"f NOOP")
    check("alive-after-absurd-literal", r.startswith(b"f OK"), r)
    c.send(b"g NOOP " + b"x" * 60000 + b"\r\n")
    r = c.line()
    check("prelogin-long-line", r == b"* BAD line too long", r)
    r = c.cmd(b"h NOOP")
    check("alive-after-long-line", r.startswith(b"h OK"), r)
    c.send(b"i LOGIN {5}\r\n")
    r = c.line()
    check("login-literal-continuation", r.startswith(b"+"), r)
    c.send(b"alice {8}\r\n")
    r = c.line()
    c.send(b"alice pw\r\n")
    r2 = c.line()
    check("login-literals", r.startswith(b"+") and r2.startswith(b"i OK"), (r, r2))
    r = c.cmd(b"j LOGOUT")
    c.close()

    c = C(srv.port)
    c.line()
    c.send(b"k LOGIN {5+}\r\nalice {8+}\r\nalice pw\r\n")
    r = c.line()
    check("login-literal-plus", r.startswith(b"k OK"), r)
    c.close()

    c = C(srv.port)
    c.line()
    c.send(b"a LOGIN {99999999999+}\r\n")
    r = c.line()
    r2 = c.line()
    check("login-literal-absurd-nonsync", r.startswith(b"a BAD") and r2.startswith(b"* BYE") and c.closed(), (r, r2))

    c = C(srv.port)
    c.line()
    for i in range(30):
        c.cmd(b"n%d NOOP" % i)
    r = c.cmd(b"last NOOP")
    check("prelogin-maxcmds", r.startswith(b"* BYE too many commands"), r)
    c.close()

    # AUTHENTICATE with a non-synchronizing literal (the initial response
    # is an atom): refused, and the session ends rather than read the
    # literal's bytes as a command.
    c = C(srv.port)
    c.line()
    c.send(b"a AUTHENTICATE PLAIN {6+}\r\nx NOOP\r\n")
    rest = []
    try:
        while True:
            l = c.line()
            if not l:
                break
            rest.append(l)
    except (ConnectionResetError, socket.timeout, TimeoutError):
        pass  # closed with the literal unread: a reset may come first
    check("authenticate-literal-plus", rest[:1] and rest[0].startswith(b"a BAD")
          and not any(l.startswith(b"x ") for l in rest), rest)

    # After login.
    c = C(srv.port)
    r = login(c)
    check("login", r.startswith(b"l OK [CAPABILITY"), r)
    r = c.cmd(b"a APPEND INBOX {99999999999}")
    check("append-absurd-sync", r.startswith(b"a NO [TOOBIG]"), r)
    c.send(b"b SELECT INBOX\r\n")
    u, r = c.tagged(b"b")
    check("select-after-absurd-append", r.startswith(b"b OK") and b"* 1 EXISTS" in u, (u, r))
    t0 = time.time()
    c.send(b"c FETCH 1 (BODYSTRUCTURE)\r\n")
    u, r = c.tagged(b"c")
    check("deep-mime-bodystructure", r.startswith(b"c OK") and len(u) == 1 and b"application" in u[0] and u[0].count(b"\"mixed\"") == 20 and time.time() - t0 < 20, (r, len(u), u[0][:300], time.time() - t0))
    sec = b".".join([b"1"] * 25)
    c.send(b"d FETCH 1 (BODY.PEEK[" + sec + b"])\r\n")
    u, r = c.tagged(b"d")
    check("deep-section", r.startswith(b"d BAD") or (r.startswith(b"d OK") and len(u) == 1), (u[:1], r))
    c.send(b"e SEARCH " + b"NOT " * 200 + b"ALL\r\n")
    u, r = c.tagged(b"e")
    check("search-too-deep", r.startswith(b"e BAD"), r)
    r = c.cmd(b"f FETCH 99 FLAGS")
    check("fetch-no-such-message", r.startswith(b"f BAD"), r)
    c.send(b"g NOOP " + b"x" * 70000 + b"\r\n")
    r = c.line()
    check("session-long-line", r == b"* BAD line too long", r)
    r = c.cmd(b"h NOOP")
    check("session-alive", r.startswith(b"h OK"), r)
    c.send(b"i APPEND INBOX {99999999999+}\r\n")
    r = c.line()
    r2 = c.line()
    check("append-absurd-nonsync", r.startswith(b"i BAD") and r2.startswith(b"* BYE") and c.closed(), (r, r2))
    c.close()

    # A line with no end in sight (more than the line limit plus what is
    # skipped of it): the session ends, nothing past the read part is used.
    c = C(srv.port)
    login(c)
    c.send(b"a NOOP " + b"x" * 131172)
    r = c.line()
    check("endless-line-bye", r == b"* BYE line too long" and c.closed(), r)
    c.close()
    c = C(srv.port)
    login(c)
    c.send(b"s SELECT INBOX\r\n")
    c.tagged(b"s")
    c.send(b"a IDLE\r\n")
    r = c.line()
    c.send(b"x" * 70000)
    r2 = c.line()
    check("endless-idle-line-bye", r.startswith(b"+") and r2 == b"* BYE line too long" and c.closed(), (r, r2))
    c.close()

    # COPY into a folder with no tmp/ (a DELETE cut short, a hand-made
    # folder): NO, promptly, not a retry without end.
    os.makedirs(os.path.join(md, ".Notmp", "cur"))
    os.makedirs(os.path.join(md, ".Notmp", "new"))
    chown_r(os.path.join(md, ".Notmp"), uid, gid)
    c = C(srv.port)
    login(c)
    c.send(b"s SELECT INBOX\r\n")
    c.tagged(b"s")
    t0 = time.time()
    c.send(b"a COPY 1 Notmp\r\n")
    try:
        u, r = c.tagged(b"a")
    except (socket.timeout, TimeoutError):
        r = b"(no answer)"
    check("copy-into-folder-without-tmp", r.startswith(b"a NO") and time.time() - t0 < 5, (r, time.time() - t0))
    c.close()

    # LIST patterns: many wildcards against a long name take no time
    # (matching was exponential in them); '%' stops at the separator.
    long = "W" + "a" * 59
    for f in (long, "Wild", "Wild.sub", "Wildcat"):
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(md, "." + f, sub))
        chown_r(os.path.join(md, "." + f), uid, gid)
    c = C(srv.port)
    login(c)

    def names(tag, pat):
        c.send(tag + b" LIST \"\" " + pat + b"\r\n")
        try:
            u, r = c.tagged(tag)
        except (socket.timeout, TimeoutError):
            return None, b"(no answer)"
        return sorted(l.rsplit(b" ", 1)[1].strip(b'"').decode() for l in u if l.startswith(b"* LIST")), r
    t0 = time.time()
    got, r = names(b"a", b"************X")
    check("list-many-wildcards", r.startswith(b"a OK") and got == ["INBOX"] and time.time() - t0 < 5, (got, r, time.time() - t0))
    got, r = names(b"b", b"W*%*%*a*%a*")
    check("list-many-wildcards-match", r.startswith(b"b OK") and got == [long], (got, r))
    got, r = names(b"c", b"Wild%")
    check("list-percent", got == ["Wild", "Wildcat"], (got, r))
    got, r = names(b"d", b"Wild*")
    check("list-star", got == ["Wild", "Wild.sub", "Wildcat"], (got, r))
    got, r = names(b"e", b"%.s%b")
    check("list-percent-levels", got == ["Wild.sub"], (got, r))
    got, r = names(b"f", b"Wil")
    check("list-literal-prefix", got == [], (got, r))
    c.close()

    # SEARCH text keys are bounded: at most 16, each at most 1024 bytes.
    c = C(srv.port)
    login(c)
    c.send(b"s SELECT INBOX\r\n")
    c.tagged(b"s")
    c.send(b"a SEARCH" + b" BODY innermost" * 8 + b" OR SUBJECT deep HEADER X-No x" + b" TEXT x" * 6 + b"\r\n")
    u, r = c.tagged(b"a")
    check("search-16-text-keys", r.startswith(b"a OK") and u == [b"* SEARCH 1"], (u, r))
    c.send(b"b SEARCH" + b" BODY innermost" * 16 + b"\r\n")
    u, r = c.tagged(b"b")
    check("search-16-text-keys-match", r.startswith(b"b OK") and u == [b"* SEARCH 1"], (u, r))
    c.send(b"c SEARCH" + b" BODY innermost" * 16 + b" FROM x\r\n")
    u, r = c.tagged(b"c")
    check("search-17-text-keys", r.startswith(b"c NO [LIMIT]") and u == [], (u, r))
    c.send(b"d SEARCH BODY \"" + b"x" * 1024 + b"\"\r\n")
    u, r = c.tagged(b"d")
    check("search-needle-1024", r.startswith(b"d OK"), r)
    c.send(b"e SEARCH OR ALL SUBJECT {1025+}\r\n" + b"x" * 1025 + b"\r\n")
    u, r = c.tagged(b"e")
    check("search-needle-1025", r.startswith(b"e NO [LIMIT]") and u == [], (u, r))
    r = c.cmd(b"f NOOP")
    check("alive-after-search-limit", r.startswith(b"f OK"), r)
    c.close()

    # APPEND: a literal after a first one that filled imapmaxmessage (1000
    # here) is measured against what is left, not a wrapped difference.
    # (Controls are read by each session: this one and later ones only.)
    with open(os.path.join(home, "control", "imapmaxmessage"), "w") as f:
        f.write("1000\n")
    c = C(srv.port)
    login(c)
    c.send(b"a APPEND INBOX {1000+}\r\n" + b"x" * 1000 + b" {5000000000}\r\n")
    r = c.line()
    check("append-second-literal-too-big", r.startswith(b"a NO [TOOBIG]"), r)
    r = c.cmd(b"b NOOP")
    check("alive-after-second-literal", r.startswith(b"b OK"), r)
    c.close()
finally:
    srv.stop()
    if SAN:
        for n in os.listdir(sandir):
            print("FAIL sanitizer: " + open(os.path.join(sandir, n), errors="replace").read()[:2000])
    shutil.rmtree(pub, ignore_errors=True)
done()
