#!/usr/bin/python3
"""FETCH of headers and SEARCH of header fields and bodies in postie-imapd
give the answers a plain model of RFC 3501 gives (computed here from the
messages themselves), through python imaplib over TLS: BODY.PEEK[HEADER],
BODY.PEEK[HEADER.FIELDS (...)], ENVELOPE, SEARCH SUBJECT/FROM/TO/HEADER/
BODY/TEXT with hits and misses, on messages with LF and CRLF line ends, a
folded Subject, a header larger than the read buffer (70 KB), a body
larger than it, no body at all, an empty file, a needle with CRLF in it
(a literal), in a first session and in a later one (the folder's
header cache, postie-hcache, exists then), after a message file was
replaced behind the session's back (the same name and size without a
SELECT in between; another size), and with the cache file garbled (a
byte of a cached header changed, the file cut short, noise).
Then, on a session run
directly: SEARCH SUBJECT over 300 messages reads each file with one read
system call (/proc/PID/io syscr; it took two, plus a stat, before)."""
import os, re, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from poptest import *
from imaptest import ImapSetup, UID, GID
from imapdirect import Direct

BIGHDR = b"X-Big: " + b"y" * 70000 + b"\n"
BIGBODY = (b"z" * 79 + b"\n") * 1000 + b"tail-needle\n"
MSGS = [
    b"From: Alice <alice@example.org>\nTo: bob@example.org\nSubject: Quarterly\n report folded\n"
    b"Date: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-Id: <q1@example.org>\n\nBody with Needle-One\nline1\nline2\n",
    b"From: Carol <carol@example.net>\r\nTo: dave@example.com\r\nSubject: hello WORLD\r\n\r\nbody needle-two\r\n",
    b"Subject: headless\nFrom: dave@example.com\n",
    b"",
    b"From: Eve <eve@example.org>\nSubject: big header\n" + BIGHDR + b"To: frank@example.org\n\nshort body\n",
    b"From: Grace <grace@example.org>\nSubject: big body\n\n" + BIGBODY,
    b"Subject: first\nSubject: second\nFrom: x@example.org\n\nSubject: in the body\n",
]


def crlf(m):
    return re.sub(rb"(?<!\r)\n", b"\r\n", m)


def header(m):
    m = crlf(m)
    i = m.find(b"\r\n\r\n")
    if m.startswith(b"\r\n"):
        return b"\r\n"
    return m if i < 0 else m[:i + 4]


def body(m):
    m = crlf(m)
    return m[len(header(m)):]


def fields(m):
    """[(name, raw field with its CRLF)] of the header"""
    out = []
    for line in header(m).split(b"\r\n")[:-2] if header(m).endswith(b"\r\n\r\n") else header(m).split(b"\r\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and out:
            out[-1] = (out[-1][0], out[-1][1] + line + b"\r\n")
        elif b":" in line:
            out.append((line.split(b":", 1)[0].strip().lower(), line + b"\r\n"))
    return out


def value(m, name):
    for n, raw in fields(m):
        if n == name.lower().encode():
            v = raw.split(b":", 1)[1].replace(b"\r", b"").replace(b"\n", b"")
            return v.strip(b" \t")
    return None


def hits(pred, msgs):
    return sorted(i + 1 for i, m in enumerate(msgs) if pred(m))


def hdr_has(name, needle):
    return lambda m: value(m, name) is not None and needle.lower() in value(m, name).lower()


SEARCHES = [
    ("SUBJECT", b"quarterly report", hdr_has("subject", b"quarterly report")),
    ("SUBJECT", b"WORLD", hdr_has("subject", b"world")),
    ("SUBJECT", b"first", hdr_has("subject", b"first")),
    ("SUBJECT", b"second", hdr_has("subject", b"second")),
    ("SUBJECT", b"nothing-like-this", hdr_has("subject", b"nothing-like-this")),
    ("FROM", b"EXAMPLE.ORG", hdr_has("from", b"example.org")),
    ("FROM", b"dave", hdr_has("from", b"dave")),
    ("TO", b"frank", hdr_has("to", b"frank")),
    ("HEADER X-Big", b"yyyyyyyy", hdr_has("x-big", b"yyyyyyyy")),
    ("BODY", b"needle-one", lambda m: b"needle-one" in body(m).lower()),
    ("BODY", b"NEEDLE", lambda m: b"needle" in body(m).lower()),
    ("BODY", b"tail-needle", lambda m: b"tail-needle" in body(m).lower()),
    ("BODY", b"subject", lambda m: b"subject" in body(m).lower()),
    ("BODY", b"absent-word", lambda m: False),
    ("TEXT", b"hello", lambda m: b"hello" in crlf(m).lower()),
    ("TEXT", b"carol@", lambda m: b"carol@" in crlf(m).lower()),
]
CRLF_NEEDLE = b"line1\r\nline2"


def search(c, key, needle):
    typ, d = c.search(None, key, b'"' + needle + b'"')
    if typ != "OK":
        return ("error", typ, d)
    return sorted(int(x) for x in d[0].split())


def check_all(c, msgs, label, select=True):
    if select:
        typ, d = c.select("Work")
        check(label + "-select", typ == "OK" and int(d[0]) == len(msgs), (typ, d))
    bad = []
    for key, needle, pred in SEARCHES:
        got = search(c, key, needle)
        if got != hits(pred, msgs):
            bad.append((key, needle, got, hits(pred, msgs)))
    check(label + "-search", not bad, bad)
    c.literal = CRLF_NEEDLE
    typ, d = c.search(None, "BODY")
    got = sorted(int(x) for x in d[0].split()) if typ == "OK" else typ
    check(label + "-search-crlf-literal", got == hits(lambda m: CRLF_NEEDLE in body(m), msgs), got)
    typ, d = c.fetch("1:*", "(UID BODY.PEEK[HEADER])")
    got = [x[1] for x in d if isinstance(x, tuple)]
    check(label + "-fetch-header", typ == "OK" and got == [header(m) for m in msgs],
          [(len(a), len(header(b))) for a, b in zip(got, msgs)])
    typ, d = c.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (From Subject)])")
    got = [x[1] for x in d if isinstance(x, tuple)]
    want = [b"".join(raw for n, raw in fields(m) if n in (b"from", b"subject")) + b"\r\n" for m in msgs]
    check(label + "-fetch-fields", typ == "OK" and got == want, (got, want))
    typ, d = c.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS.NOT (X-Big Subject)])")
    got = [x[1] for x in d if isinstance(x, tuple)]
    want = [b"".join(raw for n, raw in fields(m) if n not in (b"x-big", b"subject")) + b"\r\n" for m in msgs]
    check(label + "-fetch-fields-not", typ == "OK" and got == want, (got, want))
    typ, d = c.fetch("1:*", "(ENVELOPE)")
    flat = [x if isinstance(x, bytes) else b"".join(x) for x in d]
    ok = typ == "OK" and len(flat) == len(msgs)
    for m, e in zip(msgs, flat):
        s = value(m, "subject")
        if s is not None and b'"' + s + b'"' not in e:
            ok = False
        if s is None and not re.search(rb"ENVELOPE \(NIL NIL ", e):
            ok = False
    check(label + "-envelope", ok, flat)


setup = ImapSetup("imapd-fetchsearch")
try:
    md = setup.user("ann", "secret-ann")
    work = make_maildir(os.path.join(md, ".Work"), UID, GID)
    open(os.path.join(work, "maildirfolder"), "w").close()
    names = []
    for i, m in enumerate(MSGS):
        names.append(deliver(work, m, UID, GID, name="17000000%02d.M1P1Q%d.test:2," % (i, i), where="cur"))
    # cur/ a little older than the cache the first session writes: the
    # later sessions trust the names and sizes they see until cur/ changes
    time.sleep(1.5)

    c = setup.imaps("ann", "secret-ann")
    check_all(c, MSGS, "first")
    c.logout()
    cache = os.path.join(work, "postie-hcache")
    check("cache-written", os.path.isfile(cache) and open(cache, "rb").read().startswith(b"postie-hcache 1 "), "")
    c = setup.imaps("ann", "secret-ann")
    check_all(c, MSGS, "again")

    def replace(i, content):
        t = os.path.join(work, "tmp", "replace")
        with open(t, "wb") as f:
            f.write(content)
        os.chown(t, UID, GID)
        os.rename(t, os.path.join(work, "cur", names[i]))

    # a change of flags renames a file in cur/: the entries are checked
    # by lstat, then (cur/ quiet again) stamped anew
    typ, d = c.store("1", "+FLAGS", "\\Seen")
    check("store", typ == "OK", (typ, d))
    stamp0 = open(cache, "rb").readline()
    check_all(c, MSGS, "after-store", select=False)
    time.sleep(1.5)
    check_all(c, MSGS, "after-store-quiet", select=False)
    check("restamped", open(cache, "rb").readline() != stamp0, stamp0)

    # message 2 replaced behind the session's back, no SELECT in between:
    # the same name and the same size, another subject and body
    msgs = list(MSGS)
    msgs[1] = MSGS[1].replace(b"hello WORLD", b"swapped XYZ").replace(b"needle-two", b"needle-2wo")
    assert len(msgs[1]) == len(MSGS[1])
    replace(1, msgs[1])
    check_all(c, msgs, "replaced-same-size", select=False)
    # and again, another size, a SELECT in between
    msgs[1] = b"From: Zed <zed@example.org>\nSubject: replaced one, longer\n\nnew body\n"
    replace(1, msgs[1])
    check_all(c, msgs, "replaced")
    c.logout()
    c = setup.imaps("ann", "secret-ann")
    check_all(c, msgs, "replaced-next-session")
    c.logout()

    # the cache garbled: a byte of a header changed (its checksum no longer
    # fits), then the file cut in the middle of an entry, then noise, then
    # an entry whose lengths are near 2^64
    data = open(cache, "rb").read()
    check("cache-has-quarterly", b"Quarterly" in data, "")
    for label, bad in (("corrupt-byte", data.replace(b"Quarterly", b"Quarterlx")),
                       ("corrupt-cut", data[:len(data) // 2]),
                       ("corrupt-noise", b"\xff" * 7 + data[7:len(data) // 2] + b"garbage\n" * 3),
                       # lengths near 2^64: name + header + 1 would wrap around
                       ("corrupt-huge-length", data[:data.index(b"\n") + 1]
                        + b"1 18446744073709551615 1 1 0 1 18446744073709551615\n\n\n" * 2)):
        with open(cache, "wb") as f:
            f.write(bad)
        c = setup.imaps("ann", "secret-ann")
        check_all(c, msgs, label)
        c.logout()
        check(label + "-rebuilt", open(cache, "rb").read().startswith(b"postie-hcache 1 "), "")
    c = setup.imaps("ann", "secret-ann")
    check_all(c, msgs, "after-corrupt")
    c.logout()

    # one read system call per message for a header search
    many = make_maildir(os.path.join(setup.pub, "many"))
    for i in range(300):
        deliver(many, b"From: m%d@example.org\nSubject: number %d\n\n" % (i, i) + b"b" * 2000 + b"\n",
                name="17000001%03d.M1P1Q%d.test:2," % (i, i), where="cur")
    d = Direct(setup.home, many)
    u, t = d.cmd(b"SELECT INBOX")

    def syscr():
        with open("/proc/%d/io" % d.pid) as f:
            return int(re.search(r"syscr: (\d+)", f.read()).group(1))
    r0 = syscr()
    u, t = d.cmd(b'SEARCH SUBJECT "number 299"')
    r1 = syscr()
    check("search-answer", u == [b"* SEARCH 300\r\n"] and t.endswith(b"OK SEARCH completed\r\n"), (u, t))
    check("search-one-read-per-message", r1 - r0 <= 300 + 30, "%d reads for 300 messages" % (r1 - r0))
    r0 = syscr()
    u, t = d.cmd(b"SEARCH BODY bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")
    r1 = syscr()
    check("search-body-answer", len(u) == 1 and len(u[0].split()) == 302, u[:1])
    check("search-body-one-read-per-message", r1 - r0 <= 300 + 30, "%d reads for 300 messages" % (r1 - r0))
    d.close()
finally:
    setup.finish()
done()
