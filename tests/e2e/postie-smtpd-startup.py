#!/usr/bin/python3
"""postie-smtpd's start-up per connection: one listing of control/
(control_list) stands for the open() of every setting whose file is not
there, so a session makes no open() of a missing control file (strace);
a file that is there is still read (a greeting, a bad number: 421), and
one added between two sessions counts from the next session on. The
listing is read with getdents64 into a stack buffer: no mapping made
and unmapped for it (musl's opendir mapped its DIR: a page fault and a
TLB flush per session), and the session unmaps nothing at all. A
control file is read into a block the size of the file (plus a little),
not 4 KiB more per read: every mapping of the session is one page."""
import os, shutil, socket, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from smtpdtest import recv_to_eof, smtpd_instance

if not shutil.which("strace"):
    skip("startup", "strace not installed")
    done()

home = smtpd_instance("smtpd-startup")
trace = os.path.join(home, "strace.out")


def session(lines=(b"EHLO x.example", b"QUIT")):
    """One session under strace: (the replies, the open() calls of paths
    under control/ with their results)."""
    a, b = socket.socketpair()
    env = env_for(home, PROTO="TCP", TCPREMOTEIP="127.0.0.1", TCPREMOTEPORT="4242",
                  TCPLOCALIP="127.0.0.1", TCPLOCALPORT="25")
    p = subprocess.Popen(["strace", "-f", "-qq", "-e", "trace=open,openat,mmap,munmap,close,getdents64", "-o", trace,
                          prog("postie-smtpd")],
                         stdin=b.fileno(), stdout=b.fileno(), stderr=subprocess.DEVNULL, env=env)
    b.close()
    a.settimeout(20)
    out = b""
    try:
        out = a.recv(4096)
        for l in lines:
            if not out.startswith(b"220"):
                break
            a.sendall(l + b"\r\n")
    except OSError:
        pass
    out += recv_to_eof(a)
    a.close()
    p.wait(30)
    global calls
    calls = open(trace).read().splitlines()
    opens = [l for l in calls if '"control/' in l]
    return out.decode("latin-1"), opens


def listing_calls():
    """The calls from the open of control/ to its close, and every munmap."""
    inside, fd, seen = [], None, False
    for l in calls:
        f = l.split(None, 1)
        rest = f[1] if len(f) > 1 else ""
        if fd is None and '"control"' in rest and "O_DIRECTORY" in rest and "= " in rest:
            fd = rest.rsplit("= ", 1)[1].split()[0]
            seen = True
            continue
        if fd is not None:
            if rest.startswith("close(%s)" % fd):
                fd = None
                continue
            inside.append(rest)
    return seen, inside, [l for l in calls if "munmap(" in l]


out, opens = session()
missing = [l for l in opens if "ENOENT" in l]
check("session-works", out.startswith("220 mx.test.example ESMTP postie") and "\r\n221 " in out, out)
check("no-open-of-missing-control-files", not missing, "\n".join(missing))
seen, inside, munmaps = listing_calls()
# The mappings are musl's malloc's: a glibc or sanitizer build maps for
# other reasons (ASan's shadow and allocator).
elf = subprocess.run(["readelf", "-lSW", prog("postie-smtpd")], capture_output=True, text=True).stdout
if SAN or not elf or "Requesting program interpreter" in elf or ".note.ABI-tag" in elf:
    for n in ("listing-no-mapping", "session-unmaps-nothing", "mappings-one-page"):
        skip(n, "not a static musl build")
else:
    check("listing-no-mapping", seen and not [l for l in inside if "mmap(" in l] and any("getdents64" in l for l in inside),
          "\n".join(inside))
    check("session-unmaps-nothing", not munmaps, "\n".join(munmaps))
    big = [l for l in calls if "mmap(" in l and "mmap(NULL, 4096," not in l and "MAP_FIXED" not in l]
    check("mappings-one-page", not big, "\n".join(big))
check("existing-files-read", any('"control/me"' in l and "ENOENT" not in l for l in opens)
      and any('"control/rcpthosts"' in l for l in opens), "\n".join(opens))

# Added between sessions: the next session reads it.
with open(os.path.join(home, "control", "smtpgreeting"), "w") as f:
    f.write("greeting.example welcomes you\n")
out, opens = session()
check("added-file-read", out.startswith("220 greeting.example welcomes you\r\n"), out)
# A setting that is there and wrong is still an error (read, not skipped).
with open(os.path.join(home, "control", "databytes"), "w") as f:
    f.write("lots\n")
out, opens = session()
check("bad-file-still-421", out.startswith("421 "), out)
os.unlink(os.path.join(home, "control", "databytes"))
out, opens = session()
check("removed-file-default", out.startswith("220 greeting.example"), out)
done()
