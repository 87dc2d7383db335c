#!/usr/bin/python3
"""The POP3 chain postie-popup -> postie-checkpassword -> postie-pop3d on
loopback behind ucspi-tcp's tcpserver, with python's poplib and with
fetchmail: retrieve, delete, keep, UIDL stable across sessions and across
the new/ -> cur/ move, an interrupted session deletes nothing, a message
arriving mid-session waits for the next one, seen flags, CRLF and
byte-stuffing, hostile input before and after login, timeouts.

Mail is put into the Maildir by writing files directly (tmp/ then new/, as
a delivery agent does): postie-send is not on main yet, so a message
injected with postie-queue would not reach the Maildir. One message is
delivered by postie-local itself (run as the user) when it is built."""
import os, poplib, re, shutil, socket, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from poptest import *

# The instance and the homes are in a directory every uid can traverse:
# postie-pop3d reads control/ as the user.
pub = public_tmp("pop3")
sandir = san_reports_into(pub)
home = pop_instance(pub)
root = os.geteuid() == 0
uid = 4242 if root else os.getuid()
gid = 4243 if root else os.getgid()
uhome = os.path.join(pub, "alice")
md = make_maildir(os.path.join(uhome, "Maildir"), uid, gid)
chown_r(uhome, uid, gid)
users(home, "add", "alice", str(uid), str(gid), uhome, password="alice pw")
os.makedirs(os.path.join(pub, "bob"))
chown_r(os.path.join(pub, "bob"), uid, gid)
users(home, "add", "bob", str(uid), str(gid), os.path.join(pub, "bob"), password="bob pw")  # no Maildir

srv = Pop3Server(home)
PORT = srv.port


def login(user="alice", pw="alice pw"):
    c = poplib.POP3("127.0.0.1", PORT, timeout=20)
    c.user(user)
    c.pass_(pw)
    return c


def msg(i, body=b"hello\n"):
    return b"From: a@example.org\nTo: alice@example.org\nSubject: message %d\n\n" % i + body


def files(sub):
    return sorted(os.listdir(os.path.join(md, sub)))


def wire(m):
    """The size as sent (RFC 1939 11): CRLF line ends, no stuffing."""
    out = m.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if m and not m.endswith(b"\n"):
        out += b"\n" if m.endswith(b"\r") else b"\r\n"
    return len(out)


def sizes_agree(c):
    """For every message: LIST's size, RETR's "+OK N octets" and the
    octets poplib counted in the RETR'd lines (as sent, stuffing dots and
    the final "." not counted) are one number. Returns (ok, detail)."""
    detail = []
    for l in c.list()[1]:
        n, size = map(int, l.split())
        resp, lines, octets = c.retr(n)
        counted = sum(len(x) + 2 for x in lines)
        detail.append((n, size, resp, octets, counted))
        if not (size == octets == counted and resp.startswith(b"+OK %d octets" % size)):
            return False, detail
    return bool(detail), detail

try:
    # --- poplib: list, retrieve, CRLF, byte-stuffing, TOP, CAPA
    m1 = msg(1, b"line one\n.starts with a dot\n..two dots\n.\nend without newline")
    m2 = b"Subject: crlf\r\n\r\nalready crlf\r\nbare\rcr\r\n"
    n1 = deliver(md, m1, uid, gid)
    time.sleep(0.01)
    n2 = deliver(md, m2, uid, gid, where="cur", name="%d.M9P9.test:2," % (int(time.time()) + 1))
    c = poplib.POP3("127.0.0.1", PORT, timeout=20)
    check("greeting", c.getwelcome().startswith(b"+OK pop.test"), repr(c.getwelcome()))
    caps = c.capa()
    check("capa-before-login", "USER" in caps and "UIDL" in caps and "TOP" in caps and "SASL" in caps and "RESP-CODES" in caps, repr(caps))
    c.user("alice")
    r = c.pass_("alice pw")
    check("login", r.startswith(b"+OK"), repr(r))
    check("stat", c.stat() == (2, wire(m1) + wire(m2)), repr((c.stat(), wire(m1), wire(m2))))
    ok, detail = sizes_agree(c)
    check("list-size-as-sent", ok, repr(detail))
    resp, lines, _ = c.retr(1)
    want1 = m1.replace(b"\n", b"\r\n").split(b"\r\n")
    check("retr-content-lf", lines == want1, repr(lines))
    resp, lines, _ = c.retr(2)
    check("retr-content-crlf", lines == [b"Subject: crlf", b"", b"already crlf", b"bare\rcr"], repr(lines))
    resp, lines, _ = c.top(1, 1)
    check("top", lines == [b"From: a@example.org", b"To: alice@example.org", b"Subject: message 1", b"", b"line one"], repr(lines))
    resp, lines, _ = c.top(1, 0)
    check("top-0", lines[-1] == b"" and len(lines) == 4, repr(lines))
    u1 = c.uidl()[1]
    check("uidl-from-name", u1 == [b"1 " + n1.encode(), b"2 " + n2.split(":")[0].encode()], repr(u1))
    check("capa-after-login", "UIDL" in c.capa())
    check("new-moved-to-cur", files("new") == [] and n1 + ":2," in files("cur"), repr(files("cur")))
    # a message arriving during the session is not part of it
    n3 = deliver(md, msg(3), uid, gid)
    check("arrival-not-in-session", c.stat()[0] == 2 and len(c.list()[1]) == 2)
    c.quit()
    check("seen-flag-after-quit", n1 + ":2,S" in files("cur") and n2 + "S" in files("cur"), repr(files("cur")))

    # --- Sizes of messages without ,W= in their names are counted once and
    # kept in postie-pop3d.sizes: a second session believes the file (the
    # proof: a doctored entry is what LIST shows), a changed message is
    # counted again.
    cache = os.path.join(md, "postie-pop3d.sizes")
    check("sizes-cache-written", os.path.exists(cache), repr(os.listdir(md)))
    lines_ = open(cache, "rb").read().splitlines() if os.path.exists(cache) else []
    keys = sorted(l.split(b" ", 3)[3] for l in lines_)
    check("sizes-cache-entries", keys == sorted([n1.encode(), n2.split(":")[0].encode()]), repr(lines_))
    doctored = [b" ".join([str(int(l.split()[0]) + 1000).encode()] + l.split(b" ", 3)[1:]) if l.endswith(n1.encode()) else l
                for l in lines_]
    with open(cache, "wb") as f:
        f.write(b"\n".join(doctored) + b"\n")
    c = login()
    sizes = dict(map(int, l.split()) for l in c.list()[1])
    uid_ = dict(l.split() for l in c.uidl()[1])
    k1 = [int(k) for k, v in uid_.items() if v == n1.encode()]
    check("sizes-cache-believed", k1 and sizes[k1[0]] == wire(m1) + 1000, repr((sizes, wire(m1))))
    c.quit()
    p1 = [os.path.join(md, "cur", f) for f in files("cur") if f.startswith(n1)][0]
    st = os.stat(p1)
    with open(p1, "ab") as f:
        f.write(b"\nmore\n")
    os.utime(p1, ns=(st.st_atime_ns, st.st_mtime_ns))
    c = login()
    ok, detail = sizes_agree(c)
    check("sizes-cache-stale-recounted", ok, repr(detail))
    c.quit()
    with open(p1, "wb") as f:
        f.write(m1)
    os.utime(p1, ns=(st.st_atime_ns, st.st_mtime_ns))

    # --- UIDL stable across sessions and across new/ -> cur/
    c = login()
    u2 = dict(l.split() for l in c.uidl()[1])
    check("uidl-stable-across-sessions", set(u2.values()) == {n1.encode(), n2.split(":")[0].encode(), n3.encode()}, repr(u2))
    check("third-message-seen-now", c.stat()[0] == 3)
    check("list-single", c.list(3).startswith(b"+OK 3 "), "")
    check("uidl-single", c.uidl(3) == b"+OK 3 " + u2[b"3"], repr(c.uidl(3)))

    # --- DELE, RSET, QUIT deletes
    c.dele(1)
    check("dele-hides", c.stat()[0] == 2)
    try:
        c.retr(1)
        check("retr-deleted-err", False, "no error")
    except poplib.error_proto as e:
        check("retr-deleted-err", str(e).startswith("b'-ERR"), str(e))
    c.rset()
    check("rset-restores", c.stat()[0] == 3)
    c.dele(1)
    c.quit()
    check("quit-deletes", not any(f.startswith(n1) for f in files("cur")) and len(files("cur")) == 2, repr(files("cur")))

    # --- An interrupted session deletes nothing
    c = login()
    c.dele(1)
    c.dele(2)
    c.sock.close()
    time.sleep(0.3)
    check("dropped-session-deletes-nothing", len(files("cur")) == 2, repr(files("cur")))
    c = login()
    check("dropped-session-next-sees-all", c.stat()[0] == 2)
    c.quit()

    # --- A message delivered by postie-local (when it is built) is served
    if os.path.exists(prog("postie-local")):
        mf = os.path.join(pub, "local-msg")
        with open(mf, "wb") as f:
            f.write(b"Subject: via postie-local\n\n.leading dot\n")
        c = login()
        before = set(l.split()[1] for l in c.uidl()[1])
        c.quit()
        def asuser():
            if root:
                os.setgroups([gid])
                os.setgid(gid)
                os.setuid(uid)
        with open(mf, "rb") as f:
            p = subprocess.run([prog("postie-local"), "alice", uhome, "alice", "", "example.org", "s@example.net", ""],
                               stdin=f, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_for(home),
                               preexec_fn=asuser, timeout=30)
        check("postie-local-delivers", p.returncode == 0, p.stdout + p.stderr)
        c = login()
        newu = [l.split() for l in c.uidl()[1] if l.split()[1] not in before]
        check("postie-local-one-new", len(newu) == 1, repr(newu))
        n = int(newu[0][0]) if newu else 1
        lines = c.retr(n)[1]
        c.quit()
        check("postie-local-message-served", b"Subject: via postie-local" in lines and b".leading dot" in lines, repr(lines))
        lname = [f for f in files("cur") if f.startswith(newu[0][1].decode())] if newu else []
        want_s = os.path.getsize(os.path.join(md, "cur", lname[0])) if lname else -1
        check("postie-local-size-fields", lname and re.search(r",S=%d,W=%d(:|$)" % (want_s, wire(open(os.path.join(md, "cur", lname[0]), "rb").read())), lname[0]),
              repr(lname))
        c = login()
        ok, detail = sizes_agree(c)
        c.quit()
        check("postie-local-list-size-as-sent", ok, repr(detail))
        c = login()
        check("postie-local-message-uidl-stable", newu and c.uidl(n).split()[2] == newu[0][1])
        c.dele(n)
        c.quit()
    else:
        skip("postie-local-delivers", "postie-local not built")

    # --- AUTH PLAIN (RFC 5034) through the same chain
    import base64
    r = Raw(PORT)
    r.line()
    tok = base64.b64encode(b"\0alice\0alice pw")
    check("auth-plain-initial", r.cmd(b"AUTH PLAIN " + tok).startswith(b"+OK"))
    check("auth-plain-session", r.cmd(b"STAT").startswith(b"+OK 2 "))
    r.cmd(b"QUIT")
    r.close()
    r = Raw(PORT)
    r.line()
    check("auth-plain-continue", r.cmd(b"AUTH PLAIN") == b"+ ")
    check("auth-plain-continue-ok", r.cmd(base64.b64encode(b"alice\0alice\0alice pw")).startswith(b"+OK"))
    r.cmd(b"QUIT")
    r.close()
    r = Raw(PORT)
    r.line()
    check("auth-plain-bad", r.cmd(b"AUTH PLAIN " + base64.b64encode(b"\0alice\0nope")) == b"-ERR [AUTH] authentication failed")
    check("auth-plain-authzid-other", r.cmd(b"AUTH PLAIN " + base64.b64encode(b"bob\0alice\0alice pw")).startswith(b"-ERR [AUTH]"))
    check("auth-plain-cancel", r.cmd(b"AUTH PLAIN") == b"+ " and r.cmd(b"*").startswith(b"-ERR"))
    check("auth-plain-bad-base64", r.cmd(b"AUTH PLAIN !!!!").startswith(b"-ERR"))
    check("auth-other-mechanism", r.cmd(b"AUTH CRAM-MD5").startswith(b"-ERR"))
    check("auth-list", r.cmd(b"AUTH") == b"+OK" and r.multi() == [b"PLAIN"])
    r.close()

    # --- Hostile input before login: each gets -ERR, no crash
    r = Raw(PORT)
    r.line()
    check("pre-login-stat", r.cmd(b"STAT") == b"-ERR authorization first")
    check("pre-login-retr", r.cmd(b"RETR 1").startswith(b"-ERR"))
    check("pass-before-user", r.cmd(b"PASS x").startswith(b"-ERR"))
    check("overlong-user", r.cmd(b"USER " + b"a" * 1000) == b"-ERR line too long")
    check("overlong-pass", r.cmd(b"USER alice") == b"+OK" and r.cmd(b"PASS " + b"p" * 5000) == b"-ERR line too long")
    try:
        r.send(b"X" * 1000000)  # more than pop3maxbad x 64 KiB: the server stops reading
    except OSError:
        pass
    check("endless-line-bounded", r.line() == b"-ERR line too long, closing connection" and r.closed(20), "")
    r.close()
    # a line without end is answered and closed once it is 64 KiB past the
    # limit, not read on until the timeout (or pop3maxbad x 64 KiB)
    for where in ("before-login", "after-login"):
        r = Raw(PORT)
        r.line()
        if where == "after-login":
            r.cmd(b"USER alice")
            r.cmd(b"PASS alice pw")
        r.send(b"NOOP " + b"y" * 100000)
        t0 = time.time()
        try:
            l = r.line()
        except OSError as e:
            l = repr(e).encode()
        want = b"-ERR line too long, closing connection" + (b", no changes made" if where == "after-login" else b"")
        check("endless-line-closed-" + where, l == want and r.closed(5) and time.time() - t0 < 5, repr(l))
        r.close()
    r = Raw(PORT)
    r.line()
    check("garbage-bytes", r.cmd(bytes(range(1, 10)) + b"\xff\xfe\x80junk").startswith(b"-ERR"))
    check("nul-in-command", r.cmd(b"US\0ER alice").startswith(b"-ERR"))
    check("unknown-command", r.cmd(b"HELO there") == b"-ERR unknown command")
    check("still-alive-after-garbage", r.cmd(b"NOOP").startswith(b"-ERR") and r.cmd(b"QUIT") == b"+OK bye")
    r.close()
    r = Raw(PORT)
    r.line()
    check("bad-password", r.cmd(b"USER alice") == b"+OK" and r.cmd(b"PASS wrong") == b"-ERR [AUTH] authentication failed")
    check("unknown-user", r.cmd(b"USER mallory") == b"+OK" and r.cmd(b"PASS alice pw") == b"-ERR [AUTH] authentication failed")
    check("too-many-failures", r.cmd(b"USER alice") == b"+OK" and r.cmd(b"PASS wrong").startswith(b"-ERR [AUTH]") and r.closed())
    r.close()
    r = Raw(PORT)
    r.line()
    for i in range(9):
        r.cmd(b"BOGUS")
    check("too-many-bad-commands", r.cmd(b"BOGUS") == b"-ERR unknown command" and r.line() == b"-ERR too many bad commands" and r.closed())
    r.close()
    r = Raw(PORT)
    r.line()
    r.send(b"USER alice\r\nPASS alice pw\r\nSTAT\r\nQUIT\r\n")  # pipelined across the login
    got = [r.line() for _ in range(4)]
    check("pipelined-login", got[0] == b"+OK" and got[1].startswith(b"+OK") and got[2].startswith(b"+OK 2 ") and got[3] == b"+OK bye", repr(got))
    r.close()
    r = Raw(PORT)
    r.line()
    r.cmd(b"USER bob")
    check("no-maildir-temp-error", r.cmd(b"PASS bob pw") == b"-ERR [SYS/TEMP] temporary failure")
    r.close()
    r = Raw(PORT)
    r.send(b"USER alice\r\nPASS " + b"x" * 100)
    r.s.shutdown(socket.SHUT_WR)
    check("eof-mid-line", r.line().startswith(b"+OK") and r.line() == b"+OK" and r.closed())
    r.close()

    # --- The delay after a failed login (control/pop3faildelay)
    with open(os.path.join(home, "control", "pop3faildelay"), "w") as f:
        f.write("1\n")
    r = Raw(PORT)
    r.line()
    r.cmd(b"USER alice")
    t0 = time.time()
    resp = r.cmd(b"PASS wrong")
    dt = time.time() - t0
    check("fail-delay", resp.startswith(b"-ERR [AUTH]") and dt >= 0.9, "%.2f s" % dt)
    t0 = time.time()
    r.cmd(b"USER alice")
    resp = r.cmd(b"PASS alice pw")
    check("no-delay-on-success", resp.startswith(b"+OK") and time.time() - t0 < 0.9 + (5 if SAN else 0.5), "")
    r.close()
    with open(os.path.join(home, "control", "pop3faildelay"), "w") as f:
        f.write("0\n")

    # --- Hostile input after login (with room for more bad commands)
    with open(os.path.join(home, "control", "pop3maxbad"), "w") as f:
        f.write("50\n")
    r = Raw(PORT)
    r.line()
    r.cmd(b"USER alice")
    r.cmd(b"PASS alice pw")
    for name, cmd in [("retr-0", b"RETR 0"), ("retr-too-big", b"RETR 99"), ("retr-not-number", b"RETR x"),
                      ("retr-negative", b"RETR -1"), ("retr-huge", b"RETR 99999999999999999999"),
                      ("retr-missing", b"RETR"), ("top-missing-lines", b"TOP 1"), ("top-bad-lines", b"TOP 1 x"),
                      ("dele-missing", b"DELE"), ("stat-with-arg", b"STAT 1"), ("user-after-login", b"USER x"),
                      ("overlong-after-login", b"LIST " + b"1" * 400), ("garbage-after-login", b"\x01\x02\xff"),
                      ("list-bad", b"LIST 1 2")]:
        check("after-login-" + name, r.cmd(cmd).startswith(b"-ERR"))
    check("after-login-still-serving", r.cmd(b"STAT").startswith(b"+OK 2 "))
    r.cmd(b"QUIT")
    r.close()
    os.unlink(os.path.join(home, "control", "pop3maxbad"))
    r = Raw(PORT)
    r.line()
    r.cmd(b"USER alice")
    r.cmd(b"PASS alice pw")
    r.cmd(b"DELE 1")
    for i in range(9):
        r.cmd(b"BOGUS")
    check("after-login-too-many-bad", r.cmd(b"BOGUS") == b"-ERR unknown command" and r.line() == b"-ERR too many bad commands" and r.closed())
    r.close()
    check("after-login-too-many-bad-deletes-nothing", len(files("cur")) == 2)

    # --- Timeouts (control/pop3timeout = 1 second)
    with open(os.path.join(home, "control", "pop3timeout"), "w") as f:
        f.write("1\n")
    r = Raw(PORT)
    r.line()
    t0 = time.time()
    check("timeout-before-login", r.line().startswith(b"-ERR autologout") and r.closed() and time.time() - t0 < 5)
    r.close()
    r = Raw(PORT)
    r.line()
    r.cmd(b"USER alice")
    r.cmd(b"PASS alice pw")
    r.cmd(b"DELE 1")
    check("timeout-after-login", r.line().startswith(b"-ERR autologout") and r.closed())
    r.close()
    check("timeout-deletes-nothing", len(files("cur")) == 2)
    os.unlink(os.path.join(home, "control", "pop3timeout"))

    # --- fetchmail: keep, then fetch and delete
    fm = os.path.join(home, "fetchmail")
    os.makedirs(fm, exist_ok=True)
    rc = os.path.join(fm, "rc")
    out = os.path.join(fm, "out")
    with open(rc, "w") as f:
        f.write('poll 127.0.0.1 service %d protocol pop3 auth password user "alice" password "alice pw" mda "/bin/sh -c \'cat >> %s\'"\n' % (PORT, out))
    os.chmod(rc, 0o600)
    fenv = dict(os.environ, HOME=fm, FETCHMAILHOME=fm)
    def fetchmail(*extra):
        return subprocess.run(["fetchmail", "-f", rc, "--nosyslog", "--sslproto", "", "--idfile", os.path.join(fm, "ids"),
                               "-v"] + list(extra), env=fenv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    before = files("cur")
    p = fetchmail("-k", "-a")
    got = open(out, "rb").read() if os.path.exists(out) else b""
    check("fetchmail-keep", p.returncode == 0 and b"message 3" in got and b"crlf" in got and files("cur") and
          len(files("cur")) == 2, p.stdout.decode(errors="replace")[-2000:])
    n4 = deliver(md, msg(4, b".dotted\nbody four\n"), uid, gid)
    os.unlink(out)
    p = fetchmail("-a")
    got = open(out, "rb").read() if os.path.exists(out) else b""
    check("fetchmail-fetch-delete", p.returncode == 0 and got.count(b"Subject:") == 3 and b"\n.dotted\n" in got
          and files("cur") == [] and files("new") == [], p.stdout.decode(errors="replace")[-2000:])
    p = fetchmail()
    check("fetchmail-nothing-left", p.returncode == 1, "rc=%d" % p.returncode)  # 1 = no mail

    # --- The same chain behind postie-tcpserver
    if os.path.exists(prog("postie-tcpserver")):
        srv2 = Pop3Server(home, server=[prog("postie-tcpserver")])
        try:
            c = poplib.POP3("127.0.0.1", srv2.port, timeout=20)
            c.user("alice")
            ok = c.pass_("alice pw").startswith(b"+OK") and c.stat()[0] >= 0
            c.quit()
            check("behind-postie-tcpserver", ok)
        finally:
            srv2.stop()
    else:
        skip("behind-postie-tcpserver", "postie-tcpserver not built")

    # --- 10,000 messages: start-up time and memory
    big = make_maildir(os.path.join(uhome, "Big"))
    body = b"Subject: x\n\nsmall\n"
    t = int(time.time()) - 100000
    for i in range(10000):
        with open(os.path.join(big, "cur", "%d.M%dP%d.test:2,S" % (t + i, i, i)), "wb") as f:
            f.write(body)
    chown_r(big, uid, gid)
    def session(maildir):
        """Run checkpassword -> pop3d on a socketpair; returns (seconds to
        the +OK, peak RSS kB of pop3d, messages)."""
        rfd, wfd = os.pipe()
        os.write(wfd, b"alice\0alice pw\0")
        os.close(wfd)
        a, b = socket.socketpair()
        t0 = time.perf_counter()
        p = subprocess.Popen([prog("postie-checkpassword"), prog("postie-pop3d"), maildir], stdin=b, stdout=b,
                             close_fds=False, preexec_fn=lambda: os.dup2(rfd, 3) if rfd != 3 else os.set_inheritable(3, True), env=env_for(home),
                             stderr=subprocess.PIPE)
        os.close(rfd)
        b.close()
        f = a.makefile("rb")
        greet = f.readline()
        dt = time.perf_counter() - t0
        hwm = 0
        try:
            for l in open("/proc/%d/status" % p.pid):
                if l.startswith("VmHWM:"):
                    hwm = int(l.split()[1])
        except OSError:
            pass
        a.sendall(b"STAT\r\nQUIT\r\n")
        stat = f.readline()
        f.readline()
        p.wait(30)
        a.close()
        return dt, hwm, greet, stat
    dt0, hwm0, g0, s0 = session("Maildir/")
    dt, hwm, g, s = session("Big/")
    print("10,000-message Maildir: session start %.3f s (empty: %.3f s), pop3d peak RSS %d kB (empty: %d kB)" % (dt, dt0, hwm, hwm0))
    check("big-maildir-stat", s.startswith(b"+OK 10000 "), repr((g, s)))
    # the same, all in new/: the first session moves them to cur/
    bign = make_maildir(os.path.join(uhome, "BigNew"))
    for i in range(10000):
        with open(os.path.join(bign, "new", "%d.M%dP%d.test" % (t + i, i, i)), "wb") as f:
            f.write(body)
    chown_r(bign, uid, gid)
    dtn, hwmn, gn, sn = session("BigNew/")
    print("10,000 messages in new/: first session start %.3f s (moves to cur/)" % dtn)
    check("big-new-maildir-stat", sn.startswith(b"+OK 10000 ") and len(os.listdir(os.path.join(bign, "cur"))) == 10000, repr((gn, sn)))
    check("big-new-maildir-start-under-5s", dtn < 5, "%.3f s" % dtn)
    check("big-maildir-start-under-5s", dt < 5, "%.3f s" % dt)
    if SAN:
        skip("big-maildir-memory", "memory measurements are meaningless under sanitizers")
    else:
        per = (hwm - hwm0) * 1024 / 10000
        print("memory per message: %.0f bytes" % per)
        check("big-maildir-memory", hwm and per < 300, "%.0f bytes per message" % per)
    # --- The log: every login (user, address, result), every session's end
    # with what was retrieved and deleted.
    deliver(md, msg(5), uid, gid)
    deliver(md, msg(6), uid, gid)
    c = login()
    myport = c.sock.getsockname()[1]
    n = len(c.list()[1])
    c.retr(1)
    c.retr(1)
    if n > 1:
        c.retr(2)
    c.quit()
    time.sleep(0.3)
    log = srv.stderr()
    check("log-login-ok", re.search(r"^postie-pop3d: login user=alice ip=127\.0\.0\.1 port=%d ok messages=%d octets=\d+$" % (myport, n), log, re.M), log[-2000:])
    check("log-session-end", re.search(r"^postie-pop3d: session user=alice ip=127\.0\.0\.1 port=%d retrieved=%d deleted=0 end=quit$" % (myport, min(n, 2)), log, re.M), log[-2000:])
    check("log-session-deleted", re.search(r"^postie-pop3d: session user=alice ip=127\.0\.0\.1 port=\d+ retrieved=\d+ deleted=[1-9]\d* end=quit$", log, re.M), log[-2000:])
    check("log-session-dropped", re.search(r"^postie-pop3d: session user=alice .* deleted=0 end=(eof|readerror)$", log, re.M), log[-2000:])
    check("log-login-failed", re.search(r"^postie-popup: login user=alice ip=127\.0\.0\.1 port=\d+ failed$", log, re.M)
          and re.search(r"^postie-popup: login user=mallory ip=127\.0\.0\.1 port=\d+ failed$", log, re.M), log[-2000:])
    check("log-login-tempfail", re.search(r"^postie-popup: login user=bob ip=127\.0\.0\.1 port=\d+ tempfail$", log, re.M), log[-2000:])

    odd = [l for l in srv.stderr().splitlines() if ("fatal" in l and "chdir to the Maildir" not in l) or "crash" in l or ("warning" in l and "exited 111" not in l)]
    check("server-stderr-clean", not odd, "\n".join(odd[-20:]))
    if SAN:
        reports = sorted(os.listdir(sandir))
        text = "".join(open(os.path.join(sandir, r), errors="replace").read()[:2000] for r in reports)
        check("no-sanitizer-reports", not reports, text)
finally:
    srv.stop()
    shutil.rmtree(pub, ignore_errors=True)
done()
