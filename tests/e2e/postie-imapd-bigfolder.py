#!/usr/bin/python3
"""A first SELECT of a folder of 100,000 new messages (the size issue 14's
benchmark opens): postie-imapd gives them UIDs in file name order, which
took n * n name comparisons (minutes) before; now it answers within a
deadline far above what it needs even under the sanitizers on a loaded
machine. EXISTS and UIDNEXT are right, the UID file lists every message
once, in file name order, and a second SELECT keeps every UID."""
import os, random, select, shutil, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from poptest import make_maildir, public_tmp

N = 100000
DEADLINE = 120
pub = public_tmp("imapd-bigfolder")
md = make_maildir(os.path.join(pub, "Maildir"))


def select_inbox():
    """postie-imapd on the Maildir, SELECT INBOX, LOGOUT. Returns (the
    answer to SELECT, seconds), or (None, what came) past the deadline."""
    p = subprocess.Popen([prog("postie-imapd"), "."], cwd=md, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         env=env_for(pub))
    p.stdin.write(b"a SELECT INBOX\r\n")
    p.stdin.flush()
    out = b""
    t0 = time.time()
    while b"\r\na " not in b"\r\n" + out and time.time() < t0 + DEADLINE:
        r, _, _ = select.select([p.stdout], [], [], 1)
        if r:
            d = os.read(p.stdout.fileno(), 65536)
            if not d:
                break
            out += d
    took = time.time() - t0
    if b"\r\na " not in b"\r\n" + out:
        p.kill()
        p.wait()
        return None, out[-300:]
    p.stdin.write(b"b LOGOUT\r\n")
    p.stdin.close()
    p.stdout.read()
    p.wait(30)
    return out, took


try:
    names = ["%d.M%dP%dQ1.big" % (1700000000 + i // 1000, i, i % 97) for i in range(N)]
    random.seed(14)
    order = names[:]
    random.shuffle(order)        # created in an order that is not the names'
    for n in order:
        open(os.path.join(md, "new", n), "wb").close()
    out, took = select_inbox()
    check("bigfolder-select-in-time", out is not None and out.rstrip().endswith(b"a OK [READ-WRITE] SELECT completed"),
          (took, out))
    print("bigfolder: the first SELECT took %.1f s" % took if out else "bigfolder: no answer", flush=True)
    if out:
        check("bigfolder-exists", b"* %d EXISTS\r\n" % N in out and b"[UIDNEXT %d]" % (N + 1) in out, out[-500:])
        lines = open(os.path.join(md, "postie-uids")).read().splitlines()
        got = [l.split()[1] for l in lines[1:]]
        check("bigfolder-uids-in-name-order", got == sorted(names)
              and [int(l.split()[0]) for l in lines[1:]] == list(range(1, N + 1)), (lines[:3], len(lines)))
        again, _ = select_inbox()
        check("bigfolder-uids-kept", again is not None and open(os.path.join(md, "postie-uids")).read().splitlines() == lines)
finally:
    shutil.rmtree(pub, ignore_errors=True)
done()
