#!/usr/bin/python3
"""postie-tcpaccess: s6 access rules by client IP, from a rules directory
and from a cdb built by s6's own s6-accessrules-cdb-from-fs: allow with
env (set, set to empty, unset), deny, no matching rule, longest prefix
first, IPv6, exec files; then the chain behind postie-tcpserver."""
import os, re, shutil, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from tcp import Server, readline, read_all, accessrule

tmp = tmpdir("tcpaccess")
rules = os.path.join(tmp, "rules")
cdbfile = os.path.join(tmp, "rules.cdb")


def rule(kind, key, verdict, env=None, exec_=None):
    accessrule(rules, kind, key, verdict, env, exec_)


# RELAYCLIENT is a file with one newline: set, to the empty string.
# DROPME is an empty file: unset. GREETING has a value.
rule("ip4", "127.0.0.0_8", "allow", {"RELAYCLIENT": "\n", "DROPME": "", "GREETING": "local\n"})
rule("ip4", "127.0.0.2_32", "deny")
rule("ip4", "10.0.0.0_8", "allow", {"NET": "ten\n"})
rule("ip4", "10.1.0.0_16", "deny")
rule("ip4", "10.1.2.0_24", "allow", {"NET": "ten-one-two\n"})
rule("ip6", "::1_128", "allow", {"RELAYCLIENT": "\n", "GREETING": "local6\n"})
rule("ip6", "2001:db8::_32", "allow", {"NET": "doc\n"})
rule("ip6", "2001:db8:1::_48", "deny")
rule("ip4", "192.0.2.0_24", "allow", {"NET": "exec\n"}, exec_="sh -c \"echo exec-rule $NET\"")
r = subprocess.run(["s6-accessrules-cdb-from-fs", cdbfile, rules], capture_output=True)
check("cdb-built", r.returncode == 0, r.stderr.decode())

SHOW = ["sh", "-c", "for v in RELAYCLIENT DROPME GREETING NET TCPREMOTEHOST TCPLOCALHOST; do "
        "eval \"if [ -n \\\"\\${$v+x}\\\" ]; then echo $v=\\$$v; else echo $v unset; fi\"; done"]


def access(opts, ip, proto="TCP", extra=None):
    e = dict(os.environ)
    e.pop("PROTO", None)
    e.update({"DROPME": "inherited", "TCPREMOTEHOST": "evil.example"})
    if proto is not None:
        e["PROTO"] = proto
        e[proto + "REMOTEIP"] = ip
        e[proto + "REMOTEPORT"] = "4242"
    e.update(extra or {})
    p = subprocess.run([prog("postie-tcpaccess")] + opts + SHOW, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=10, env=e)
    out = {}
    for line in p.stdout.decode().splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k] = v
        elif line.endswith(" unset"):
            out[line[:-6]] = None
        else:
            out["_"] = line
    return p.returncode, out, p.stderr.decode()


for label, opts in (("dir", ["-i", rules]), ("cdb", ["-x", cdbfile])):
    rc, out, err = access(opts, "127.0.0.1")
    check("%s-allow" % label, rc == 0, "rc=%d %s" % (rc, err))
    check("%s-allow-env-empty" % label, out.get("RELAYCLIENT") == "", repr(out))
    check("%s-allow-env-unset" % label, "DROPME" in out and out["DROPME"] is None, repr(out))
    check("%s-allow-env-value" % label, out.get("GREETING") == "local", repr(out))
    check("%s-no-dns-vars" % label, out.get("TCPREMOTEHOST", 1) is None, repr(out))
    check("%s-allow-log" % label, re.search(r"^postie-tcpaccess: info: allow pid \d+ ip 127\.0\.0\.1 port 4242$", err, re.M), err)

    rc, out, err = access(opts, "127.0.0.2")
    check("%s-deny" % label, rc == 1 and not out, "rc=%d %r" % (rc, out))
    check("%s-deny-log" % label, re.search(r"^postie-tcpaccess: info: deny pid \d+ ip 127\.0\.0\.2 port 4242: rule says deny$", err, re.M), err)

    rc, out, err = access(opts, "192.168.1.1")
    check("%s-default-deny" % label, rc == 1 and not out, "rc=%d %r" % (rc, out))
    check("%s-default-log" % label, "deny pid" in err and "ip 192.168.1.1 port 4242: no rule matches" in err, err)

    # Longest prefix first: 10/8 allow, 10.1/16 deny, 10.1.2/24 allow.
    rc1, o1, _ = access(opts, "10.9.9.9")
    rc2, o2, _ = access(opts, "10.1.9.9")
    rc3, o3, _ = access(opts, "10.1.2.3")
    check("%s-prefixes" % label, (rc1, o1.get("NET"), rc2, rc3, o3.get("NET")) == (0, "ten", 1, 0, "ten-one-two"),
          repr((rc1, o1, rc2, rc3, o3)))

    rc, out, err = access(opts, "::1")
    check("%s-ip6-allow" % label, rc == 0 and out.get("RELAYCLIENT") == "" and out.get("GREETING") == "local6",
          "rc=%d %r %s" % (rc, out, err))
    rc, out, err = access(opts, "2001:DB8:0:0::77")
    check("%s-ip6-prefix" % label, rc == 0 and out.get("NET") == "doc" and "ip 2001:db8::77 " in err,
          "rc=%d %r %s" % (rc, out, err))
    rc, out, err = access(opts, "2001:db8:1:2::1")
    check("%s-ip6-deny" % label, rc == 1 and not out and "rule says deny" in err, "rc=%d %s" % (rc, err))
    rc, out, err = access(opts, "fe80::1")
    check("%s-ip6-default" % label, rc == 1 and "no rule matches" in err, "rc=%d %s" % (rc, err))

    if shutil.which("execlineb"):
        rc, out, err = access(opts, "192.0.2.7")
        check("%s-exec-rule" % label, rc == 0 and out.get("_") == "exec-rule exec", "rc=%d %r %s" % (rc, out, err))
    else:
        skip("%s-exec-rule" % label, "execlineb not installed")

# -l sets TCPLOCALHOST; no -i/-x: everything allowed, no env change.
rc, out, err = access(["-l", "mx.example"], "203.0.113.9")
check("no-rules-allow", rc == 0 and out.get("TCPLOCALHOST") == "mx.example" and out.get("DROPME") == "inherited",
      "rc=%d %r" % (rc, out))
# Another PROTO names the variables.
rc, out, err = access(["-i", rules], "127.0.0.1", proto="SSL")
check("proto-prefix", rc == 0 and out.get("GREETING") == "local", "rc=%d %r %s" % (rc, out, err))

# Bad environment and bad options: 100; a missing database: 111.
rc, out, err = access(["-i", rules], "127.0.0.1", proto=None)
check("no-proto-100", rc == 100 and "PROTO not set" in err, "rc=%d %s" % (rc, err))
for bad in ("127.0.0.256", "127.1", "1.2.3.4x", "::1::", "", "127.0.0.1 "):
    rc, out, err = access(["-i", rules], bad)
    check("bad-ip-100 %r" % bad, rc == 100 and not out and "invalid client address" in err, "rc=%d %s" % (rc, err))
rc, out, err = access(["-x", os.path.join(tmp, "nonexistent.cdb")], "127.0.0.1")
check("missing-cdb-111", rc == 111 and not out, "rc=%d %s" % (rc, err))
rc, out, err = access(["-h", "-i", rules], "127.0.0.1")
check("usage-100", rc == 100 and not out, "rc=%d %s" % (rc, err))
# A truncated cdb gives an error (111) or, where the part a lookup reads
# survived, the same answer as the whole file: never a crash, never an
# allow that the whole file would deny.
with open(cdbfile, "rb") as f:
    data = f.read()
bad_cdb = os.path.join(tmp, "bad.cdb")
bad = []
whole = {ip: access(["-x", cdbfile], ip)[:2] for ip in ("127.0.0.1", "127.0.0.2", "192.168.1.1")}
for cut in (0, 100, 2048, 2060, len(data) // 2, len(data) - 10, len(data) - 1):
    with open(bad_cdb, "wb") as f:
        f.write(data[:cut])
    for ip in whole:
        rc, out, err = access(["-x", bad_cdb], ip)
        if (rc != 111 and (rc, out) != whole[ip]) or "runtime error" in err or "Sanitizer" in err:
            bad.append((cut, ip, rc, out, err))
check("truncated-cdb-safe", not bad, repr(bad))


# --- The chain: postie-tcpserver -> postie-tcpaccess -> program.
srv = Server(["-v"], "127.0.0.1", ["postie-tcpaccess", "-x", cdbfile] + SHOW, os.path.join(tmp, "chain.log"))
s = srv.connect(src="127.0.0.1")
out = read_all(s).decode()
s.close()
check("chain-allow", "RELAYCLIENT=\n" in out and "GREETING=local\n" in out, out)
s = srv.connect(src="127.0.0.2")
out = read_all(s)
s.close()
check("chain-deny-closes", out == b"", repr(out))
t = srv.wait_log(lambda t: t.count("end pid") >= 2)
m = re.search(r"start pid (\d+) ip 127\.0\.0\.2 ", t)
check("chain-deny-logged", m and re.search(r"postie-tcpaccess: info: deny pid %s ip 127\.0\.0\.2 port \d+: rule says deny" % m.group(1), t)
      and re.search(r"end pid %s ip 127\.0\.0\.2 port \d+ exit 1 " % m.group(1), t), t)
srv.stop()

done()
