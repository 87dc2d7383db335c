"""Helpers for postie-send's tests: an instance with users and Maildirs,
stand-ins for postie-local/postie-remote until their branches land, a
postie-send process to start, stop and kill, and smtp-sink servers."""
import os, re, shutil, signal, stat, subprocess, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from postietest import *
from cdbwrite import users_cdb

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.geteuid() == 0
UID = 65534 if ROOT else os.geteuid()
GID = 65534 if ROOT else os.getegid()


def _open_path(d):
    """Make every ancestor of d traversable, so that the users' uid can
    reach their homes under the test's scratch directory."""
    d = os.path.abspath(d)
    while d not in ("/", ""):
        try:
            m = os.stat(d).st_mode
            if not m & stat.S_IXOTH:
                os.chmod(d, m | stat.S_IXOTH | stat.S_IXGRP)
        except OSError:
            pass
        d = os.path.dirname(d)


def maildir(path):
    for s in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(path, s), exist_ok=True)


class Instance:
    def __init__(self, name, users=("alice", "bob", "carol"), control=None, remote_standin=None, local_standin=None):
        control = dict(control or {})
        # nothing may leave loopback: unrouted remote domains go to a closed port
        control.setdefault("smtproutes", ":127.0.0.1:9\n")
        self.home = mkinstance(tmpdir(name), control)
        _open_path(self.home)
        os.chmod(self.home, 0o755)
        self.users = {}
        rows = []
        for u in users:
            uh = os.path.join(self.home, "homes", u)
            maildir(os.path.join(uh, "Maildir"))
            for dp, dn, fn in os.walk(os.path.join(self.home, "homes")):
                os.chmod(dp, 0o755)
            for dp, dn, fn in os.walk(uh):
                os.chown(dp, UID, GID)
            self.users[u] = uh
            rows.append((u, "*", UID, GID, uh, "Maildir/"))
        users_cdb(self.home, rows)
        self.bin = os.path.join(self.home, "bin")
        os.makedirs(self.bin, exist_ok=True)
        os.chmod(self.bin, 0o755)
        # the real programs when their branches have landed, else stand-ins
        for p, force in (("postie-local", local_standin), ("postie-remote", remote_standin)):
            if force or (force is None and not os.path.exists(prog(p))):
                shutil.copy(os.path.join(HERE, "standin", p), os.path.join(self.bin, p))
                os.chmod(os.path.join(self.bin, p), 0o755)
        self.proc = None
        self.log = os.path.join(self.home, "send.log")

    def control(self, name, value):
        with open(os.path.join(self.home, "control", name), "w") as f:
            f.write(value if value.endswith("\n") or value == "" else value + "\n")

    def env(self, **extra):
        e = env_for(self.home, **extra)
        e["PATH"] = self.bin + ":" + e["PATH"]
        return e

    def inject(self, sender, rcpts, body=b"Subject: test\n\nhello\n"):
        """Through postie-queue; returns the queue id."""
        ir, iw = os.pipe()
        mr, mw = os.pipe(); er, ew = os.pipe()
        p = subprocess.Popen([prog("postie-queue")], stdin=mr, stdout=er, pass_fds=(iw,),
                             env=self.env(POSTIE_QUEUE_IDFD=iw))
        os.close(mr); os.close(er); os.close(iw)
        writeall(mw, body); os.close(mw)
        writeall(ew, envelope(sender, rcpts)); os.close(ew)
        rc = p.wait()
        qid = os.read(ir, 100).decode().strip()
        os.close(ir)
        if rc != 0:
            raise RuntimeError("postie-queue exited %d" % rc)
        return qid

    def start(self, **extra):
        before = self.logtext().count("status: ready")
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen([prog("postie-send")], stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=self.logf, env=self.env(**extra), start_new_session=True)
        # wait for it to hold the trigger, its signals trapped, its
        # start-up scan done
        end = time.time() + 30
        while time.time() < end and self.proc.poll() is None:
            if self.logtext().count("status: ready") > before:
                break
            time.sleep(0.01)
        return self.proc

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=30):
        if not self.proc:
            return None
        try:
            self.proc.send_signal(signal.SIGTERM)
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            rc = None
        self.proc = None
        self.logf.close()
        return rc

    def kill(self):
        """kill -9 of postie-send alone (its spawners see EOF and end)."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None
        self.logf.close()

    def logtext(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def mails(self, user):
        """The messages in user's Maildir/new, as bytes."""
        d = os.path.join(self.users[user], "Maildir", "new")
        out = []
        for n in os.listdir(d):
            try:
                with open(os.path.join(d, n), "rb") as f:
                    out.append((os.fstat(f.fileno()).st_mtime_ns, n, f.read()))
            except FileNotFoundError:
                pass
        return [m for _, _, m in sorted(out)]

    def queue_empty(self):
        for sub in ("todo", "info", "mess", "bounce"):
            if queue_files(self.home, sub):
                return False
        return True

    def wait(self, pred, timeout=20, step=0.02):
        end = time.time() + timeout
        while time.time() < end:
            if pred():
                return True
            time.sleep(step)
        return pred()


class Sink:
    """postfix's smtp-sink on 127.0.0.1, dumping each message to a file."""
    def __init__(self, dumpdir, args=()):
        self.dir = dumpdir
        os.makedirs(dumpdir, exist_ok=True)
        os.chmod(dumpdir, 0o777)
        self.port = free_port()
        self.p = subprocess.Popen(["/usr/sbin/smtp-sink"] + (["-u", "nobody"] if ROOT else [])
                                  + list(args) + ["-d", os.path.join(dumpdir, "msg."), "127.0.0.1:%d" % self.port, "50"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def messages(self):
        out = []
        for n in sorted(os.listdir(self.dir)):
            with open(os.path.join(self.dir, n), "rb") as f:
                out.append(f.read())
        return out

    def stop(self):
        self.p.terminate()
        self.p.wait()


def info_marks(home, qid):
    """{final address: state byte} of queue/info/B/qid, None if it is
    gone (the message ended)."""
    path = os.path.join(home, "queue", "info", str(int(qid.split(".")[2]) % 64), qid)
    try:
        with open(path, "rb") as f:
            lines = f.read().decode().split("\n")
    except FileNotFoundError:
        return None
    return {l.split("\t")[1]: l[0] for l in lines[3:] if l}


START_RE = re.compile(r"postie-send: starting delivery (\S+) [LR]\d+: (?:local|remote) <(.*)>$")
RESULT_RE = re.compile(r"postie-send: delivery (\S+) [LR]\d+: <(.*)>: (success|failure|deferral): ")


def in_flight(log):
    """From postie-send's log up to a kill: the (queue id, address) of
    the deliveries in flight (a start line and no result line after it)
    and of those with a result line."""
    inflight, finished = set(), set()
    for l in log.splitlines():
        m = START_RE.match(l)
        if m:
            inflight.add(m.groups())
        m = RESULT_RE.match(l)
        if m:
            finished.add(m.groups()[:2])
            inflight.discard(m.groups()[:2])
    return inflight, finished


def unmarked_successes(home, log):
    """The successes in log whose recipient is not marked D in its info
    file (the message still queued), as (queue id, address, state)."""
    out = []
    for m in RESULT_RE.finditer(log):
        if m.group(3) == "success":
            mk = info_marks(home, m.group(1))
            if mk is not None and mk.get(m.group(2)) != "D":
                out.append((m.group(1), m.group(2), mk.get(m.group(2))))
    return out


def delivered(inst, users, sink, tagre, ids):
    """{(queue id, address): copies}: the messages in the users' Maildirs
    (address user@example.org) and in sink (one per X-Rcpt-Args), each
    found by its tag (tagre's group 1, a key of ids)."""
    got = {}
    def add(msg, addrs):
        m = tagre.search(msg)
        if m:
            for a in addrs:
                k = (ids.get(m.group(1).decode()), a)
                got[k] = got.get(k, 0) + 1
    for u in users:
        for msg in inst.mails(u):
            add(msg, ["%s@example.org" % u])
    for msg in sink.messages():
        add(msg, [a.decode() for a in re.findall(rb"X-Rcpt-Args: <([^>]*)>", msg)])
    return got


def strace_stop(sp, logf):
    """Ends postie-send running under strace (sp): SIGTERM to strace's
    child, then waits for strace (SIGKILL to the group after 30 s)."""
    pid = None
    try:
        for line in open("/proc/%d/task/%d/children" % (sp.pid, sp.pid)).read().split():
            pid = int(line)
    except OSError:
        pass
    if pid:
        os.kill(pid, signal.SIGTERM)
    try:
        sp.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(sp.pid, signal.SIGKILL)
        sp.wait()
    logf.close()


def strace_start(inst, name, trace, args):
    """postie-send under strace -f -qq -y -o trace ARGS, logging into
    inst's log; returns (strace's Popen, the log file) once postie-send
    is ready (strace_stop ends them), or skips the test (name) when
    strace cannot run here."""
    logf = open(inst.log, "ab")
    sp = subprocess.Popen(["strace", "-f", "-qq", "-y", "-o", trace] + list(args) + [prog("postie-send")],
                          stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, env=inst.env(), start_new_session=True)
    inst.wait(lambda: "status: ready" in inst.logtext() or sp.poll() is not None, 60)
    if sp.poll() is not None or "status: ready" not in inst.logtext():
        strace_stop(sp, logf)
        skip(name, "strace cannot run here: " + inst.logtext()[-200:])
        done()
    return sp, logf


def check_crash_deliveries(got, ids, rcpts, inflight):
    """After kill -9 and a restart that emptied the queue: every message
    delivered to every recipient (got: delivered()), and nothing twice
    except what was in flight at a kill. Returns the duplicates."""
    want = set((q, r) for q in ids.values() for r in rcpts)
    missing = want - set(got)
    dups = set(k for k, v in got.items() if v > 1)
    check("kill9-every-delivery-made", not missing, "%d missing, e.g. %r" % (len(missing), sorted(missing)[:3]))
    check("kill9-duplicates-only-in-flight", dups <= inflight,
          "%d duplicates not in flight: %r" % (len(dups - inflight), sorted(dups - inflight)[:3]))
    return dups
