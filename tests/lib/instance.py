"""Whole instances for end-to-end tests: postie-setup -u, users, s6-svscan.

An instance runs under real supervision (s6-svscan on its service/
directory) as one unprivileged uid: the test's own uid, or, when the tests
run as root, the user nobody (postie-checkpassword refuses uid 0, and
running the daemons as root would test nothing real). The instance then
lives in a directory that uid owns under POSTIE_TESTTMP, which is given
search permission (o+x) for it."""

import os, pwd, signal, socket, subprocess, time
from postietest import *

ROOT = os.getuid() == 0
if ROOT:
    _pw = pwd.getpwnam("nobody")
    RUN_UID, RUN_GID = _pw.pw_uid, _pw.pw_gid
    RUNAS = ["s6-setuidgid", "nobody"]
else:
    RUN_UID, RUN_GID = os.getuid(), os.getgid()
    RUNAS = []

# Programs a whole instance needs, and which test needs them.
SYSTEM_PROGS = ["postie-setup", "postie-users", "postie-checkpassword", "postie-tcpserver",
                "postie-tcpaccess", "postie-smtpd", "postie-queue", "postie-send", "postie-lspawn",
                "postie-local", "postie-rspawn", "postie-remote", "postie-popup", "postie-pop3d"]


def missing(progs=SYSTEM_PROGS):
    return [p for p in progs if not os.access(prog(p), os.X_OK)]


def scratch(name):
    """A directory owned by the instance uid, reachable by it."""
    base = os.environ.get("POSTIE_TESTTMP") or "/tmp"
    if ROOT:
        os.chmod(base, os.stat(base).st_mode | 0o711)
    d = os.path.join(base, "i-%s-%d" % (name, os.getpid()))
    os.makedirs(d, exist_ok=True)
    if ROOT:
        os.chown(d, RUN_UID, RUN_GID)
    return d


def run_as(argv, home=None, input=None, timeout=60, env_extra=None):
    env = env_for(home) if home else env_for("/nonexistent")
    if not home:
        del env["POSTIE_HOME"]
    env.update(env_extra or {})
    return subprocess.run(RUNAS + argv, input=input, capture_output=True, env=env, timeout=timeout)


def setup(home, ports, me="a.example", extra=()):
    """postie-setup -u. Returns the CompletedProcess."""
    r = run_as([prog("postie-setup"), "-u", "-d", home, "-p", "%d,%d,%d" % ports, "-m", me] + list(extra))
    return r


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    if ROOT:
        os.chown(path, RUN_UID, RUN_GID)


def add_user(home, name, password):
    """A virtual user whose mailbox is home/mail/NAME/Maildir/."""
    h = os.path.join(home, "mail", name)
    r = run_as([prog("postie-users"), "add", name, str(RUN_UID), str(RUN_GID), h], home=home,
               input=(password + "\n").encode())
    for d in (h, h + "/Maildir", h + "/Maildir/tmp", h + "/Maildir/new", h + "/Maildir/cur"):
        if not os.path.isdir(d):
            os.mkdir(d, 0o700)
            if ROOT:
                os.chown(d, RUN_UID, RUN_GID)
    return r


class Supervised:
    """s6-svscan on home/service, in its own session."""

    def __init__(self, home):
        self.home = home
        self.scandir = os.path.join(home, "service")
        self.p = subprocess.Popen(["s6-setsid", "--"] + RUNAS + ["s6-svscan", "--", self.scandir],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, env=env_for(home))

    def svc(self, name):
        return os.path.join(self.scandir, name)

    def wait_supervised(self, names, timeout=15):
        end = time.time() + timeout
        for n in names:
            while not os.path.exists(os.path.join(self.svc(n), "supervise", "control")):
                if time.time() > end or self.p.poll() is not None:
                    return False
                time.sleep(0.05)
        return True

    def state(self, name):
        """(up, ready, pid) from s6-svstat, or None while unknown."""
        r = subprocess.run(["s6-svstat", "-o", "up,ready,pid", self.svc(name)], capture_output=True, text=True)
        f = r.stdout.split()
        if r.returncode != 0 or len(f) != 3:
            return None
        return f[0] == "true", f[1] == "true", int(f[2])

    def is_ready(self, name):
        st = self.state(name)
        if not st:
            return False
        needready = os.path.exists(os.path.join(self.svc(name), "notification-fd"))
        return st[0] and (st[1] or not needready) and st[2]

    def wait_ready(self, names=("smtpd", "submission", "pop3d", "send"), timeout=15):
        """Every service up, and ready when it notifies readiness."""
        if not self.wait_supervised(names, timeout):
            return False
        end = time.time() + timeout
        for n in names:
            while not self.is_ready(n):
                if time.time() > end or self.p.poll() is not None:
                    return False
                time.sleep(0.05)
        return True

    def pid(self, name):
        st = self.state(name)
        return st[2] if st and st[0] else -1

    def ctl(self, name, *flags):
        return subprocess.run(["s6-svc"] + list(flags) + [self.svc(name)], capture_output=True).returncode

    def stop(self, timeout=20):
        """s6-svscanctl -t, as SIGTERM would: every service and logger stops."""
        if self.p.poll() is None:
            subprocess.run(["s6-svscanctl", "-t", self.scandir], capture_output=True)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                subprocess.run(["s6-svscanctl", "-q", self.scandir], capture_output=True)
                try:
                    self.p.wait(5)
                except subprocess.TimeoutExpired:
                    self.p.kill()
                    self.p.wait()
                return False
        return self.p.returncode == 0


def supervisors_left(home):
    """Processes whose working directory is in home/service (s6-supervise and
    the services it runs), found through /proc."""
    left = []
    base = os.path.realpath(os.path.join(home, "service"))
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            cwd = os.readlink("/proc/%s/cwd" % d)
        except OSError:
            continue
        if cwd == base or cwd.startswith(base + "/"):
            try:
                left.append((int(d), open("/proc/%s/cmdline" % d, "rb").read().replace(b"\0", b" ").decode()))
            except OSError:
                pass
    return left


def logs(home, service):
    """The text of every log file of a service (archives and current)."""
    d = os.path.join(home, "log", service)
    out = []
    if os.path.isdir(d):
        for n in sorted(os.listdir(d)):
            if n.startswith("@") or n == "current":
                try:
                    out.append(open(os.path.join(d, n), "rb").read().decode("utf-8", "replace"))
                except OSError:
                    pass
    return "".join(out)


def maildir_messages(home, user):
    md = os.path.join(home, "mail", user, "Maildir")
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(md, sub)
        if os.path.isdir(d):
            for n in sorted(os.listdir(d)):
                out.append(open(os.path.join(d, n), "rb").read())
    return out


def wait_for(cond, timeout=20, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return cond()


def tree_snapshot(top, skip=()):
    """path -> (type, mode, owner, content or target), for byte-for-byte
    comparisons of an instance. Names in skip (relative) are left out."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(top):
        rel = os.path.relpath(dirpath, top)
        dirnames[:] = [d for d in dirnames if os.path.normpath(os.path.join(rel, d)) not in skip]
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            r = os.path.normpath(os.path.join(rel, n))
            if r in skip:
                continue
            st = os.lstat(p)
            if os.path.islink(p):
                v = ("l", os.readlink(p))
            elif os.path.isdir(p):
                v = ("d",)
            elif os.path.isfile(p):
                v = ("f", open(p, "rb").read())
            else:
                v = ("o",)
            snap[r] = v + (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns if v[0] != "d" else 0)
    return snap


def tls_context(home):
    """A client context that verifies the instance's certificate (the
    self-signed one postie-setup made, its own CA) and its name."""
    import ssl
    return ssl.create_default_context(cafile=os.path.join(home, "tls", "cert.pem"))


def smtp_tls(home, port, me, timeout=20):
    """smtplib on 127.0.0.1:port, after STARTTLS (verified against the
    instance's certificate for the name me) and a new EHLO."""
    import smtplib
    s = smtplib.SMTP("127.0.0.1", port, timeout=timeout)
    s._host = me  # the name the certificate is checked against
    s.starttls(context=tls_context(home))
    s.ehlo()
    return s


def pop3_tls(home, port, me, timeout=20):
    """poplib on 127.0.0.1:port, after STLS (verified as smtp_tls)."""
    import poplib
    p = poplib.POP3("127.0.0.1", port, timeout=timeout)
    p.host = me
    p.stls(context=tls_context(home))
    return p
