"""postie-imapd run directly on a Maildir (PREAUTH, as over ssh), on
pipes: no login chain, and the test knows the session's pid, to read its
memory or CPU time from /proc."""
import os, subprocess
from postietest import env_for, prog


class Direct:
    def __init__(self, home, maildir, extra_env=None):
        env = env_for(home)
        env.pop("IMAPLOGINTAG", None)
        env.update(extra_env or {})
        self.p = subprocess.Popen([prog("postie-imapd"), maildir], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, env=env)
        self.pid = self.p.pid
        self.n = 0
        self.greeting = self.line()

    def line(self):
        return self.p.stdout.readline()

    def send(self, b):
        self.p.stdin.write(b)
        self.p.stdin.flush()

    def cmd(self, b):
        """Sends one command (bytes, no tag, no CRLF); returns (untagged
        lines, tagged line). A literal in an untagged line is read whole
        and joined to its line."""
        self.n += 1
        tag = b"t%d" % self.n
        self.send(tag + b" " + b + b"\r\n")
        out = []
        while True:
            l = self.line()
            if not l:
                return out, b""
            while l.endswith(b"}\r\n") and b"{" in l:
                k = int(l[l.rindex(b"{") + 1:-3])
                l = l + self.p.stdout.read(k) + self.line()
            if l.startswith(tag + b" "):
                return out, l
            out.append(l)

    def status(self, key):
        """A field of /proc/PID/status, in kB for the Vm ones."""
        with open("/proc/%d/status" % self.pid) as f:
            for l in f:
                if l.startswith(key + ":"):
                    return int(l.split()[1])
        return None

    def cputime(self):
        """(user, system) CPU seconds so far."""
        with open("/proc/%d/stat" % self.pid) as f:
            st = f.read()
        fields = st[st.rindex(")") + 2:].split()
        hz = os.sysconf("SC_CLK_TCK")
        return int(fields[11]) / hz, int(fields[12]) / hz

    def close(self):
        try:
            self.send(b"z LOGOUT\r\n")
        except (BrokenPipeError, ValueError):
            pass
        try:
            self.p.stdin.close()
        except BrokenPipeError:
            pass
        try:
            self.p.wait(30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.p.stdout.close()
