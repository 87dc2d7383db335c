#!/usr/bin/python3
"""What postie-lspawn's and postie-rspawn's children (children that plan
nothing themselves, spawn_loop.c; forked when they change uid, else
vfork'd) hand to the program they exec: no
blocked signal, SIGPIPE and SIGCHLD not ignored, the user's uid and home;
never the program when the uid change fails; execvp's PATH search
(EACCES goes on, a file without #! runs with /bin/sh, the error texts)."""

import os, re, subprocess, sys
sys.path.insert(0, os.path.join(os.environ["POSTIE_TOP"], "tests", "lib"))
from postietest import *
from localtest import UID, GID, open_path, spawner_instance

ROOT = os.geteuid() == 0
base, inst, home = spawner_instance("spawn-child")

# the stand-in postie-local: one line about itself, exit 0 (K and its text)
SHOW = """while read k v; do case $k in SigBlk:|SigIgn:) printf '%s%s ' "$k" "$v";; esac; done < /proc/$$/status
printf 'uid=%s pwd=%s\\n' "$(id -u)" "$(pwd)"
"""


def fake(name, body, mode=0o755, prog="postie-local"):
    d = os.path.join(base, name)
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, prog)
    with open(p, "w") as f:
        f.write(body)
    os.chmod(p, mode)
    open_path(d)
    return d


good = fake("good", "#!/bin/sh\n" + SHOW)
noshebang = fake("noshebang", "echo ran-by-sh\n")
noexec = fake("noexec", "#!/bin/sh\necho wrong\n", 0o644)
open_path(inst)


def req(fields):
    p = b"".join(x + b"\0" for x in fields)
    return str(len(p)).encode() + b":" + p + b","


def run(path, name="postie-lspawn", fields=None, pre=()):
    if fields is None:
        fields = (b"0", b"queue/mess/0/100", b"bob", b"bob", b"", b"example.org", b"a@example.com")
    env = env_for(inst)
    env["PATH"] = ":".join(path + ["/usr/bin", "/bin"])  # no postie-local nor postie-remote there
    p = subprocess.Popen(list(pre) + [prog(name), "10", "10"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, cwd=inst, env=env)
    p.stdin.write(req(fields))
    p.stdin.flush()
    out = b""
    while not out.endswith(b":"):  # one netstring: LEN:PAYLOAD,
        b = p.stdout.read(1)
        if not b:
            break
        out += b
    if out.endswith(b":"):
        out += p.stdout.read(int(out[:-1]) + 1)
    p.stdin.close()
    p.wait(timeout=20)
    return out


o = run([good])
txt = o.decode("latin-1")
m = re.search(r"SigBlk:([0-9a-f]+) SigIgn:([0-9a-f]+) ", txt)
blk, ign = (int(m.group(1), 16), int(m.group(2), 16)) if m else (None, None)
check("spawn-child-runs", b"\0K" in o and blk is not None and ign is not None, repr(o))
check("spawn-child-nothing-blocked", blk == 0, repr(o))
check("spawn-child-sigpipe-sigchld-not-ignored", ign is not None and not ign & ((1 << 12) | (1 << 16)), repr(o))
check("spawn-child-home", ("pwd=%s " % home) in txt or txt.rstrip("\0,").endswith("pwd=" + home), repr(o))
if ROOT:
    check("spawn-child-uid", ("uid=%d " % UID) in txt, repr(o))
    # without CAP_SETUID (still euid 0): setresuid fails, the program
    # never runs, as root or otherwise
    o = run([good], pre=["setpriv", "--inh-caps=-setuid", "--bounding-set=-setuid"])
    check("spawn-child-setuid-fails", b"\0Zunable to setuid (#4.3.0): Operation not permitted\0" in o
          and b"uid=" not in o, repr(o))
    # The child that changes uid must not share root's memory (fork, not
    # vfork): between its setresuid and its exec it is the recipient's,
    # who could SIGSTOP it, and a vfork parent would stay suspended with
    # it, every delivery's timeout with it.
    tr = os.path.join(base, "strace.out")
    o = run([good], pre=["strace", "-f", "-qq", "-e", "trace=vfork,clone,clone3", "-o", tr])
    with open(tr) as f:
        t = f.read()
    check("spawn-child-root-forks", b"\0Kuid=" in o or b"\0KSigBlk" in o, repr(o))
    check("spawn-child-root-no-shared-memory", "clone" in t and "vfork(" not in t and "CLONE_VM" not in t, t)
else:
    skip("spawn-child-uid", "needs root")
    skip("spawn-child-setuid-fails", "needs root")
    skip("spawn-child-root-forks", "needs root")
    skip("spawn-child-root-no-shared-memory", "needs root")

o = run([noshebang])
check("spawn-child-enoexec-sh", b"\0Kran-by-sh\0" in o, repr(o))
o = run([noexec, good])
check("spawn-child-eacces-goes-on", b"\0Kuid=" in o or b"\0KSigBlk" in o, repr(o))
o = run([noexec, os.path.join(base, "nonexistent")])
check("spawn-child-eacces-reported", b"\0Zunable to run postie-local (#4.3.0): Permission denied\0" in o, repr(o))
o = run([os.path.join(base, "nonexistent")])
check("spawn-child-enoent-reported", b"\0Zunable to run postie-local (#4.3.0): No such file or directory\0" in o,
      repr(o))

# postie-rspawn: the same child; its own exec failure text
empty = os.path.join(base, "empty")
os.makedirs(empty, exist_ok=True)
env_dirs = [empty]
o = run(env_dirs, "postie-rspawn", (b"0", b"queue/mess/0/100", b"example.org", b"a@example.com", b"b@example.org"))
check("spawn-child-rspawn-enoent", b"\0Zpostie-remote failed, exit 111: unable to run postie-remote (#4.3.0)\0" in o,
      repr(o))
rgood = fake("rgood", "#!/bin/sh\nwhile read k v; do case $k in SigBlk:) b=$v;; esac; done < /proc/$$/status\n"
             "echo \"K$b\"\necho \"Kdone\"\n", prog="postie-remote")
o = run([rgood], "postie-rspawn", (b"0", b"queue/mess/0/100", b"example.org", b"a@example.com", b"b@example.org"))
check("spawn-child-rspawn-runs", b"\0K0000000000000000\0" in o, repr(o))
done()
