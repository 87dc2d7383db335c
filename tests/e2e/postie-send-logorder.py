#!/usr/bin/python3
"""postie-send logs a recipient's success or failure only once its mark
(D or F, one byte written in place in queue/info/B/ID) is written, so
that a delivery the log reports as done is never made again after a
kill -9 of postie-send (doc/queue.md, "A recipient's result"). Under
strace, in postie-send's own calls: every "delivery ID ...: <ADDR>:
success:" line comes after the pwrite of D at ADDR's offset in ID's
info file, and every "failure:" line after the pwrite of F there (with
its bounce record's fsync before that). Covers local successes, one
SMTP session with two successes and a refused recipient, and an unknown
local user (failed at activation, without a delivery)."""
import codecs, os, re, signal, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from sendtest import *
from smtpfake import FakeSMTP

N = 6
if not os.path.exists("/usr/bin/strace"):
    skip("logorder", "no strace")
    done()

server = FakeSMTP(rcpt={"bad@ok.test": b"550 5.1.1 no such user here"})
i = Instance("send-logorder", control={"locals": "example.org",
                                       "smtproutes": "ok.test:127.0.0.1:%d\n" % server.port})
rcpts = ["alice@example.org", "bob@example.org", "nosuch@example.org", "a@ok.test", "b@ok.test", "bad@ok.test"]
ids = [i.inject("carol@example.org", rcpts, ("Subject: order %d\n\nbody %d\n" % (n, n)).encode()) for n in range(N)]

trace = os.path.join(i.home, "strace.out")
sp, logf = strace_start(i, "logorder", trace, ["-s", "4096", "-e", "trace=write,pwrite64,fsync"])
try:
    # every message ends (its DSN to carol queued and delivered too)
    ok = i.wait(lambda: i.queue_empty() and len(i.mails("carol")) == N
                and i.logtext().count("end msg ") == 2 * N, 90)
    check("delivered", ok and len(i.mails("alice")) == N and len(i.mails("bob")) == N,
          "alice %d, bob %d, carol %d of %d" % (len(i.mails("alice")), len(i.mails("bob")), len(i.mails("carol")), N))
finally:
    strace_stop(sp, logf)
    server.stop()
check("sigterm", sp.returncode == 0, "strace exited %r" % sp.returncode)


def calls(path):
    """(pid, call, text) of each call in the order the calls started, the
    unfinished/resumed halves joined."""
    out, pending = [], {}
    for l in open(path, errors="replace"):
        m = re.match(r"(\d+)\s+(.*)$", l.rstrip("\n"))
        if not m:
            continue
        pid, rest = int(m.group(1)), m.group(2)
        if rest.endswith("<unfinished ...>"):
            pending[pid] = len(out)
            out.append([pid, None, rest[:-len("<unfinished ...>")].rstrip()])
            continue
        r = re.match(r"<\.\.\. (\w+) resumed>(.*)$", rest)
        if r and pid in pending:
            out[pending.pop(pid)][2] += r.group(2)
            continue
        out.append([pid, None, rest])
    for c in out:
        f = re.match(r"(\w+)\(", c[2])
        c[1] = f.group(1) if f else ""
    return out


def unquote(s):
    return codecs.escape_decode(s.encode("latin-1"))[0].decode("utf-8", "replace")


infos = {}     # queue id: {offset of a recipient's state byte: address}
marks = {}     # (queue id, offset): [bytes written there, in order]
problems, nsucc, nfail = [], 0, 0
for pid, call, text in calls(trace):
    if call == "write":
        m = re.match(r'write\(\d+<[^>]*/queue/work/info\.([^>]+)>, "(.*)", \d+\)\s*= \d+$', text)
        if m:
            body = unquote(m.group(2))
            off, offs = 0, {}
            for n, line in enumerate(body.split("\n")):
                if n >= 3 and line:
                    offs[off] = line.split("\t")[1]
                off += len(line.encode()) + 1
            infos[m.group(1)] = offs
            continue
        m = re.match(r'write\(2<[^>]*>, "postie-send: delivery (\S+?)(?: [LR]\d+)?: <([^>]*)>: (success|failure): ', text)
        if m:
            qid, addr, what = m.groups()
            want = "D" if what == "success" else "F"
            offs = [o for o, a in infos.get(qid, {}).items() if a == addr]
            if what == "success":
                nsucc += 1
            else:
                nfail += 1
            if not offs:
                problems.append("%s <%s>: %s logged, its info file not in the trace" % (qid, addr, what))
            elif marks.get((qid, offs[0]), [])[-1:] != [want]:
                problems.append("%s <%s>: %s logged before the %s mark was written" % (qid, addr, what, want))
    elif call == "pwrite64":
        m = re.match(r'pwrite64\(\d+<[^>]*/queue/info/\d+/([^>]+)>, "(.)", 1, (\d+)\)\s*= 1$', text)
        if m:
            marks.setdefault((m.group(1), int(m.group(3))), []).append(m.group(2))

# per message: alice, bob, a, b succeed; nosuch and bad fail; each DSN succeeds
check("lines-seen", nsucc == 5 * N and nfail == 2 * N, "%d successes, %d failures in the trace" % (nsucc, nfail))
check("result-logged-after-its-mark", not problems, "%d: %r" % (len(problems), problems[:4]))
done()
