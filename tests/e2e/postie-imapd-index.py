#!/usr/bin/python3
"""postie-imapd's folder index, postie-index (doc/imap-index.md), with
python imaplib sessions on one Maildir:
- a SELECT that lists the folder writes the index; a later SELECT with
  new/, cur/ and postie-uids unchanged answers from it (a file slipped
  into cur/ with cur/'s mtime put back is not seen: nothing was listed)
  and gives the same answer (EXISTS, UNSEEN, UIDVALIDITY, UIDNEXT, each
  message's UID, FLAGS and INTERNALDATE) as a listing;
- a delivery into new/, a flag change by another program (a rename in
  cur/), a removal by postie-pop3d (DELE), all behind the session's back,
  are seen by the next NOOP and the next SELECT;
- a damaged index (truncated, garbage, one byte changed, empty, and
  well-formed ones with a right checksum whose UIDs, name offsets, names
  or count are out of bounds) is ignored and written again;
- two sessions at once: a flag change in one shows in the other.
The directories' mtimes are put an hour back (os.utime) where the test
needs the index to be trusted: postie-imapd trusts no directory that
changed within the last second."""
import imaplib, os, re, shutil, struct, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from poptest import make_maildir, deliver, public_tmp

pub = public_tmp("imapd-index")
md = make_maildir(os.path.join(pub, "Maildir"))
IDX = os.path.join(md, "postie-index")
opened = []
old = [int(time.time()) - 3600]


def age():
    """new/ and cur/ an hour older than anything before: the folder looks
    changed (the mtimes moved) and is trusted from now on (they are old)."""
    old[0] -= 10
    for d in ("new", "cur"):
        os.utime(os.path.join(md, d), (old[0], old[0]))


def session():
    c = imaplib.IMAP4_stream("cd %s && POSTIE_HOME=%s exec %s ." % (md, pub, prog("postie-imapd")))
    opened.append(c)
    return c


def select(c, box="INBOX"):
    """SELECT's untagged answers that describe the folder, and every
    message's UID, FLAGS and INTERNALDATE."""
    typ, d = c.select(box)
    if typ != "OK":
        return ("select failed", d)
    ans = {}
    for k in ("EXISTS", "UNSEEN", "UIDVALIDITY", "UIDNEXT"):
        ans[k] = c.response(k)[1]
    typ, d = c.fetch("1:*", "(UID FLAGS INTERNALDATE)") if int(ans["EXISTS"][0]) else ("OK", [])
    msgs = sorted(x.decode() for x in d if x) if typ == "OK" else typ
    return ans, msgs


def fresh_select():
    c = session()
    r = select(c)
    c.logout()
    opened.remove(c)
    return r


def listing():
    """The answer of a SELECT that lists the folder (no index)."""
    if os.path.exists(IDX):
        os.unlink(IDX)
    r = fresh_select()
    return r


def untagged(c):
    """What a NOOP brings, as decoded lines."""
    typ, d = c.noop()
    out = []
    for k in ("EXISTS", "EXPUNGE", "FETCH"):
        v = c.response(k)[1]
        out += ["%s %s" % (k, x.decode() if isinstance(x, bytes) else x) for x in v if x]
    return out


# the checksum and the layout of doc/imap-index.md, to write hostile indexes
def fnv(b, h=0xcbf29ce484222325):
    M = 0xffffffffffffffff
    k = len(b) // 8 * 8
    for (w,) in struct.iter_unpack("<Q", b[:k]):
        h = ((h ^ w) * 0x100000001b3) & M
        h ^= h >> 32
    for x in b[k:]:
        h = ((h ^ x) * 0x100000001b3) & M
    return h


def parse_index(b):
    n, validity, nxt, namesize, hflags = struct.unpack_from("<IIIII", b, 12)
    stamps = struct.unpack_from("<8Q", b, 32)
    o = 112
    rec = [struct.unpack_from("<IIB", b, o + 9 * i) for i in range(n)]; o += 9 * n
    kw = [0] * n
    if hflags & 1:
        kw = list(struct.unpack_from("<%dI" % n, b, o)); o += 4 * n
    return dict(n=n, validity=validity, next=nxt, stamps=stamps, uid=[r[0] for r in rec],
                off=[r[1] for r in rec], fl=[r[2] for r in rec], kw=kw, names=b[o:],
                names_sum=struct.unpack_from("<Q", b, 104)[0])


def build_index(x, n=None, names_sum=None):
    """Format 2: header, records (UID, name offset, flags), keywords when
    any, names; the header's checksum over header and records, the names
    block's its own (names_sum: another, to damage only that block)."""
    n = x["n"] if n is None else n
    haskw = any(x["kw"])
    h = b"postidx2" + struct.pack("<IIIIII", 0x01020304, n, x["validity"], x["next"], len(x["names"]), 1 if haskw else 0)
    h += struct.pack("<8Q", *x["stamps"])
    recs = b"".join(struct.pack("<IIB", u, o, f) for u, o, f in zip(x["uid"], x["off"], x["fl"]))
    s = fnv(recs, fnv(h + b"\0" * 16))  # summed part by part
    if haskw:
        kw = struct.pack("<%dI" % len(x["kw"]), *x["kw"])
        s = fnv(kw, s)
        recs += kw
    ns = fnv(x["names"]) if names_sum is None else names_sum
    return h + struct.pack("<QQ", s, ns) + recs + x["names"]


try:
    with open(os.path.join(md, "postie-keywords"), "w") as f:
        f.write("0 $Forwarded\n")
    for i in range(30):
        info = ["", "S", "FS", "Sa", "RST"][i % 5]
        deliver(md, b"Message-ID: <m%d@index>\nSubject: %d\n\nbody %d\n" % (i, i, i),
                name="%d.M%dP1.index:2,%s" % (1700000000 + i, i, info), where="cur")
        os.utime(os.path.join(md, "cur", "%d.M%dP1.index:2,%s" % (1700000000 + i, i, info)),
                 (1700000000 + 86400 * i, 1700000000 + 86400 * i))
    for i in range(3):
        deliver(md, b"Message-ID: <n%d@index>\nSubject: new %d\n\nbody\n" % (i, i))
    time.sleep(0.05)
    first = fresh_select()  # moves new/ into cur/: too recent to be trusted
    check("index-not-written-for-a-recent-change", not os.path.exists(IDX))
    age()
    ref = fresh_select()
    check("index-written", os.path.exists(IDX))
    check("first-select", first == ref, (first, ref))
    again = fresh_select()
    check("index-same-answer", again == ref and int(ref[0]["EXISTS"][0]) == 33 and len(ref[1]) == 33, (again, ref))
    check("index-same-as-listing", listing() == ref)
    check("index-written-again", os.path.exists(IDX))

    # the index is what SELECT reads: a file slipped into cur/ with cur/'s
    # mtime put back is not seen (the old code listed cur/ every time)
    st = os.stat(os.path.join(md, "cur"))
    hidden = os.path.join(md, "cur", "1800000000.hidden:2,")
    with open(hidden, "w") as f:
        f.write("Subject: hidden\n\nx\n")
    os.utime(os.path.join(md, "cur"), ns=(st.st_atime_ns, st.st_mtime_ns))
    r = fresh_select()
    check("index-used-when-unchanged", r == ref, r[0] if r else r)
    os.unlink(hidden)
    os.utime(os.path.join(md, "cur"), ns=(st.st_atime_ns, st.st_mtime_ns))

    # changes behind a session's back
    a = session()
    select(a)
    deliver(md, b"Message-ID: <late@index>\nSubject: late\n\nbody\n")
    got = untagged(a)
    check("delivery-seen-by-noop", "EXISTS 34" in got, got)
    r = fresh_select()
    check("delivery-seen-by-select", r[0]["EXISTS"] == [b"34"], r[0])
    age()
    untagged(a)  # trusted again (the index rewritten)
    idx_before = open(IDX, "rb").read()
    check("index-rewritten-after-change", parse_index(idx_before)["n"] == 34)
    name = sorted(n for n in os.listdir(os.path.join(md, "cur")) if n.endswith(":2,"))[0]
    os.rename(os.path.join(md, "cur", name), os.path.join(md, "cur", name + "F"))
    got = untagged(a)
    check("flag-change-seen-by-noop", any(g.startswith("FETCH") and "\\Flagged" in g for g in got), got)
    r = fresh_select()
    check("flag-change-seen-by-select", r[1] != ref[1] and len(r[1]) == 34)
    age()
    untagged(a)
    p = subprocess.run([prog("postie-pop3d"), md], input=b"UIDL\r\nQUIT\r\n", capture_output=True,
                       env=dict(os.environ, POSTIE_HOME=pub), timeout=30)
    uidl = dict(l.split()[::-1] for l in p.stdout.decode().split("\r\n") if re.match(r"^\d+ \S+$", l))
    late = next(u for u in uidl if "late" not in u and u.startswith("17000000"))
    p = subprocess.run([prog("postie-pop3d"), md], input=b"DELE %s\r\nQUIT\r\n" % uidl[late].encode(),
                       capture_output=True, env=dict(os.environ, POSTIE_HOME=pub), timeout=30)
    check("pop3-dele", b"+OK" in p.stdout and not any(n.startswith(late) for n in os.listdir(os.path.join(md, "cur"))),
          (p.stdout, late))
    got = untagged(a)
    check("pop3-removal-seen-by-noop", any(g.startswith("EXPUNGE") for g in got), got)
    r = fresh_select()
    check("pop3-removal-seen-by-select", r[0]["EXISTS"] == [b"33"], r[0])

    # two sessions at once: a flag change in one is seen by the other
    age()
    b = session()
    select(b)
    untagged(a)
    typ, _ = b.store("2", "+FLAGS", "\\Answered")
    got = untagged(a)
    check("two-sessions-flag-change", any(g.startswith("FETCH") and "\\Answered" in g for g in got), got)
    b.logout(); opened.remove(b)
    a.logout(); opened.remove(a)

    # damaged indexes: ignored, the answer that of a listing, and written again
    age()
    ref = listing()
    good = open(IDX, "rb").read()
    x = parse_index(good)
    n = x["n"]
    bad = {
        "truncated": good[:len(good) // 2],
        "empty": b"",
        "garbage": os.urandom(len(good)),
        "one-byte-changed": good[:200] + bytes([good[200] ^ 1]) + good[201:],
        "header-only": good[:112],
    }
    y = dict(x, uid=list(x["uid"])); y["uid"][3] = y["uid"][2]
    bad["uids-not-increasing"] = build_index(y)
    y = dict(x, uid=list(x["uid"])); y["uid"][-1] = x["next"]
    bad["uid-beyond-uidnext"] = build_index(y)
    y = dict(x, off=list(x["off"])); y["off"][5] = len(x["names"]) + 1000
    bad["name-offset-outside"] = build_index(y)
    y = dict(x, off=list(x["off"])); y["off"][0] = 9
    bad["name-offset-before-its-date"] = build_index(y)
    y = dict(x, names=x["names"][:-1] + b"x")
    bad["names-not-ended"] = build_index(y)
    y = dict(x, names=x["names"].replace(b"cur/1700000001", b"cur/../../../x", 1))
    bad["name-with-slash"] = build_index(y)
    bad["count-too-big"] = build_index(x, n=0x7fffffff)
    bad["count-too-small"] = build_index(x, n=n - 1)
    y = dict(x, fl=list(x["fl"])); y["fl"][0] = 0xff
    bad["flags-unknown"] = build_index(y)
    y = dict(x, stamps=(0,) * 8)
    bad["stamps-other"] = build_index(y)
    check("hostile-well-formed-accepted", build_index(x) == good)
    for k, v in bad.items():
        with open(IDX, "wb") as f:
            f.write(v)
        r = fresh_select()
        check("damaged-index-ignored-" + k, r == ref, r)
        check("damaged-index-rewritten-" + k, open(IDX, "rb").read() == good)

    # a names block damaged behind a good header (a name changed, the
    # header's checksum right, the names block's not): STATUS and SELECT
    # read only the header and records, so they answer from the index (a file slipped
    # into cur/ with cur/'s mtime put back is not seen; the old format's
    # one checksum made SELECT list the folder); the first FETCH checks the
    # names block, finds it damaged, lists the folder (EXISTS 34: the
    # slipped file) and answers from the listing; the index is rewritten.
    with open(IDX, "wb") as f:
        f.write(good)
    st = os.stat(os.path.join(md, "cur"))
    with open(hidden, "w") as f:
        f.write("Subject: hidden\n\nx\n")
    os.utime(os.path.join(md, "cur"), ns=(st.st_atime_ns, st.st_mtime_ns))
    y = dict(x, names=x["names"].replace(b"cur/1700000001", b"cur/1700000002", 1))
    with open(IDX, "wb") as f:
        f.write(build_index(y, names_sum=x["names_sum"]))
    a = session()
    typ, d = a.status("INBOX", "(MESSAGES UIDNEXT)")
    check("names-damaged-status-from-index", typ == "OK" and b"MESSAGES 33 " in d[0], (typ, d))
    typ, d = a.select("INBOX")
    check("names-damaged-select-from-index", typ == "OK" and d == [b"33"], (typ, d))
    typ, d = a.fetch("1:*", "(UID FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    ex = a.response("EXISTS")[1]
    got = [t[0].decode() for t in d if isinstance(t, tuple)]
    subj = [t[1] for t in d if isinstance(t, tuple)]
    want = [re.sub(r"^\d+ \(", "", m) for m in ref[1]]
    check("names-damaged-fetch-relists", typ == "OK" and ex[-1:] == [b"34"] and len(got) == 34, (typ, ex, len(got)))
    check("names-damaged-fetch-right",
          all(any(w.rstrip(")") in g for g in got) for w in want) and all(s.startswith(b"Subject: ") for s in subj)
          and any(s.startswith(b"Subject: hidden") for s in subj), (got[:3], want[:3], subj[:3]))
    a.logout(); opened.remove(a)
    z = parse_index(open(IDX, "rb").read())
    check("names-damaged-index-rewritten", z["n"] == 34 and z["names_sum"] == fnv(z["names"]))
    os.unlink(hidden)
finally:
    for c in opened:
        try:
            c.shutdown()
        except Exception:
            pass
    shutil.rmtree(pub, ignore_errors=True)
done()
