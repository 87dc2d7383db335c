#!/usr/bin/python3
"""postie-tcpserver and postie-tcpaccess under attack (review): running out
of descriptors must not make the server spin; IPv4-mapped IPv6 client
addresses are IPv4 addresses for the access rules."""
import os, resource, socket, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from tcp import Server, ECHO, readline

T = tmpdir("review-tcp")


def cputime(pid):
    """User + system CPU seconds of a process."""
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


# --- EMFILE on accept: the listening socket stays readable, so a server
# that just logs and polls again spins at 100% CPU (and floods its log)
# for as long as the condition lasts. It must back off, then recover.
S = Server(["-v"], "127.0.0.1", [ECHO], os.path.join(T, "emfile.log"))
# After the readiness line, stdout becomes /dev/null: wait for that, so
# that the count below is the one the accept loop runs with.
end = time.time() + 10
while time.time() < end and os.readlink("/proc/%d/fd/1" % S.p.pid) != "/dev/null":
    time.sleep(0.02)
nfd = len(os.listdir("/proc/%d/fd" % S.p.pid))
soft, hard = resource.prlimit(S.p.pid, resource.RLIMIT_NOFILE)
resource.prlimit(S.p.pid, resource.RLIMIT_NOFILE, (nfd, hard))
c = S.connect()
time.sleep(0.3)
t0 = cputime(S.p.pid)
time.sleep(2)
used = cputime(S.p.pid) - t0
check("emfile-no-spin", used < 0.5, "%.2f s of CPU in 2 s" % used)
nwarn = S.logtext().count("accept")
check("emfile-log-bounded", nwarn <= 10, "%d accept warnings in 2 s" % nwarn)
resource.prlimit(S.p.pid, resource.RLIMIT_NOFILE, (soft, hard))
line = readline(c)
check("emfile-recovers", line.startswith(b"hello 127.0.0.1"), repr(line))
c.close()
check("emfile-server-alive", S.p.poll() is None, S.logtext()[-600:])
S.stop()

# --- zombies: children that end at once are all reaped, and the count
# of connections goes back to zero (a later client is served at -c 2).
S = Server(["-v", "-c", "2", "-C", "2"], "127.0.0.1", ["true"], os.path.join(T, "zombie.log"))
for i in range(30):
    try:
        s = S.connect()
        s.recv(10)
        s.close()
    except OSError:
        pass
time.sleep(0.5)
zombies = []
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            st = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(st[1]) == S.p.pid and st[0] == "Z":
            zombies.append(pid)
check("no-zombies", not zombies, repr(zombies))
S.wait_log(lambda t: t.count(" end pid ") + t.count("refused ip") >= 30, 10)
t = S.logtext()
check("children-accounted", t.count(" end pid ") == t.count(" start pid ") and " conn 0/2" in t, t[-300:])
S.stop()


# --- an IPv6 listener never sees IPv4 clients (IPV6_V6ONLY): they cannot
# appear as ::ffff:a.b.c.d and be counted apart from their IPv4 address.
try:
    t6 = socket.socket(socket.AF_INET6)
    t6.bind(("::1", 0))
    t6.close()
    ok6 = True
except OSError:
    ok6 = False
if ok6:
    S = Server([], "::", [ECHO], os.path.join(T, "v6only.log"))
    try:
        socket.create_connection(("127.0.0.1", S.port), 2).close()
        v4 = True
    except OSError:
        v4 = False
    check("ipv6-listener-v6only", S.port is not None and not v4)
    S.stop()
else:
    skip("ipv6-listener-v6only", "no IPv6 on loopback")

# --- postie-tcpaccess: an IPv4 client seen through a dual-stack IPv6
# socket (another UCSPI server, inetd, systemd) arrives as ::ffff:a.b.c.d.
# It is an IPv4 client: its ip4/ rules apply (a deny must not be bypassed
# by the ip6/ catch-all, and it must not be refused as malformed).
rd = os.path.join(T, "rules")
for d, env in (("ip4/192.0.2.0_24", None), ("ip4/0.0.0.0_0", "v4"), ("ip6/::_0", "v6")):
    os.makedirs(os.path.join(rd, d, "env"), exist_ok=True)
    open(os.path.join(rd, d, "deny" if env is None else "allow"), "w").close()
    if env:
        with open(os.path.join(rd, d, "env", "WHICH"), "w") as f:
            f.write(env + "\n")


def access(ip):
    e = dict(os.environ, PROTO="TCP", TCPREMOTEIP=ip, TCPREMOTEPORT="1")
    e.pop("WHICH", None)
    r = subprocess.run([prog("postie-tcpaccess"), "-v", "0", "-i", rd, "sh", "-c", 'echo "$WHICH"'],
                       env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
    return r.returncode, r.stdout.decode().strip()


for ip, want in (("192.0.2.1", (1, "")), ("::ffff:192.0.2.1", (1, "")), ("::FFFF:192.0.2.1", (1, "")),
                 ("::ffff:c000:201", (1, "")), ("::ffff:198.51.100.1", (0, "v4")),
                 ("2001:db8::1", (0, "v6")), ("::ffff:256.0.0.1", (100, "")), ("::ffff:1.2.3", (100, ""))):
    got = access(ip)
    check("tcpaccess-mapped-" + ip, got == want, "%r: got %r, want %r" % (ip, got, want))

done()
