#!/usr/bin/python3
"""IMAP end to end: postie-tlsd [-r] postie-imapup imap.test
postie-checkpassword postie-imapd behind postie-tcpserver, with Python's
imaplib verifying the instance's certificate: STARTTLS (LOGINDISABLED and
refused logins before it; a command pipelined behind STARTTLS is not
answered inside TLS) and implicit TLS (AUTHENTICATE PLAIN, SASL-IR);
SELECT, SEARCH, FETCH of bodies, sections and BODYSTRUCTURE, STORE,
COPY and MOVE with UIDPLUS, EXPUNGE, APPEND, IDLE seeing a message
delivered meanwhile; UIDs that persist across sessions; the same
mailbox read by POP3 and IMAP, flags agreeing; a bad password."""
import base64, imaplib, os, re, shutil, socket, ssl, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from poptest import *
from tcp import Server, readline
from tlstest import make_cert, client_context

pub = public_tmp("imapd")
sandir = san_reports_into(pub)
home = pop_instance(pub)
with open(os.path.join(home, "control", "imapfaildelay"), "w") as f:
    f.write("0\n")
with open(os.path.join(home, "control", "imapidlepoll"), "w") as f:
    f.write("1\n")
ca = make_cert(home, "imap.test")
root = os.geteuid() == 0
uid = 4242 if root else os.getuid()
gid = 4243 if root else os.getgid()
uhome = os.path.join(pub, "alice")
md = make_maildir(os.path.join(uhome, "Maildir"), uid, gid)
chown_r(uhome, uid, gid)
users(home, "add", "alice", str(uid), str(gid), uhome, password="alice pw")
IMAPUP = [prog("postie-imapup"), "imap.test", prog("postie-checkpassword"), prog("postie-imapd")]
env = {"POSTIE_HOME": home}
req = Server(["-v"], "127.0.0.1", [prog("postie-tlsd"), "-r"] + IMAPUP, os.path.join(pub, "req.log"), env=env)
imp = Server(["-v"], "127.0.0.1", [prog("postie-tlsd")] + IMAPUP, os.path.join(pub, "imp.log"), env=env)
ctx = client_context(ca, "imap.test")

MULTI = (b"From: Carol <carol@example.org>\nTo: alice@example.org\nSubject: with attachment\n"
         b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"\n\npreamble\n--b1\n"
         b"Content-Type: text/plain; charset=utf-8\n\nthe text part\n--b1\n"
         b"Content-Type: application/octet-stream; name=\"x.bin\"\nContent-Transfer-Encoding: base64\n\nAAEC\n--b1--\n")


def msg(i):
    return b"From: Bob <bob@example.org>\nTo: alice@example.org\nSubject: message %d\n\nhello %d\nsecond line\n" % (i, i)


class TLS(imaplib.IMAP4_SSL):
    def _create_socket(self, timeout):
        return self.ssl_context.wrap_socket(socket.create_connection((self.host, self.port), timeout), server_hostname="imap.test")


def starttls_login():
    c = imaplib.IMAP4("127.0.0.1", req.port, timeout=20)
    c.host = "imap.test"
    c.starttls(ssl_context=ctx)
    c.login("alice", "alice pw")
    return c


try:
    deliver(md, msg(1), uid, gid)
    deliver(md, msg(2), uid, gid)
    deliver(md, MULTI, uid, gid)

    # Before TLS: STARTTLS and LOGINDISABLED; LOGIN and AUTHENTICATE refused.
    c = imaplib.IMAP4("127.0.0.1", req.port, timeout=20)
    check("greeting-caps", "STARTTLS" in c.capabilities and "LOGINDISABLED" in c.capabilities
          and "AUTH=PLAIN" not in c.capabilities, c.capabilities)
    try:
        c.login("alice", "alice pw")
        check("login-before-tls-refused", False, "accepted")
    except imaplib.IMAP4.error as e:
        check("login-before-tls-refused", "PRIVACYREQUIRED" in str(e), e)
    c.host = "imap.test"
    c.starttls(ssl_context=ctx)
    typ, caps = c.capability()
    check("caps-after-starttls", b"AUTH=PLAIN" in caps[0] and b"STARTTLS" not in caps[0] and b"LOGINDISABLED" not in caps[0], caps)
    try:
        c.login("alice", "wrong")
        check("bad-password", False, "accepted")
    except imaplib.IMAP4.error as e:
        check("bad-password", "AUTHENTICATIONFAILED" in str(e), e)
    check("failed-login-logged", re.search(r"postie-imapup: login user=alice ip=127\.0\.0\.1 port=\d+ failed", req.logtext()), req.logtext()[-500:])
    typ, d = c.login("alice", "alice pw")
    check("starttls-login", typ == "OK" and b"CAPABILITY" in d[0] or typ == "OK", (typ, d))

    typ, d = c.select("INBOX")
    check("select", typ == "OK" and d[0] == b"3", (typ, d))
    uidvalidity = c.untagged_responses.get("UIDVALIDITY", [b"?"])[0]
    typ, d = c.search(None, "SUBJECT", '"message 2"')
    check("search-subject", d == [b"2"], d)
    typ, d = c.search(None, "OR", "FROM", "carol", "BODY", "\"hello 1\"")
    check("search-or", d == [b"1 3"], d)
    typ, d = c.uid("SEARCH", None, "UNSEEN")
    check("uid-search-unseen", d == [b"1 2 3"], d)
    typ, d = c.fetch("1", "(RFC822.SIZE FLAGS BODY.PEEK[])")
    body = d[0][1]
    size = int(re.search(rb"RFC822.SIZE (\d+)", d[0][0]).group(1))
    check("fetch-body-crlf", body == msg(1).replace(b"\n", b"\r\n") and size == len(body) and b"\\Seen" not in d[0][0], d)
    typ, d = c.fetch("3", "(BODYSTRUCTURE)")
    bs = d[0]
    check("bodystructure", b'("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 13 1' in bs
          and b'("application" "octet-stream" ("name" "x.bin") NIL NIL "base64" 4' in bs and b'"mixed" ("boundary" "b1")' in bs, bs)
    typ, d = c.fetch("3", "(BODY[1] BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT]<0.8>)")
    parts = {p[0].split(b" ")[-2] if False else p[0]: p[1] for p in d if isinstance(p, tuple)}
    vals = [p[1] for p in d if isinstance(p, tuple)]
    check("fetch-sections", vals[0] == b"the text part" and vals[1] == b"Subject: with attachment\r\n\r\n" and vals[2] == b"preamble", d)
    typ, d = c.fetch("3", "(FLAGS)")
    check("body-sets-seen", b"\\Seen" in d[0], d)
    typ, d = c.fetch("1:2", "(UID ENVELOPE)")
    check("envelope", b'"message 1" (("Bob" NIL "bob" "example.org"))' in d[0], d)

    typ, d = c.store("1", "+FLAGS", "(\\Flagged \\Answered)")
    check("store", typ == "OK" and b"\\Flagged" in d[0] and b"\\Answered" in d[0], d)
    names = os.listdir(os.path.join(md, "cur"))
    check("flags-in-file-names", any(n.endswith(":2,FR") for n in names), names)

    typ, d = c.copy("1", "Trash")
    check("copy-copyuid", typ == "OK" and b"COPYUID" in d[0], (typ, d))
    typ, d = c.uid("MOVE", "2", "Junk")
    check("move", typ == "OK" and c.select("Junk", readonly=True)[1] == [b"1"], (typ, d))
    c.select("INBOX")
    typ, d = c.status("INBOX", "(MESSAGES UIDNEXT UIDVALIDITY)")
    check("status", b"MESSAGES 2" in d[0] and b"UIDVALIDITY " + uidvalidity in d[0], d)
    c.store("1", "+FLAGS", "\\Deleted")
    typ, d = c.expunge()
    check("expunge", d == [b"1"] and len(os.listdir(os.path.join(md, "cur"))) == 1, d)
    typ, d = c.append("Sent", "(\\Seen)", None, b"Subject: sent one\r\n\r\nbody\r\n")
    check("append-appenduid", typ == "OK" and b"APPENDUID" in d[0], d)
    sent = os.listdir(os.path.join(md, ".Sent", "cur"))
    check("append-file", len(sent) == 1 and sent[0].endswith(":2,S"), sent)
    typ, d = c.list()
    check("list-special-use", any(b"\\Sent" in x for x in d) and any(b"\\Trash" in x for x in d), d)

    # IDLE: a message delivered meanwhile shows up.
    c.send(b"i1 IDLE\r\n")
    l = c.readline()
    check("idle-continuation", l.startswith(b"+"), l)
    deliver(md, msg(4), uid, gid)
    c.sock.settimeout(10)
    l = c.readline()
    check("idle-exists", l == b"* 2 EXISTS\r\n", l)
    c.send(b"DONE\r\n")
    l = c.readline()
    check("idle-done", l.startswith(b"i1 OK"), l)
    typ, d = c.uid("FETCH", "1:*", "(UID)")
    uids1 = [re.search(rb"UID (\d+)", x).group(1) for x in d]
    c.logout()

    # A second session (implicit TLS, AUTHENTICATE PLAIN) sees the same UIDs.
    c = TLS("127.0.0.1", imp.port, ssl_context=ctx, timeout=20)
    check("implicit-caps", "AUTH=PLAIN" in c.capabilities and "STARTTLS" not in c.capabilities, c.capabilities)
    typ, d = c.authenticate("PLAIN", lambda x: b"\0alice\0alice pw")
    check("authenticate-plain", typ == "OK", (typ, d))
    c.select("INBOX")
    check("uidvalidity-kept", c.untagged_responses.get("UIDVALIDITY", [b"?"])[0] == uidvalidity)
    typ, d = c.uid("FETCH", "1:*", "(UID)")
    check("uids-kept", [re.search(rb"UID (\d+)", x).group(1) for x in d] == uids1, (d, uids1))
    c.logout()

    # SASL-IR in one line, and STARTTLS injection.
    s = socket.create_connection(("127.0.0.1", imp.port), 10)
    ts = ctx.wrap_socket(s, server_hostname="imap.test")
    readline(ts)
    ts.sendall(b"a AUTHENTICATE PLAIN " + base64.b64encode(b"\0alice\0alice pw") + b"\r\n")
    l = readline(ts)
    check("sasl-ir", l.startswith(b"a OK"), l)
    ts.sendall(b"b LOGOUT\r\n")
    ts.close()
    s = socket.create_connection(("127.0.0.1", req.port), 10)
    readline(s)
    s.sendall(b"a STARTTLS\r\nb CAPABILITY\r\n")
    l = readline(s)
    check("starttls-ok", l.startswith(b"a OK"), l)
    try:
        ts = ctx.wrap_socket(s, server_hostname="imap.test")
        ts.settimeout(3)
        ts.sendall(b"c NOOP\r\n")
        l = readline(ts)
        check("starttls-injection", l.startswith(b"c OK"), l)
        ts.close()
    except (ssl.SSLError, OSError):
        check("starttls-injection", True)
        s.close()

    # curl: imaps:// (implicit TLS) and imap:// with --ssl-reqd (STARTTLS),
    # the certificate verified; a message fetched by UID, the folder listed.
    for name, url, extra in (("curl-imaps", "imaps://imap.test:%d/INBOX;UID=%s" % (imp.port, uids1[-1].decode()), []),
                             ("curl-imap-starttls", "imap://imap.test:%d/INBOX;UID=%s" % (req.port, uids1[-1].decode()), ["--ssl-reqd"])):
        port = imp.port if name == "curl-imaps" else req.port
        p = subprocess.run(["curl", "-sS", "--max-time", "30", "--cacert", ca, "--resolve", "imap.test:%d:127.0.0.1" % port,
                            "-u", "alice:alice pw", url] + extra, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        check(name, p.returncode == 0 and b"Subject: message 4" in p.stdout, (p.returncode, p.stdout[-300:], p.stderr[-300:]))

    # fetchmail over IMAP with --ssl (implicit TLS), certificate checked,
    # keeping the messages: it gets every message of INBOX.
    fm = os.path.join(pub, "fetchmail")
    os.makedirs(fm)
    out = os.path.join(fm, "out")
    rcf = os.path.join(fm, "rc")
    with open(rcf, "w") as f:
        f.write('poll 127.0.0.1 service %d protocol imap auth password user "alice" password "alice pw" '
                'mda "/bin/sh -c \'cat >> %s\'"\n' % (imp.port, out))
    os.chmod(rcf, 0o600)
    p = subprocess.run(["fetchmail", "-f", rcf, "--nosyslog", "-k", "-a", "-v", "--ssl", "--sslcertck", "--sslcertfile", ca,
                        "--sslcommonname", "imap.test", "--idfile", os.path.join(fm, "ids")],
                       env=dict(os.environ, HOME=fm, FETCHMAILHOME=fm), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    got = open(out, "rb").read() if os.path.exists(out) else b""
    check("fetchmail-imap-ssl", p.returncode == 0 and got.count(b"Subject: ") == 2, p.stdout.decode(errors="replace")[-1500:])

    # POP3 on the same mailbox: RETR marks it seen, IMAP agrees.
    pop = Pop3Server(home)
    try:
        import poplib
        p = poplib.POP3("127.0.0.1", pop.port, timeout=20)
        p.user("alice"); p.pass_("alice pw")
        n, _ = p.stat()
        p.retr(1)
        p.quit()
        c = starttls_login()
        c.select("INBOX", readonly=True)
        typ, d = c.fetch("1:*", "(FLAGS)")
        check("pop3-imap-same-mailbox", n == 2 and len(d) == 2 and b"\\Seen" in d[0], (n, d))
        c.logout()
    finally:
        pop.stop()
finally:
    req.stop()
    imp.stop()
    if SAN:
        for n in os.listdir(sandir):
            print("FAIL sanitizer: " + open(os.path.join(sandir, n), errors="replace").read()[:2000])
    shutil.rmtree(pub, ignore_errors=True)
done()
