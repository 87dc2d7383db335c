#!/usr/bin/python3
"""UIDs under concurrency: four postie-imapd sessions on one Maildir (each
looking at the folder again and again, and fetching every message's UID
and Message-ID) while messages are delivered into new/ and another session
changes flags (renames). Every session must see one UID per message and
one message per UID, the same mapping as every other session; postie-uids
must agree, and no UID may ever be reused."""
import imaplib, os, re, shutil, sys, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from poptest import make_maildir, deliver, public_tmp

pub = public_tmp("imapd-race")
md = make_maildir(os.path.join(pub, "Maildir"))
N = 60
seen = [dict() for _ in range(4)]
errors = []


def session(k):
    try:
        c = imaplib.IMAP4_stream("cd %s && POSTIE_HOME=%s exec %s ." % (md, pub, prog("postie-imapd")))
        c.select("INBOX")
        end = time.time() + 60
        while time.time() < end:
            c.noop()
            typ, d = c.uid("FETCH", "1:*", "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            for x in d:
                if isinstance(x, tuple):
                    u = int(re.search(rb"UID (\d+)", x[0]).group(1))
                    mid = x[1].strip()
                    old = seen[k].setdefault(u, mid)
                    if old != mid:
                        errors.append((k, u, old, mid))
            if k == 0:
                c.store("1:*", "+FLAGS", "\\Seen")
                c.store("1:*", "-FLAGS", "\\Seen")
            if len(seen[k]) >= N and done_delivering.is_set():
                break
        c.logout()
    except Exception as e:
        errors.append((k, repr(e)))


done_delivering = threading.Event()
try:
    ts = [threading.Thread(target=session, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for i in range(N):
        deliver(md, b"Message-ID: <m%d@race>\nSubject: %d\n\nbody\n" % (i, i))
        time.sleep(0.01)
    done_delivering.set()
    for t in ts:
        t.join(90)
    check("race-no-errors", not errors, errors[:5])
    maps = [s for s in seen]
    check("race-every-message-seen", all(len(m) == N for m in maps), [len(m) for m in maps])
    check("race-one-uid-per-message", all(len(set(m.values())) == len(m) for m in maps))
    check("race-same-mapping", all(m == maps[0] for m in maps))
    lines = open(os.path.join(md, "postie-uids")).read().splitlines()
    uids = [int(l.split()[0]) for l in lines[1:]]
    check("race-uids-file", len(uids) == N and len(set(uids)) == N and sorted(maps[0]) == sorted(uids)
          and int(lines[0].split()[3]) == max(uids) + 1, lines[:3])
finally:
    shutil.rmtree(pub, ignore_errors=True)
done()
