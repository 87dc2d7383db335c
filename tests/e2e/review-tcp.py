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
check("emfile-server-alive", S.p.poll() is None)
S.stop()

done()
