"""Helpers for the POP3 / users tests: a cdb reader that checks the whole
file, instance and Maildir set-up, the POP3 chain on loopback."""
import os, shutil, socket, struct, subprocess, tempfile, time
from postietest import BIN, env_for, prog, free_port, wait_port
from lineclient import LineClient


def _hash(k):
    h = 5381
    for c in k:
        h = ((h << 5) + h ^ c) & 0xffffffff
    return h


def cdb_read(path):
    """Every record of a cdb as a dict {key: data}; raises ValueError if
    any part of the file is inconsistent (a torn or truncated database)."""
    with open(path, "rb") as f:
        b = f.read()
    if len(b) < 2048:
        raise ValueError("short cdb")
    heads = [struct.unpack_from("<II", b, 8 * i) for i in range(256)]
    end = min(p for p, n in heads)
    recs = {}
    pos = 2048
    positions = {}
    while pos < end:
        kl, dl = struct.unpack_from("<II", b, pos)
        if pos + 8 + kl + dl > end:
            raise ValueError("record past the tables")
        k = bytes(b[pos + 8:pos + 8 + kl])
        recs[k] = bytes(b[pos + 8 + kl:pos + 8 + kl + dl])
        positions[pos] = k
        pos += 8 + kl + dl
    if pos != end:
        raise ValueError("records do not end at the tables")
    seen = 0
    for i, (tp, n) in enumerate(heads):
        if tp + 8 * n > len(b):
            raise ValueError("table past the end")
        for s in range(n):
            h, p = struct.unpack_from("<II", b, tp + 8 * s)
            if not p:
                continue
            if p not in positions or _hash(positions[p]) != h or h & 255 != i:
                raise ValueError("bad slot")
            seen += 1
    if seen != len(positions):
        raise ValueError("slots and records disagree")
    return recs


def parse_user(data):
    f = data.split(b"\0")
    if len(f) != 6 or f[5] != b"":
        raise ValueError("bad record")
    return {"hash": f[0].decode(), "uid": int(f[1]), "gid": int(f[2]),
            "home": f[3].decode(), "maildir": f[4].decode()}


def users(home, *args, password=None, check=False):
    """Run postie-users ARGS with the password (if any) on stdin."""
    p = subprocess.run([prog("postie-users")] + list(args), input=(password + "\n").encode() if password is not None else b"",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_for(home), timeout=60)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def checkpassword(home, name, password, args=("true",)):
    """Run postie-checkpassword ARGS with name and password on fd 3, as
    qmail-popup sends them: (exit code, stderr)."""
    r, w = os.pipe()
    os.write(w, name.encode() + b"\0" + password.encode() + b"\0<1.2@x>\0")
    os.close(w)
    def child():
        os.dup2(r, 3) if r != 3 else os.set_inheritable(3, True)
    p = subprocess.run([prog("postie-checkpassword")] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env_for(home), timeout=60, close_fds=False, preexec_fn=child)
    os.close(r)
    return p.returncode, p.stderr.decode(errors="replace")


def public_tmp(name):
    """A scratch directory every uid can traverse (homes of test users that
    postie-checkpassword runs as). The caller removes it."""
    d = tempfile.mkdtemp(prefix="postie-%s-" % name, dir="/tmp")
    os.chmod(d, 0o711)
    return d


def make_maildir(path, uid=None, gid=None):
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    if uid is not None:
        chown_r(path, uid, gid)
    return path


def chown_r(path, uid, gid):
    if os.geteuid() != 0:
        return
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for n in dirs + files:
            os.lchown(os.path.join(root, n), uid, gid)


_seq = [0]


def deliver(maildir, content, uid=None, gid=None, name=None, where="new"):
    """Write a message into a Maildir the way a delivery agent does
    (tmp/, then link into new/). Returns its file name."""
    _seq[0] += 1
    if name is None:
        name = "%d.M%dP%dQ%d.test" % (int(time.time()), _seq[0], os.getpid(), _seq[0])
    t = os.path.join(maildir, "tmp", name)
    with open(t, "wb") as f:
        f.write(content)
        f.flush()
        os.fsync(f.fileno())
    if uid is not None and os.geteuid() == 0:
        os.chown(t, uid, gid)
    os.rename(t, os.path.join(maildir, where, name))
    return name


class Pop3Server:
    """postie-popup HOSTNAME postie-checkpassword postie-pop3d behind
    ucspi-tcp's tcpserver on 127.0.0.1 (no DNS: -R -H -l 0)."""

    def __init__(self, home, extra=None, server=None):
        self.port = free_port()
        self.errf = open(os.path.join(home, "pop3-stderr.%d" % self.port), "w+b")
        front = server or ["tcpserver", "-R", "-H", "-l", "0"]
        cmd = front + ["127.0.0.1", str(self.port),
               prog("postie-popup"), "pop.test", prog("postie-checkpassword"), prog("postie-pop3d")] + (extra or [])
        # In clear text on loopback: a login without TLS is allowed here.
        self.p = subprocess.Popen(cmd, env=env_for(home, AUTHCLEARTEXT="1"), stdout=subprocess.DEVNULL, stderr=self.errf)
        if not wait_port(self.port):
            raise RuntimeError("tcpserver did not start")

    def stderr(self):
        self.errf.seek(0)
        return self.errf.read().decode(errors="replace")

    def stop(self):
        self.p.terminate()
        try:
            self.p.wait(5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


class Raw(LineClient):
    """A raw POP3 client for hostile input."""

    def multi(self):
        out = []
        while True:
            l = self.line()
            if l == b"." or l == b"":
                return out
            out.append(l)

    def cmd(self, b):
        self.send(b + b"\r\n")
        return self.line()


def san_reports_into(pub):
    """Under sanitizers, postie-pop3d runs as the test user, which cannot
    write into the runner's private report directory: collect the reports
    in pub/san (every uid may write there). Returns that directory."""
    from postietest import SAN
    sandir = os.path.join(pub, "san")
    if SAN:
        os.makedirs(sandir)
        os.chmod(sandir, 0o1777)
        for var, name in (("ASAN_OPTIONS", "asan"), ("UBSAN_OPTIONS", "ubsan")):
            opts = [o for o in os.environ.get(var, "").split(":") if o and not o.startswith("log_path=")]
            os.environ[var] = ":".join(opts + ["log_path=" + os.path.join(sandir, name)])
    return sandir


def pop_instance(pub, faildelay="0"):
    """An instance for the POP3 chain in pub/instance (users/, control/,
    control/pop3faildelay), reachable by every uid. Returns its path."""
    home = os.path.join(pub, "instance")
    os.makedirs(os.path.join(home, "users"))
    os.makedirs(os.path.join(home, "control"))
    os.chmod(home, 0o755)
    with open(os.path.join(home, "control", "pop3faildelay"), "w") as f:
        f.write(faildelay + "\n")
    return home
