#!/usr/bin/python3
"""postie-lspawn and postie-rspawn free what their loop allocated before
they exit (spawn_loop.c): under the sanitizers' build, LeakSanitizer runs
at their exit with detect_leaks=1 (tests/run sets detect_leaks=0 for
everything else) and must find nothing. Each spawner runs two requests
(a stand-in program prints its result), then sees its fd 0 end."""

import os, subprocess, sys
sys.path.insert(0, os.path.join(os.environ["POSTIE_TOP"], "tests", "lib"))
from postietest import *
from localtest import open_path, spawner_instance

NAMES = ["spawn-leaks-lspawn", "spawn-leaks-lspawn-exit", "spawn-leaks-rspawn", "spawn-leaks-rspawn-exit"]
if not SAN:
    for n in NAMES:
        skip(n, "LeakSanitizer needs the sanitizers' build (build-san)")
    done()

base, inst, home = spawner_instance("spawn-leaks")
bindir = os.path.join(base, "bin")
os.makedirs(bindir, exist_ok=True)
for name, body in (("postie-local", "#!/bin/sh\necho delivered\n"), ("postie-remote", "#!/bin/sh\necho Kok\necho Kok\n")):
    with open(os.path.join(bindir, name), "w") as f:
        f.write(body)
    os.chmod(os.path.join(bindir, name), 0o755)
open_path(bindir)
open_path(inst)
reports = os.path.join(base, "lsan")
os.makedirs(reports, exist_ok=True)
os.chmod(reports, 0o1777)


def req(fields):
    p = b"".join(x + b"\0" for x in fields)
    return str(len(p)).encode() + b":" + p + b","


def run(name, requests):
    env = env_for(inst)
    env["PATH"] = bindir + ":/usr/bin:/bin"
    env["ASAN_OPTIONS"] = "detect_leaks=1:log_path=%s/%s:abort_on_error=0" % (reports, name)
    p = subprocess.Popen([prog(name), "1000", "10"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, cwd=inst, env=env)
    p.stdin.write(b"".join(req(r) for r in requests))
    p.stdin.flush()
    out = b""
    for _ in requests:  # each report (LEN:PAYLOAD,) before fd 0 ends, which stops the children
        n = b""
        while not n.endswith(b":"):
            c = p.stdout.read(1)
            if not c:
                break
            n += c
        if not n.endswith(b":"):
            break
        out += n + p.stdout.read(int(n[:-1]) + 1)
    p.stdin.close()
    out += p.stdout.read()
    err = p.stderr.read()
    p.wait(timeout=60)
    return p.returncode, out, err


for name, reqs in (("postie-lspawn", [(b"0", b"queue/mess/0/100", b"bob", b"bob", b"", b"example.org", b"a@example.com"),
                                      (b"1", b"queue/mess/0/100", b"bob", b"bob", b"", b"example.org", b"a@example.com")]),
                   ("postie-rspawn", [(b"0", b"queue/mess/0/100", b"example.org", b"a@example.com", b"b@example.org"),
                                      (b"1", b"queue/mess/0/100", b"example.org", b"a@example.com", b"b@example.org")])):
    rc, out, err = run(name, reqs)
    short = name.split("-")[1]
    found = [n for n in os.listdir(reports) if n.startswith(name)]
    text = ""
    for n in found:
        with open(os.path.join(reports, n), errors="replace") as f:
            text += f.read()[:3000]
        os.unlink(os.path.join(reports, n))
    check("spawn-leaks-" + short, not found and b"LeakSanitizer" not in err, text + err.decode(errors="replace")[-2000:])
    # two reports (netstrings), each an id then results that start with K
    # (postie-rspawn's may end with postie-remote's message line: also K here)
    frames, rest = [], out
    while b":" in rest:
        n, rest = rest.split(b":", 1)
        if not n.isdigit() or len(rest) < int(n) + 1:
            break
        frames.append(rest[:int(n)])
        rest = rest[int(n) + 1:]
    okframes = len(frames) == 2 and all(f.split(b"\0")[1:2] and f.split(b"\0")[1].startswith(b"K") for f in frames)
    check("spawn-leaks-%s-exit" % short, rc == 0 and okframes, "exit %r out %r" % (rc, out))
done()
