"""Helpers for the IMAP client tests: the name imap.test on 127.0.0.1 (a
private /etc/hosts in the test's own mount namespace, for clients that
cannot be told an address apart from the name they verify), the IMAP
chain behind postie-tcpserver with STARTTLS and with implicit TLS, users,
and a terminal for clients that want one (mutt)."""
import fcntl, os, pty, select, signal, struct, subprocess, tempfile, termios, time
from postietest import *
from poptest import public_tmp, pop_instance, san_reports_into, make_maildir, chown_r, users
from tcp import Server
from tlstest import make_cert, client_context

NAME = "imap.test"
UID = 4242 if os.geteuid() == 0 else os.getuid()
GID = 4243 if os.geteuid() == 0 else os.getgid()


def private_hosts(names):
    """Re-run the test in a mount namespace of its own (own_mount_namespace)
    and lay a private /etc/hosts there saying that NAME is 127.0.0.1."""
    own_mount_namespace(names)
    fd, path = tempfile.mkstemp(prefix="postie-hosts-")
    os.write(fd, b"127.0.0.1 localhost %s\n" % NAME.encode())
    os.close(fd)
    os.chmod(path, 0o644)
    r = subprocess.run(["mount", "--bind", path, "/etc/hosts"], capture_output=True, text=True)
    os.unlink(path)  # the mount keeps it
    if r.returncode != 0:
        for n in names:
            skip(n, "mount --bind /etc/hosts: %s" % r.stderr.strip())
        done()


class ImapSetup:
    """An instance in a public scratch directory (pub), a certificate for
    NAME (ca: the file clients verify against), and two servers:
    req (STARTTLS, postie-tlsd -r) and imp (implicit TLS)."""

    def __init__(self, name, control=None):
        self.pub = public_tmp(name)
        self.sandir = san_reports_into(self.pub)
        self.home = pop_instance(self.pub)
        ctl = {"imapfaildelay": "0", "imapidlepoll": "1"}
        ctl.update(control or {})
        for k, v in ctl.items():
            with open(os.path.join(self.home, "control", k), "w") as f:
                f.write(v + "\n")
        self.ca = make_cert(self.home, NAME)
        self.ctx = client_context(self.ca, NAME)
        chain = [prog("postie-imapup"), NAME, prog("postie-checkpassword"), prog("postie-imapd")]
        env = {"POSTIE_HOME": self.home}
        self.req = Server(["-v"], "127.0.0.1", [prog("postie-tlsd"), "-r"] + chain, os.path.join(self.pub, "req.log"), env=env)
        self.imp = Server(["-v"], "127.0.0.1", [prog("postie-tlsd")] + chain, os.path.join(self.pub, "imp.log"), env=env)

    def user(self, name, password):
        """A user whose Maildir is pub/NAME/Maildir. Returns its path."""
        h = os.path.join(self.pub, name)
        md = make_maildir(os.path.join(h, "Maildir"), UID, GID)
        chown_r(h, UID, GID)
        users(self.home, "add", name, str(UID), str(GID), h, password=password)
        return md

    def imaps(self, user, password):
        """imaplib over implicit TLS, logged in."""
        import imaplib, socket
        ctx = self.ctx

        class TLS(imaplib.IMAP4_SSL):
            def _create_socket(self, timeout):
                return ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.port), timeout), server_hostname=NAME)
        c = TLS("127.0.0.1", self.imp.port, ssl_context=ctx, timeout=20)
        c.login(user, password)
        return c

    def finish(self):
        """Stop the servers, report sanitizer findings, remove pub."""
        import shutil
        self.req.stop()
        self.imp.stop()
        if SAN and os.path.isdir(self.sandir):
            for n in os.listdir(self.sandir):
                print("FAIL sanitizer: " + open(os.path.join(self.sandir, n), errors="replace").read()[:2000])
        shutil.rmtree(self.pub, ignore_errors=True)


def maildir_names(md, folder=""):
    """Every message file name of a folder ("" for INBOX, ".Name" else),
    new/ and cur/."""
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(md, folder, sub)
        if os.path.isdir(d):
            out += os.listdir(d)
    return sorted(out)


def maildir_flags(md, folder=""):
    """{Subject: flags} of a folder's messages (flags: the letters after :2,)."""
    out = {}
    for sub in ("new", "cur"):
        d = os.path.join(md, folder, sub)
        if not os.path.isdir(d):
            continue
        for n in os.listdir(d):
            subj = None
            with open(os.path.join(d, n), "rb") as f:
                for line in f:
                    if line.lower().startswith(b"subject:"):
                        subj = line[8:].strip().decode()
                        break
                    if line in (b"\n", b"\r\n"):
                        break
            out[subj] = n.split(":2,", 1)[1] if ":2," in n else ""
    return out


def run_tty(argv, env, timeout=60, rows=24, cols=80):
    """argv on a pseudo-terminal of its own (a client that insists on a
    screen), its output collected. Returns (exit status, or None when it
    was still running at the deadline and was killed; the output)."""
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvpe(argv[0], argv, env)
        finally:
            os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    out = b""
    end = time.time() + timeout
    status = None
    while True:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                d = os.read(fd, 65536)
            except OSError:
                d = b""
            out += d
            if not d:
                break
        p, st = os.waitpid(pid, os.WNOHANG)
        if p:
            status = os.waitstatus_to_exitcode(st)
            pid = None
            # what is still in the terminal's buffer
            while select.select([fd], [], [], 0.1)[0]:
                try:
                    d = os.read(fd, 65536)
                except OSError:
                    break
                if not d:
                    break
                out += d
            break
        if time.time() > end:
            break
    while pid and time.time() < end:
        p, st = os.waitpid(pid, os.WNOHANG)
        if p:
            status = os.waitstatus_to_exitcode(st)
            pid = None
        else:
            time.sleep(0.05)
    if pid:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    os.close(fd)
    return status, out
