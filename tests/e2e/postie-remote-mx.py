#!/usr/bin/python3
"""postie-remote's way to a domain's servers through DNS: MX preference
order, equal preferences shuffled, the next MX or address when one fails,
the implicit MX (A/AAAA), null MX, NXDOMAIN, SERVFAIL, address literals,
smtproutes relays by name. All of it inside a private network namespace
(unshare --net --mount) where only lo exists, with a private resolv.conf
naming a fake DNS server on 127.0.0.1 and SMTP servers on port 25 of
127.0.0.x and ::1: not one packet can leave the machine."""
import fcntl, os, socket, struct, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *

if os.environ.get("POSTIE_REMOTE_NETNS") != "1":
    if os.getuid() != 0:
        skip("remote-mx", "needs root for unshare --net --mount")
        done()
    r = subprocess.run(["unshare", "--net", "--mount", "true"], capture_output=True)
    if r.returncode != 0:
        skip("remote-mx", "unshare --net --mount does not work here: %r" % r.stderr[:200])
        done()
    env = dict(os.environ, POSTIE_REMOTE_NETNS="1")
    os.execvpe("unshare", ["unshare", "--net", "--mount", sys.executable, os.path.abspath(__file__)], env)

from smtpfake import FakeSMTP, wire
from dnsfake import FakeDNS
from remotetest import run_remote, letters, well_formed

# Inside the namespace: lo up, and nothing else there.
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    flags = struct.unpack("16sH22x", fcntl.ioctl(s, 0x8913, struct.pack("16sH22x", b"lo", 0)))[1]  # SIOCGIFFLAGS
    fcntl.ioctl(s, 0x8914, struct.pack("16sH22x", b"lo", flags | 1))  # SIOCSIFFLAGS, IFF_UP
ifaces = [l.split(":")[0].strip() for l in open("/proc/self/net/dev").read().splitlines()[2:]]
if not check("netns-only-lo", ifaces == ["lo"], repr(ifaces)):
    done()

home = mkinstance(tmpdir("remote-mx"))
etc = os.path.join(home, "etc")
os.makedirs(etc, exist_ok=True)
for name, text in (("resolv.conf", "nameserver 127.0.0.1\noptions timeout:2 attempts:2\n"),
                   ("hosts", "127.0.0.1 localhost\n::1 localhost\n"),
                   ("nsswitch.conf", "hosts: files dns\n")):
    with open(os.path.join(etc, name), "w") as f:
        f.write(text)
    subprocess.run(["mount", "--bind", os.path.join(etc, name), "/etc/" + name], check=True)

zone = {
    "pref.test": {"MX": [(20, "mx2.test"), (10, "mx1.test")]},   # listed out of order on purpose
    "down.test": {"MX": [(10, "mxdown.test"), (20, "mx2.test")]},
    "busy.test": {"MX": [(10, "mxbusy.test"), (20, "mx2.test")]},
    "equal.test": {"MX": [(10, "mx1.test"), (10, "mx2.test")]},
    "multi.test": {"MX": [(10, "mxmulti.test")]},
    "amx.test": {"A": ["127.0.0.2"]},
    "aaaa.test": {"AAAA": ["::1"]},
    "nullmx.test": {"MX": [(0, "")], "A": ["127.0.0.2"]},
    "servfail.test": {"rcode": 2},
    "nodata.test": {},
    "mxnoaddr.test": {"MX": [(10, "nowhere.test")]},
    "mxtemp.test": {"MX": [(10, "servfail.test")]},
    "mxsome.test": {"MX": [(10, "nowhere.test"), (20, "mx2.test")]},
    "badmx.test": {"raw_mx": b"\x00\x0a\x09ab"},
    "weirdmx.test": {"MX": [(10, "bad host!.test")]},
    "portmx.test": {"MX": [(10, "mx1.test")]},
    "mx1.test": {"A": ["127.0.0.2"]},
    "mx2.test": {"A": ["127.0.0.3"]},
    "mxbusy.test": {"A": ["127.0.0.4"]},
    "mxdown.test": {"A": ["127.0.0.9"]},
    "mxmulti.test": {"A": ["127.0.0.9", "127.0.0.2"]},
    "relayhost.test": {"A": ["127.0.0.3"]},
}
dns = FakeDNS(zone)
s1 = FakeSMTP(host="127.0.0.2", port=25, name="s1")
s2 = FakeSMTP(host="127.0.0.3", port=25, name="s2")
sbusy = FakeSMTP(host="127.0.0.4", port=25, name="busy", greeting=b"421 4.3.2 busy")
s1p = FakeSMTP(host="127.0.0.2", port=2525, name="s1p")
try:
    s6 = FakeSMTP(host="::1", port=25, name="s6")
except OSError:
    s6 = None

MSG = b"Subject: mx\n\n.dot\nbody\n"


def deliver(domain, rcpts=None, sender="x@example.org"):
    rc, lines, err, el = run_remote(home, domain, sender, rcpts or ["u@" + domain.strip("[]")], MSG, timeout=60)
    return rc, lines


def count(srv):
    return sum(1 for s in srv.sessions if s.get("data"))


# preference order
n1, n2 = count(s1), count(s2)
rc, lines = deliver("pref.test")
s1.wait_sessions(n1 + 1)
check("mx-preference", rc == 0 and letters(lines) == "KK" and "mx1.test [127.0.0.2]" in lines[-1]
      and count(s1) == n1 + 1 and count(s2) == n2, repr(lines))
check("mx-data", s1.sessions[-1]["data"] == wire(MSG), repr(s1.sessions[-1]["data"]))
check("mx-query-absolute", ("pref.test", "MX") in dns.queries and ("mx1.test", "A") in dns.queries, repr(dns.queries[-6:]))

# the next MX when the first refuses connections or greets with 4xx
rc, lines = deliver("down.test")
check("mx-next-on-connect-failure", letters(lines) == "KK" and "mx2.test [127.0.0.3]" in lines[-1], repr(lines))
nb = len(sbusy.sessions)
rc, lines = deliver("busy.test")
check("mx-next-on-4xx-greeting", letters(lines) == "KK" and "mx2.test [127.0.0.3]" in lines[-1]
      and len(sbusy.wait_sessions(nb + 1)) == nb + 1, repr(lines))
# the next address of the same host
rc, lines = deliver("multi.test")
check("mx-next-address", letters(lines) == "KK" and "mxmulti.test [127.0.0.2]" in lines[-1], repr(lines))

# equal preferences are shuffled: both get mail over a few tries
seen = set()
for i in range(24):
    rc, lines = deliver("equal.test")
    if letters(lines) == "KK":
        seen.add(lines[-1].split(" ")[0][1:])
    if len(seen) == 2:
        break
check("mx-equal-shuffled", seen == {"mx1.test", "mx2.test"}, repr(seen))

# no MX: the implicit MX, A or AAAA
rc, lines = deliver("amx.test")
check("implicit-mx-a", letters(lines) == "KK" and "amx.test [127.0.0.2]" in lines[-1], repr(lines))
if s6:
    rc, lines = deliver("aaaa.test")
    check("implicit-mx-aaaa", letters(lines) == "KK" and "aaaa.test [::1]" in lines[-1], repr(lines))
    rc, lines = deliver("[IPv6:::1]")
    check("literal-ipv6", letters(lines) == "KK" and "[::1]" in lines[-1], repr(lines))
else:
    skip("implicit-mx-aaaa", "no ::1")

# failures
for dom, want, text in (("nullmx.test", "DDD", "null MX"),
                        ("nxdomain.test", "DDD", "does not exist"),
                        ("servfail.test", "ZZZ", "temporary DNS failure"),
                        ("nodata.test", "DDD", "no MX record and no address"),
                        ("mxnoaddr.test", "DDD", "has an address"),
                        ("mxtemp.test", "ZZZ", "temporary DNS failure"),
                        ("badmx.test", "ZZZ", "malformed DNS answer"),
                        ("weirdmx.test", "DDD", "has an address")):
    rc, lines = deliver(dom, ["a@" + dom, "b@" + dom])
    check("dns-" + dom, rc == 0 and well_formed(lines, 2) and letters(lines) == want and text in lines[-1], repr(lines))
rc, lines = deliver("mxsome.test")
check("mx-skip-host-without-address", letters(lines) == "KK" and "mx2.test" in lines[-1], repr(lines))

# address literals go straight to port 25
nq = len(dns.queries)
rc, lines = deliver("[127.0.0.2]")
check("literal-ipv4", letters(lines) == "KK" and "[127.0.0.2]" in lines[-1], repr(lines))
check("literal-no-dns", len(dns.queries) == nq, repr(dns.queries[nq:]))

# smtproutes: a relay by name (A lookup, no MX), an empty relay with a port
with open(os.path.join(home, "control", "smtproutes"), "w") as f:
    f.write("relay.test:relayhost.test\nportmx.test::2525\n")
nq = len(dns.queries)
rc, lines = deliver("relay.test")
check("route-relay-by-name", letters(lines) == "KK" and "relayhost.test [127.0.0.3]" in lines[-1]
      and ("relay.test", "MX") not in dns.queries[nq:], repr(lines))
rc, lines = deliver("portmx.test")
check("route-mx-with-port", letters(lines) == "KK" and "mx1.test [127.0.0.2]:2525" in lines[-1]
      and any(s.get("data") for s in s1p.sessions), repr(lines))
os.unlink(os.path.join(home, "control", "smtproutes"))

# every host fails: the reason, all temporary, and U: the destination took
# no session (doc/remote-results.md)
zone["alldown.test"] = {"MX": [(10, "mxdown.test"), (20, "mxbusy.test")]}
rc, lines = deliver("alldown.test", ["a@alldown.test", "b@alldown.test"])
check("all-hosts-fail", rc == 0 and letters(lines) == "UUU" and "2 addresses tried" in lines[-1]
      and "421 4.3.2 busy" in lines[-1], repr(lines))

done()
