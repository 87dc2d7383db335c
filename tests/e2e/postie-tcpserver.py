#!/usr/bin/python3
"""postie-tcpserver: 100 concurrent sessions, the per-IP and total limits
(IPv4 with 127.0.0.1 / 127.0.0.2, IPv6 with ::1), the UCSPI environment,
readiness (-1), log lines, SIGTERM, dropping to a uid/gid, usage errors."""
import os, re, signal, socket, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from tcp import Server, ECHO, readline, read_all

tmp = tmpdir("tcpserver")
ENVPROG = ["sh", "-c", "env | grep -E '^(PROTO|TCP[A-Z]*)=' | sort; echo uid=$(id -u) gid=$(id -g) groups=$(id -G)"]


def envdict(text):
    d = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("uid="):
            k, v = line.split("=", 1)
            d[k] = v
    return d


def has_ipv6():
    try:
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


# --- Readiness: -1 writes the port and a newline once the socket listens,
# then stdout is closed (EOF for whoever waits on it).
srv = Server(["-v"], "127.0.0.1", [ECHO], os.path.join(tmp, "ready.log"))
check("ready-port-line", srv.port is not None and srv.ready_line.endswith(b"\n"), repr(srv.ready_line))
if srv.port:
    # Listening already, the moment the line is read.
    s = srv.connect()
    check("ready-listening", readline(s).startswith(b"hello 127.0.0.1 "))
    s.close()
    check("ready-stdout-closed", srv.p.stdout.read() == b"")
t = srv.wait_log(lambda t: "end pid" in t)
check("log-listening", re.search(r"^postie-tcpserver: info: listening on ip 127\.0\.0\.1 port %d " % (srv.port or 0), t, re.M), t)
rc = srv.stop()
check("sigterm-exit-0", rc == 0, "rc=%r" % rc)
check("sigterm-log", "postie-tcpserver: info: exiting" in srv.logtext(), srv.logtext())


# --- The UCSPI environment, IPv4; TCPREMOTEHOST from outside never leaks in.
srv = Server(["-l", "mx.example"], "127.0.0.1", ENVPROG, os.path.join(tmp, "env4.log"),
             env={"TCPREMOTEHOST": "evil.example", "TCPREMOTEINFO": "evil"})
s = srv.connect(src="127.0.0.2")
lport = s.getsockname()[1]
out = read_all(s).decode()
s.close()
e = envdict(out)
check("env4-proto", e.get("PROTO") == "TCP", out)
check("env4-local", e.get("TCPLOCALIP") == "127.0.0.1" and e.get("TCPLOCALPORT") == str(srv.port), out)
check("env4-remote", e.get("TCPREMOTEIP") == "127.0.0.2" and e.get("TCPREMOTEPORT") == str(lport), out)
check("env4-connnum", e.get("TCPCONNNUM") == "1", out)
check("env4-localhost", e.get("TCPLOCALHOST") == "mx.example", out)
check("env4-no-dns-vars", "TCPREMOTEHOST" not in e and "TCPREMOTEINFO" not in e, out)
check("quiet-by-default", "start pid" not in srv.logtext(), srv.logtext())
srv.stop()

# Listening on 0 (tcpserver's "any address"): TCPLOCALIP is the address the
# client reached, not 0.0.0.0.
srv = Server([], "0", ENVPROG, os.path.join(tmp, "env0.log"))
s = socket.create_connection(("127.0.0.3", srv.port), 10)
e = envdict(read_all(s).decode())
s.close()
check("env-any-localip", e.get("TCPLOCALIP") == "127.0.0.3" and e.get("TCPREMOTEIP") == "127.0.0.1", repr(e))
srv.stop()

if has_ipv6():
    srv = Server([], "::1", ENVPROG, os.path.join(tmp, "env6.log"))
    s = srv.connect()
    lport = s.getsockname()[1]
    out = read_all(s).decode()
    s.close()
    e = envdict(out)
    check("env6-proto", e.get("PROTO") == "TCP", out)
    check("env6-local", e.get("TCPLOCALIP") == "::1" and e.get("TCPLOCALPORT") == str(srv.port), out)
    check("env6-remote", e.get("TCPREMOTEIP") == "::1" and e.get("TCPREMOTEPORT") == str(lport), out)
    srv.stop()
else:
    skip("env6", "no IPv6 loopback here")


# --- 100 concurrent sessions from 127.0.0.1 all complete; the 101st from
# the same IP is refused at once while 127.0.0.2 is still served.
srv = Server(["-v", "-c", "300", "-C", "100", "-b", "256"], "127.0.0.1", [ECHO],
             os.path.join(tmp, "many.log"))
socks = []
greeted = 0
for i in range(100):
    s = srv.connect(src="127.0.0.1")
    socks.append(s)
for s in socks:
    if readline(s).startswith(b"hello 127.0.0.1 "):
        greeted += 1
check("100-sessions-greeted", greeted == 100, "%d of 100" % greeted)
t = srv.wait_log(lambda t: t.count("start pid") >= 100)
check("100-start-lines", t.count("start pid") == 100, "%d" % t.count("start pid"))

extra = srv.connect(src="127.0.0.1")
t0 = time.time()
data = read_all(extra)
extra.close()
check("101st-refused", data == b"" and time.time() - t0 < 5, repr(data))
t = srv.wait_log(lambda t: "refused" in t)
check("101st-logged", re.search(r"^postie-tcpserver: warning: refused ip 127\.0\.0\.1 port \d+: too many connections from this ip \(100\)$", t, re.M), t[-500:])

other = srv.connect(src="127.0.0.2")
g = readline(other)
other.sendall(b"other\n")
check("other-ip-served", g.startswith(b"hello 127.0.0.2 ") and readline(other) == b"other\n", repr(g))
other.close()

ok = 0
for i, s in enumerate(socks):
    s.sendall(b"ping %d\n" % i)
for i, s in enumerate(socks):
    if readline(s) == b"ping %d\n" % i:
        ok += 1
    s.shutdown(socket.SHUT_WR)
for s in socks:
    read_all(s)
    s.close()
check("100-sessions-complete", ok == 100, "%d of 100 echoed" % ok)
t = srv.wait_log(lambda t: t.count("end pid") >= 101)
ends = re.findall(r"^postie-tcpserver: info: end pid (\d+) ip (\S+) port (\d+) exit (\d+) conn (\d+)/300$", t, re.M)
check("100-end-lines", len(ends) == 101 and all(x[3] == "0" for x in ends), "%d end lines" % len(ends))
starts = re.findall(r"^postie-tcpserver: info: start pid (\d+) ip (\S+) port (\d+) conn (\d+)/300 ipconn (\d+)/100$", t, re.M)
check("start-end-pids-match", sorted(x[0] for x in starts) == sorted(x[0] for x in ends) and len(starts) == 101,
      "%d starts" % len(starts))
check("start-ipconn-max", max(int(x[4]) for x in starts) == 100 if starts else False)
# After all this, the server still serves 127.0.0.1.
s = srv.connect(src="127.0.0.1")
check("served-after-limit", readline(s).startswith(b"hello 127.0.0.1 "))
s.close()
rc = srv.stop()
check("many-sigterm", rc == 0, "rc=%r" % rc)


# --- The total limit (-c): at 3 connections the 4th waits in the kernel's
# backlog (neither served nor closed), and is served as soon as a session
# ends, on the same connection: a burst waits instead of failing.
srv = Server(["-v", "-c", "3", "-C", "3"], "127.0.0.1", [ECHO], os.path.join(tmp, "total.log"))
socks = [srv.connect(src="127.0.0.%d" % (i + 1)) for i in range(3)]
check("total-three-served", all(readline(s).startswith(b"hello ") for s in socks))
x = srv.connect(src="127.0.0.9")
x.settimeout(0.7)
try:
    early = x.recv(100)
except socket.timeout:
    early = None
check("total-fourth-waits", early is None, repr(early))
t = srv.wait_log(lambda t: "maxconn" in t and "reached" in t)
check("total-logged", re.search(r"warning: maxconn \(3\) reached: new connections wait in the backlog$", t, re.M), t)
check("total-not-refused", "refused" not in t, t)
socks[0].close()
x.settimeout(10)
check("total-served-after-wait", readline(x).startswith(b"hello 127.0.0.9 "))
x.close()
for s in socks[1:]:
    s.close()
srv.stop()


# --- IPv6: per-IP limit on ::1.
if has_ipv6():
    srv = Server(["-v", "-C", "2"], "::1", [ECHO], os.path.join(tmp, "v6.log"))
    a, b = srv.connect(), srv.connect()
    check("v6-two-served", readline(a).startswith(b"hello ::1 ") and readline(b).startswith(b"hello ::1 "))
    c = srv.connect()
    check("v6-third-refused", read_all(c) == b"")
    c.close()
    t = srv.wait_log(lambda t: "refused" in t)
    check("v6-refused-logged", re.search(r"refused ip ::1 port \d+: too many connections from this ip \(2\)", t), t)
    a.sendall(b"x\n")
    check("v6-still-serving", readline(a) == b"x\n")
    a.close()
    b.close()
    srv.stop()
else:
    skip("v6-limits", "no IPv6 loopback here")


# --- The -m message: a client over the per-address limit is told why
# before the close (the text and a CRLF), instead of a silent close.
MSG = "421 4.7.0 Too many connections from your address"
srv = Server(["-v", "-C", "2", "-m", MSG], "127.0.0.1", [ECHO], os.path.join(tmp, "msg.log"))
a, b = srv.connect(), srv.connect()
check("msg-two-served", readline(a).startswith(b"hello ") and readline(b).startswith(b"hello "))
c = srv.connect()
data = read_all(c)
c.close()
check("msg-third-told", data == MSG.encode() + b"\r\n", repr(data))
c = srv.connect()
c.sendall(b"EHLO eager.example\r\n")  # input not read: the close is still no reset
data = read_all(c)
c.close()
check("msg-third-told-after-talking", data == MSG.encode() + b"\r\n", repr(data))
t = srv.wait_log(lambda t: t.count("refused") >= 2)
check("msg-refused-logged", re.search(r"refused ip 127\.0\.0\.1 port \d+: too many connections from this ip \(2\)", t), t)
a.close()
b.close()
srv.stop()
for name, args in [("usage-m-control", ["-m", "421 a\r\nb", "127.0.0.1", "0", "true"]),
                   ("usage-m-long", ["-m", "x" * 401, "127.0.0.1", "0", "true"]),
                   ("usage-n-zero", ["-n", "0", "127.0.0.1", "0", "true"]),
                   ("usage-n-129", ["-n", "129", "127.0.0.1", "0", "true"])]:
    p = subprocess.run([prog("postie-tcpserver")] + args, stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
    check(name, p.returncode == 100, repr(p))


# --- IPv6 clients are counted per /64 (-n): two addresses of one /64 are
# one client; with -n 128, two. Needs addresses of our own on lo, so only
# in the private network namespace tests/run makes as root.
if os.environ.get("POSTIE_NETNS") and os.getuid() == 0 and has_ipv6():
    A1, A2, A3 = "2001:db8:7:1::1", "2001:db8:7:1::2", "2001:db8:7:2::1"
    added = []
    for a in (A1, A2, A3):
        if subprocess.run(["ip", "-6", "addr", "add", a + "/128", "dev", "lo", "nodad"]).returncode == 0:
            added.append(a)
    try:
        if len(added) == 3:
            srv = Server(["-C", "1", "-m", MSG], A1, [ECHO], os.path.join(tmp, "v6prefix.log"))
            x = srv.connect(src=A1)
            check("v6prefix-first-served", readline(x).startswith(b"hello "))
            y = srv.connect(src=A2)
            check("v6prefix-same-64-refused", read_all(y) == MSG.encode() + b"\r\n")
            y.close()
            z = srv.connect(src=A3)
            check("v6prefix-other-64-served", readline(z).startswith(b"hello "))
            x.close()
            z.close()
            srv.stop()
            for bits, want in (("128", True), ("60", False)):
                # A3 is in another /64 but the same /60
                src2 = A2 if bits == "128" else A3
                srv = Server(["-C", "1", "-n", bits], A1, [ECHO], os.path.join(tmp, "v6prefix%s.log" % bits))
                x = srv.connect(src=A1)
                y = srv.connect(src=src2)
                served = readline(x).startswith(b"hello ") and readline(y).startswith(b"hello ")
                check("v6prefix-%s-%s" % (bits, "two-clients" if want else "one-client"), served == want)
                x.close()
                y.close()
                srv.stop()
        else:
            skip("v6prefix", "unable to add addresses to lo")
    finally:
        for a in added:
            subprocess.run(["ip", "-6", "addr", "del", a + "/128", "dev", "lo"])
else:
    skip("v6prefix", "needs root in tests/run's private network namespace")


# --- skalibs 2.13's selfpipe_trapset returns 0 on failure, not -1: a
# failure to trap the signals must stop the server (exit 111), not leave
# it running with SIGTERM and SIGCHLD unhandled. A preloaded signalfd()
# that fails when the set is changed makes it happen; a build where
# preloading does not reach skalibs (static) is skipped.
import shutil
cc = shutil.which("cc")
if cc:
    shim_c = os.path.join(tmp, "shim.c")
    shim = os.path.join(tmp, "shim.so")
    mark = os.path.join(tmp, "shim.mark")
    with open(shim_c, "w") as f:
        f.write(r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
int signalfd (int fd, sigset_t const *mask, int flags)
{
  static int (*real) (int, sigset_t const *, int) ;
  if (fd >= 0 && getenv("SHIM_MARK"))
  {
    int m = open(getenv("SHIM_MARK"), O_WRONLY | O_CREAT | O_CLOEXEC, 0644) ;
    if (m >= 0) close(m) ;
    errno = ENOMEM ;
    return -1 ;
  }
  if (!real) real = (int (*) (int, sigset_t const *, int))dlsym(RTLD_NEXT, "signalfd") ;
  return real(fd, mask, flags) ;
}
""")
    r = subprocess.run([cc, "-shared", "-fPIC", "-o", shim, shim_c, "-ldl"], capture_output=True)
    if r.returncode == 0:
        e = dict(os.environ)
        e["LD_PRELOAD"] = shim
        e["SHIM_MARK"] = mark
        p = subprocess.Popen([prog("postie-tcpserver"), "-1", "127.0.0.1", "0", "true"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
        try:
            out, err = p.communicate(timeout=5)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            rc = None
        if not os.path.exists(mark):
            skip("trapset-failure", "the preloaded signalfd() was not called (static build?)")
        else:
            check("trapset-failure-exits-111", rc == 111 and b"unable to trap signals" in err,
                  "rc=%r %r" % (rc, err))
    else:
        skip("trapset-failure", "cannot build the preload shim: " + r.stderr.decode()[-200:])
else:
    skip("trapset-failure", "no C compiler")


# --- Exit status and signals of children in the end lines.
srv = Server(["-v"], "127.0.0.1", ["sh", "-c", "exit 3"], os.path.join(tmp, "status.log"))
s = srv.connect()
read_all(s)
s.close()
t = srv.wait_log(lambda t: "end pid" in t)
check("log-exit-status", re.search(r"info: end pid \d+ ip 127\.0\.0\.1 port \d+ exit 3 conn 0/40$", t, re.M), t)
srv.stop()
srv = Server(["-v"], "127.0.0.1", ["sh", "-c", "kill -9 $$"], os.path.join(tmp, "signal.log"))
s = srv.connect()
read_all(s)
s.close()
t = srv.wait_log(lambda t: "end pid" in t)
check("log-signal", re.search(r"info: end pid \d+ ip 127\.0\.0\.1 port \d+ signal 9 ", t), t)
srv.stop()


# --- SIGTERM: the server ends at once with 0 and stops listening; a session
# under way goes on to its end (as with s6-tcpserver and tcpserver).
srv = Server(["-v"], "127.0.0.1", [ECHO], os.path.join(tmp, "term.log"))
s = srv.connect()
readline(s)
port = srv.port
srv.p.send_signal(signal.SIGTERM)
try:
    rc = srv.p.wait(5)
except subprocess.TimeoutExpired:
    rc = None
check("sigterm-ends", rc == 0, "rc=%r" % rc)
try:
    socket.create_connection(("127.0.0.1", port), 2).close()
    listening = True
except OSError:
    listening = False
check("sigterm-no-longer-listening", not listening)
s.sendall(b"after\n")
check("sigterm-session-goes-on", readline(s) == b"after\n")
s.close()
srv.stop()

# SIGQUIT: children get SIGTERM too.
srv = Server(["-v"], "127.0.0.1", [ECHO], os.path.join(tmp, "quit.log"))
s = srv.connect()
readline(s)
srv.wait_log(lambda t: "start pid" in t)
srv.p.send_signal(signal.SIGQUIT)
rc = srv.p.wait(5)
check("sigquit-ends-sessions", rc == 0 and read_all(s) == b"", "rc=%r" % rc)
s.close()
srv.stop()


# --- Dropping privileges after the bind: -u/-g and -U (UID, GID, GIDLIST).
if os.geteuid() == 0:
    srv = Server(["-u", "65534", "-g", "65534"], "127.0.0.1", ENVPROG, os.path.join(tmp, "uid.log"))
    s = srv.connect()
    out = read_all(s).decode()
    s.close()
    check("drop-u-g-child", "uid=65534 gid=65534 groups=65534" in out, out)
    st = open("/proc/%d/status" % srv.p.pid).read()
    check("drop-u-g-server", re.search(r"^Uid:\s+65534\s+65534\s+65534\s+65534$", st, re.M)
          and re.search(r"^Gid:\s+65534\s+65534\s+65534\s+65534$", st, re.M)
          and re.search(r"^Groups:\s+65534\s*$", st, re.M), st)
    srv.stop()
    srv = Server(["-U"], "127.0.0.1", ENVPROG, os.path.join(tmp, "uidenv.log"),
                 env={"UID": "65534", "GID": "65534", "GIDLIST": "65534,100"})
    s = srv.connect()
    out = read_all(s).decode()
    s.close()
    check("drop-U-child", "uid=65534 gid=65534" in out and set(out.split("groups=")[-1].split()) == {"65534", "100"}, out)
    srv.stop()
    # Binding a low port happens before the drop.
    srv = Server(["-u", "65534", "-g", "65534"], "127.0.0.1", ENVPROG, os.path.join(tmp, "low.log"), port="1")
    if srv.port == 1:
        s = srv.connect()
        check("drop-after-low-port-bind", "uid=65534" in read_all(s).decode())
        s.close()
    else:
        check("drop-after-low-port-bind", False, srv.logtext())
    srv.stop()
else:
    skip("drop-uid", "not running as root")


# --- Usage errors: exit 100 with a message, no listening.
def run(args, env=None):
    e = dict(os.environ)
    if env is not None:
        e.update(env)
    p = subprocess.run([prog("postie-tcpserver")] + args, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=10, env=e)
    return p.returncode, p.stderr.decode()

for name, args in [
    ("usage-no-prog", ["127.0.0.1", "0"]),
    ("usage-hostname", ["localhost", "0", "true"]),
    ("usage-bad-ip4", ["127.0.0.256", "0", "true"]),
    ("usage-short-ip4", ["127.1", "0", "true"]),
    ("usage-bad-ip6", ["::1::2", "0", "true"]),
    ("usage-bad-port", ["127.0.0.1", "65536", "true"]),
    ("usage-port-junk", ["127.0.0.1", "25x", "true"]),
    ("usage-c-zero", ["-c", "0", "127.0.0.1", "0", "true"]),
    ("usage-c-huge", ["-c", "99999", "127.0.0.1", "0", "true"]),
    ("usage-dns-option", ["-h", "127.0.0.1", "0", "true"]),
    ("usage-v4-only", ["-4", "::1", "0", "true"]),
]:
    rc, err = run(args)
    check(name, rc == 100 and err.startswith("postie-tcpserver: "), "rc=%d %s" % (rc, err))
e = dict(os.environ)
e.pop("UID", None)
e.pop("GID", None)
p = subprocess.run([prog("postie-tcpserver"), "-U", "127.0.0.1", "0", "true"], stdin=subprocess.DEVNULL,
                   capture_output=True, timeout=10, env=e)
check("usage-U-no-env", p.returncode == 100 and b"UID not set" in p.stderr, repr(p))

# Binding a port in use: 111.
blocker = socket.socket()
blocker.bind(("127.0.0.1", 0))
blocker.listen(1)
rc, err = run(["127.0.0.1", str(blocker.getsockname()[1]), "true"])
check("bind-in-use-111", rc == 111 and "unable to bind" in err, "rc=%d %s" % (rc, err))
blocker.close()

done()
