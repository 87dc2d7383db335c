"""Helpers shared by postie's end-to-end tests (python3 standard library only).

A test prints one line per check: PASS name / FAIL name: why / SKIP name: why,
and exits 1 if any check failed (tests/run counts the lines)."""

import os, socket, subprocess, sys, time

TOP = os.environ.get("POSTIE_TOP") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("POSTIE_BUILD") or os.path.join(TOP, "build")
BIN = os.path.join(BUILD, "bin")
SAN = os.environ.get("POSTIE_SAN") == "1"
QUEUE_SPLIT = 64
TRAILER_MAGIC = b"postie-queue-1 "
TRAILER_LEN = 32

_failed = 0


def check(name, cond, why=""):
    global _failed
    if cond:
        print("PASS", name, flush=True)
    else:
        _failed += 1
        print("FAIL %s: %s" % (name, why or "check failed"), flush=True)
    return cond


def skip(name, why):
    print("SKIP %s: %s" % (name, why), flush=True)


def done():
    sys.exit(1 if _failed else 0)


def own_mount_namespace(names):
    """Run the calling test again in a private mount namespace of its own
    (unshare --mount, as root), so that what it mounts vanishes with it.
    Returns in the new namespace; skips every check of names and exits
    when that cannot be done."""
    script = os.path.abspath(sys.argv[0])
    var = "POSTIE_OWN_NS_" + "".join(c if c.isalnum() else "_" for c in os.path.basename(script)).upper()
    if os.environ.get(var):
        return
    if os.geteuid() != 0:
        for n in names:
            skip(n, "needs root (a private mount namespace)")
        done()
    os.environ[var] = "1"
    try:
        os.execvp("unshare", ["unshare", "--mount", "--propagation", "private", sys.executable, script])
    except OSError as e:
        for n in names:
            skip(n, "unshare: %s" % e)
        done()


def prog(name):
    return os.path.join(BIN, name)


def static_musl(exe):
    """True when exe is a static musl executable (the default build), false
    for a glibc or sanitizer build: e.g. postie-users-hash, whose libxcrypt
    is then postie's own with two methods, not the system's with all."""
    elf = subprocess.run(["readelf", "-lSW", exe], capture_output=True, text=True).stdout
    return not SAN and bool(elf) and "Requesting program interpreter" not in elf and ".note.ABI-tag" not in elf


def skip_unless_static_musl(name, exe):
    """For tests that count what a start-up costs (page faults): skips
    check name and exits unless exe is a static musl executable (a glibc
    or sanitizer build has other start-up costs)."""
    if not static_musl(exe):
        skip(name, "not a static musl build (%s)" % BUILD)
        done()


def env_for(home, **extra):
    e = dict(os.environ)
    e["POSTIE_HOME"] = home
    e["PATH"] = BIN + ":" + e.get("PATH", "/usr/bin:/bin")
    e.update({k: str(v) for k, v in extra.items()})
    return e


# The control files a complete instance has (postie-setup writes them): a
# missing one is a configuration slip, which the programs take as a
# temporary failure (local_resolve.h). Empty means none; me defaults here
# to what a test that gives none always had.
REQUIRED_CONTROL = {"me": "localhost", "locals": "", "rcpthosts": "", "aliases": ""}


def mkinstance(home, control=None, required=True):
    """The smallest instance postie-queue needs: control/, queue/tmp,
    queue/todo/0..63, the trigger fifo; and, unless required is false, the
    required control files (REQUIRED_CONTROL, the test's control winning)
    and an empty users/users.cdb."""
    os.makedirs(os.path.join(home, "control"), exist_ok=True)
    if required:
        for k, v in REQUIRED_CONTROL.items():
            if k not in (control or {}) and not os.path.exists(os.path.join(home, "control", k)):
                with open(os.path.join(home, "control", k), "w") as f:
                    f.write(v + "\n" if v else "")
        if not os.path.exists(os.path.join(home, "users", "users.cdb")):
            from cdbwrite import cdb_write
            os.makedirs(os.path.join(home, "users"), exist_ok=True)
            cdb_write(os.path.join(home, "users", "users.cdb"), [])
    q = os.path.join(home, "queue")
    os.makedirs(os.path.join(q, "tmp"), exist_ok=True)
    for i in range(QUEUE_SPLIT):
        os.makedirs(os.path.join(q, "todo", str(i)), exist_ok=True)
    t = os.path.join(q, "trigger")
    if not os.path.exists(t):
        os.mkfifo(t, 0o622)
    for k, v in (control or {}).items():
        with open(os.path.join(home, "control", k), "w") as f:
            f.write(v if v.endswith("\n") else v + "\n")
    return home


def envelope(sender, rcpts):
    b = b"F" + sender.encode() + b"\0"
    for r in rcpts:
        b += b"T" + r.encode() + b"\0"
    return b + b"\0"


def queue_inject(home, message, env_bytes, extra_env=None, timeout=30):
    """Run postie-queue with message on fd 0 and env_bytes on fd 1.
    Returns (exit code, stderr)."""
    mr, mw = os.pipe()
    er, ew = os.pipe()
    p = subprocess.Popen([prog("postie-queue")], stdin=mr, stdout=er, stderr=subprocess.PIPE,
                         env=env_for(home, **(extra_env or {})), close_fds=True)
    os.close(mr)
    os.close(er)
    try:
        try:
            os.write(mw, message) if len(message) < 60000 else writeall(mw, message)
        except BrokenPipeError:
            pass
        os.close(mw)
        try:
            writeall(ew, env_bytes)
        except BrokenPipeError:
            pass
        os.close(ew)
    except Exception:
        p.kill()
        raise
    err = p.stderr.read()
    return p.wait(timeout=timeout), err


def writeall(fd, b):
    mv = memoryview(b)
    while len(mv):
        n = os.write(fd, mv)
        mv = mv[n:]


def queue_files(home, sub="todo"):
    """Every file under queue/<sub>/<bucket>/ as (id, path)."""
    out = []
    base = os.path.join(home, "queue", sub)
    for b in sorted(os.listdir(base)) if os.path.isdir(base) else []:
        d = os.path.join(base, b)
        if os.path.isdir(d):
            for n in os.listdir(d):
                out.append((n, os.path.join(d, n)))
    return out


def parse_queue_file(data):
    """(message, sender, [recipients]) from a queue/todo file, or raise."""
    if len(data) < TRAILER_LEN:
        raise ValueError("short file")
    tr = data[-TRAILER_LEN:]
    if not tr.startswith(TRAILER_MAGIC) or not tr.endswith(b"\n"):
        raise ValueError("bad trailer")
    mlen = int(tr[15:31], 16)
    msg = data[:mlen]
    env = data[mlen:-TRAILER_LEN]
    if not env.startswith(b"F") or not env.endswith(b"\0\0"):
        raise ValueError("bad envelope")
    parts = env[:-1].split(b"\0")[:-1]
    sender = parts[0][1:].decode("utf-8", "surrogateescape")
    rcpts = []
    for p in parts[1:]:
        if not p.startswith(b"T"):
            raise ValueError("bad recipient")
        rcpts.append(p[1:].decode("utf-8", "surrogateescape"))
    return msg, sender, rcpts


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, host="127.0.0.1", timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection((host, port), 0.5).close()
            return True
        except OSError:
            time.sleep(0.02)
    return False


def tmpdir(name):
    base = os.environ.get("POSTIE_TESTTMP") or "/tmp"
    d = os.path.join(base, "t-%s-%d" % (name, os.getpid()))
    os.makedirs(d, exist_ok=True)
    return d
