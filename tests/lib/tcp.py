"""Helpers for the postie-tcpserver and postie-tcpaccess tests."""
import os, select, signal, socket, subprocess, time
from postietest import prog, BIN

HERE = os.path.dirname(os.path.abspath(__file__))
ECHO = os.path.join(HERE, "tcp-echo")


class Server:
    """postie-tcpserver -1 [opts] ip 0 prog...: started, ready (the port
    was read from its stdout), its log (stderr) in a file."""

    def __init__(self, opts, ip, argv, logpath, env=None, port="0"):
        self.logpath = logpath
        self.log = open(logpath, "wb")
        e = dict(os.environ)
        e["PATH"] = BIN + ":" + e.get("PATH", "/usr/bin:/bin")
        if env:
            e.update(env)
        self.p = subprocess.Popen([prog("postie-tcpserver"), "-1"] + opts + [ip, port] + argv,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=self.log, env=e)
        r, _, _ = select.select([self.p.stdout], [], [], 10)
        line = self.p.stdout.readline() if r else b""
        self.ready_line = line
        self.port = int(line) if line.strip().isdigit() else None
        self.ip = ip

    def connect(self, src=None, timeout=10):
        fam = socket.AF_INET6 if ":" in self.ip else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(timeout)
        if src:
            s.bind((src, 0))
        s.connect((self.ip, self.port))
        return s

    def logtext(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, pred, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            t = self.logtext()
            if pred(t):
                return t
            time.sleep(0.02)
        return self.logtext()

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.p.stdout.close()
        self.log.close()
        return self.p.returncode


def readline(s, limit=4096):
    """One line from a socket, b"" at EOF (or reset)."""
    b = b""
    while not b.endswith(b"\n") and len(b) < limit:
        try:
            c = s.recv(1)
        except (ConnectionResetError, socket.timeout):
            return b
        if not c:
            break
        b += c
    return b


def read_all(s):
    out = b""
    while True:
        try:
            c = s.recv(65536)
        except ConnectionResetError:
            break
        if not c:
            break
        out += c
    return out


def accessrule(top, kind, key, verdict, env=None, exec_=None):
    """An s6 access rule under top: top/kind/key/verdict ("allow" or
    "deny"), with env/ files (a value "" makes an empty file: unset) and
    an exec file when given."""
    d = os.path.join(top, kind, key)
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, verdict), "w").close()
    if env is not None:
        os.makedirs(os.path.join(d, "env"), exist_ok=True)
        for k, v in env.items():
            with open(os.path.join(d, "env", k), "w") as f:
                f.write(v)
    if exec_ is not None:
        with open(os.path.join(d, "exec"), "w") as f:
            f.write(exec_)
