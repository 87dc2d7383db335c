#!/usr/bin/python3
"""A short deterministic fuzz of postie-smtpd's DATA state machine (review):
random bodies made of the bytes that matter (".", CR, LF, NUL, text), sent
in random pieces so that CRLF, a leading dot and the end of data fall
across reads, compared with a reference model of RFC 5321 (the end is
CRLF "." CRLF only, the first line counts as after a CRLF, a leading dot
is removed, a NUL, a bare CR or LF refuses the message, a long line too).
FUZZ_SEED and FUZZ_N in the environment run other or longer sessions."""
import os, random, socket, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from smtpdtest import *

SEED = int(os.environ.get("FUZZ_SEED", "5321"))
N = int(os.environ.get("FUZZ_N", "120"))
LINEMAX = 40
home = smtpd_instance("review-smtpd-fuzz", {"datalinemax": str(LINEMAX), "maxbadcmds": "1000"})
L = Launcher(home)
rnd = random.Random(SEED)
TOKENS = [b".", b"..", b"\r", b"\n", b"\r\n", b"\r\n.", b".\r\n", b"x", b"yz", b"\0", b" ", b"\r\r\n", b"\xff"]


def model(body):
    """(reply code, stored text after the Received: line, or None) for the
    DATA stream body + CRLF . CRLF; None when the stream ends early (the
    rest would be read as commands: not generated)."""
    stream = b"\r\n" + body + b"\r\n.\r\n"
    end = stream.find(b"\r\n.\r\n")
    if end != len(stream) - 5:
        return None
    text = stream[2:end + 2]  # lines with their CRLF
    lines = text.split(b"\r\n")[:-1] if text else []
    bare = any(b"\r" in l or b"\n" in l for l in lines)
    if any(b"\0" in l for l in lines):  # a NUL refuses the message (554 5.6.0), first
        return (554, None)
    if bare:
        return (554, None)
    if any(len(l) > LINEMAX - 2 for l in lines):
        return (500, None)
    return (250, b"".join((l[1:] if l.startswith(b".") else l) + b"\n" for l in lines))


done_n = 0
c = None
while done_n < N:
    body = b"".join(rnd.choice(TOKENS) for _ in range(rnd.randint(0, 30)))
    want = model(body)
    if want is None:
        continue
    done_n += 1
    if c is None:
        c = Raw(L.port)
        c.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.cmd("EHLO fuzz.example")
    clear_queue(home)
    c.cmd("MAIL FROM:<f@fuzz.example>")
    c.cmd("RCPT TO:<u@local.example>")
    r = c.cmd("DATA")
    if r[0] != 354:
        check("fuzz-%d-data" % done_n, False, repr(r))
        break
    data = body + b"\r\n.\r\n" + b"NOOP\r\n"
    i = 0
    while i < len(data):
        k = rnd.randint(1, 6)
        c.send(data[i:i + k])
        i += k
        if rnd.random() < 0.3:
            time.sleep(0.002)
    r = c.reply()
    r2 = c.reply()
    q = queued(home)
    got = None
    if q:
        got = q[0][1].split(b"+0000\n", 1)[1]
    ok = r[0] == want[0] and r2[0] == 250 and got == want[1] and len(q) == (1 if want[0] == 250 else 0)
    if not ok or done_n % 20 == 0:
        check("fuzz-%d" % done_n, ok, "body %r: want %r, got %r / %r / %r" % (body, want, r, r2, got))
    if not ok:
        break
    if done_n % 25 == 0:
        c.cmd("QUIT")
        c.close()
        c = None
if c:
    c.cmd("QUIT")
    c.close()
done()
