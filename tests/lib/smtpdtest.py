"""Helpers for postie-smtpd's end-to-end tests: an instance, a tiny UCSPI
launcher (accept, fork postie-smtpd with the socket on fds 0 and 1 and the
UCSPI environment), raw SMTP dialogue over a socket."""

import os, socket, subprocess, threading, time
from postietest import *
from cdbwrite import cdb_write
from lineclient import LineClient

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKPASSWORD = os.path.join(HERE, "test-checkpassword")


def smtpd_instance(name, control=None):
    ctl = {"me": "mx.test.example", "rcpthosts": "local.example\n.sub.local.example", "authfaildelay": "0"}
    ctl.update(control or {})
    return mkinstance(tmpdir(name), ctl)


class Launcher:
    """Listens on 127.0.0.1:port; each connection runs postie-smtpd.
    self.results collects (rc, maxrss_kb) of finished sessions; self.log
    is the path of the sessions' stderr."""

    def __init__(self, home, args=(), env=None, remoteip=None):
        self.home = home
        self.remoteip = remoteip
        self.args = list(args)
        # The tests talk in clear text on loopback: AUTH without TLS is
        # allowed here unless a test says AUTHCLEARTEXT=None.
        extra = {"AUTHCLEARTEXT": "1"}
        extra.update(env or {})
        self.env = env_for(home, TCPLOCALIP="127.0.0.1", TCPLOCALPORT="25", PROTO="TCP",
                           **{k: v for k, v in extra.items() if v is not None})
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.log = os.path.join(home, "smtpd-%d.log" % self.port)
        self.results = []
        self.pids = []
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        t = threading.Thread(target=self._loop, daemon=True)
        t.start()

    def _loop(self):
        while True:
            try:
                c, a = self.sock.accept()
            except OSError:
                return
            env = dict(self.env)
            env["TCPREMOTEIP"] = self.remoteip if self.remoteip is not None else a[0]
            env["TCPREMOTEPORT"] = str(a[1])
            logf = open(self.log, "ab")
            pid = os.fork()
            if pid == 0:
                try:
                    os.dup2(c.fileno(), 0)
                    os.dup2(c.fileno(), 1)
                    os.dup2(logf.fileno(), 2)
                    os.execve(prog("postie-smtpd"), [prog("postie-smtpd")] + self.args, env)
                finally:
                    os._exit(127)
            c.close()
            logf.close()
            with self.lock:
                self.pids.append(pid)
            threading.Thread(target=self._reap, args=(pid,), daemon=True).start()

    def _reap(self, pid):
        _, st, ru = os.wait4(pid, 0)
        with self.cond:
            self.results.append((os.waitstatus_to_exitcode(st), ru.ru_maxrss))
            self.cond.notify_all()

    def wait_sessions(self, n, timeout=30):
        end = time.time() + timeout
        with self.cond:
            while len(self.results) < n and time.time() < end:
                self.cond.wait(0.2)
            return list(self.results)

    def logtext(self):
        try:
            return open(self.log, "rb").read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def close(self):
        self.sock.close()


class Raw(LineClient):
    """A raw SMTP client: send bytes, read replies (multi-line aware)."""

    def __init__(self, port, greet=True):
        LineClient.__init__(self, port, 10)
        self.greeting = self.reply() if greet else None

    def reply(self):
        """One reply: (code, [lines text]); code 0 on EOF."""
        lines = []
        while True:
            l = self.line()
            if len(l) < 3:
                return (0, lines + [l.decode("latin-1")])
            lines.append(l[4:].decode("latin-1"))
            if l[3:4] != b"-":
                return (int(l[:3]), lines)

    def cmd(self, b):
        if isinstance(b, str):
            b = b.encode()
        self.send(b + b"\r\n")
        return self.reply()


def recv_to_eof(sock):
    """What sock still brings until its end (or an error, a timeout)."""
    out = b""
    try:
        while True:
            c = sock.recv(4096)
            if not c:
                break
            out += c
    except OSError:
        pass
    return out


def queued(home):
    """Every queued message as (id, message, sender, recipients)."""
    out = []
    for qid, path in queue_files(home):
        m, s, r = parse_queue_file(open(path, "rb").read())
        out.append((qid, m, s, r))
    return out


def clear_queue(home):
    for _, p in queue_files(home):
        os.unlink(p)


def users_cdb(home, names):
    """users/users.cdb with these users (usersdb.h's record format)."""
    os.makedirs(os.path.join(home, "users"), exist_ok=True)
    cdb_write(os.path.join(home, "users", "users.cdb"),
              [(n.lower().encode(), b"x\0" + b"1000\0" + b"1000\0" + b"/home/" + n.encode() + b"\0Maildir/\0") for n in names])


def file_reply(f):
    """One SMTP reply (all its lines, as bytes) from a file made with
    socket.makefile("rb")."""
    lines = []
    while True:
        l = f.readline()
        lines.append(l)
        if len(l) < 4 or l[3:4] != b"-":
            return b"".join(lines)
