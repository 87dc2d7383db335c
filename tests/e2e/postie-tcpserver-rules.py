#!/usr/bin/python3
"""postie-tcpserver -x rules.cdb and -i rulesdir: s6's access rules applied
by the server itself, before a connection gets a process: allow with the
rule's env (set, set to empty, unset), deny and no matching rule (the
connection is closed, no process starts, a line says why), the longest
prefix first, an exec rule, IPv6; the cdb rebuilt and renamed over, or
removed, between connections takes effect at the next connection without
a restart; a cdb truncated in place never kills the server."""
import os, re, shutil, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from tcp import Server, read_all, accessrule

tmp = tmpdir("tcpserver-rules")
rules = os.path.join(tmp, "rules")
cdbfile = os.path.join(tmp, "rules.cdb")


rule = accessrule


def build(top, out):
    tmpout = out + ".tmp"
    r = subprocess.run(["s6-accessrules-cdb-from-fs", tmpout, top], capture_output=True)
    os.rename(tmpout, out)
    return r.returncode == 0


# RELAYCLIENT: one newline, set to "". DROPME: empty file, unset.
rule(rules, "ip4", "127.0.0.1_32", "allow", {"RELAYCLIENT": "\n", "DROPME": "", "GREETING": "local\n"})
rule(rules, "ip4", "127.0.0.2_32", "deny")
rule(rules, "ip4", "127.0.0.4_30", "allow", {"NET": "four\n"})
rule(rules, "ip4", "127.0.0.6_32", "deny")
rule(rules, "ip4", "127.0.0.9_32", "allow", {"NET": "exec\n"}, exec_="sh -c \"echo exec-rule $NET\"")
rule(rules, "ip6", "::1_128", "allow", {"GREETING": "local6\n"})
check("cdb-built", build(rules, cdbfile))

SHOW = ["sh", "-c", "for v in RELAYCLIENT DROPME GREETING NET TCPREMOTEIP; do "
        "eval \"if [ -n \\\"\\${$v+x}\\\" ]; then echo $v=\\$$v; else echo $v unset; fi\"; done"]
ENV = {"DROPME": "inherited"}


def talk(srv, src):
    """What the program printed for a client from src ({} when closed at once)."""
    s = srv.connect(src=src)
    data = read_all(s).decode()
    s.close()
    out = {}
    for line in data.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k] = v
        elif line.endswith(" unset"):
            out[line[:-6]] = None
        else:
            out["_"] = line
    return out


for label, opts in (("cdb", ["-x", cdbfile]), ("dir", ["-i", rules])):
    srv = Server(["-v"] + opts, "127.0.0.1", SHOW, os.path.join(tmp, label + ".log"), env=ENV)
    check(label + "-ready", srv.port is not None, srv.logtext())
    out = talk(srv, "127.0.0.1")
    check(label + "-allow-env", out.get("RELAYCLIENT") == "" and "DROPME" in out and out["DROPME"] is None
          and out.get("GREETING") == "local" and out.get("TCPREMOTEIP") == "127.0.0.1", repr(out))
    out = talk(srv, "127.0.0.2")
    check(label + "-deny-closes", out == {}, repr(out))
    out = talk(srv, "127.0.0.3")
    check(label + "-no-rule-closes", out == {}, repr(out))
    out5, out6 = talk(srv, "127.0.0.5"), talk(srv, "127.0.0.6")
    check(label + "-longest-prefix", out5.get("NET") == "four" and out5.get("RELAYCLIENT", 1) is None and out6 == {},
          repr((out5, out6)))
    if shutil.which("execlineb"):
        out = talk(srv, "127.0.0.9")
        check(label + "-exec-rule", out.get("_") == "exec-rule exec", repr(out))
    else:
        skip(label + "-exec-rule", "execlineb not installed")
    t = srv.wait_log(lambda t: t.count("end pid") >= 3 + bool(shutil.which("execlineb")))
    check(label + "-deny-logged", re.search(r"^postie-tcpserver: info: deny ip 127\.0\.0\.2 port \d+: rule says deny$", t, re.M)
          and re.search(r"^postie-tcpserver: info: deny ip 127\.0\.0\.3 port \d+: no rule matches$", t, re.M), t)
    # No process for a refused client: no start line names its address.
    check(label + "-deny-no-process", not re.search(r"start pid \d+ ip 127\.0\.0\.[236] ", t), t)
    check(label + "-allow-started", re.search(r"start pid \d+ ip 127\.0\.0\.1 ", t), t)
    srv.stop()

# IPv6.
srv = Server(["-v", "-x", cdbfile], "::1", SHOW, os.path.join(tmp, "v6.log"), env=ENV)
out = talk(srv, "::1")
check("ip6-allow", out.get("GREETING") == "local6" and out.get("TCPREMOTEIP") == "::1", repr(out))
srv.stop()

# The cdb changes under a running server: each change counts from the
# next connection on, without a restart.
srv = Server(["-v", "-x", cdbfile], "127.0.0.1", SHOW, os.path.join(tmp, "change.log"), env=ENV)
check("change-before", talk(srv, "127.0.0.2") == {})
rules2 = os.path.join(tmp, "rules2")
shutil.copytree(rules, rules2)
os.unlink(os.path.join(rules2, "ip4", "127.0.0.2_32", "deny"))
rule(rules2, "ip4", "127.0.0.2_32", "allow", {"GREETING": "now allowed\n"})
rule(rules2, "ip4", "127.0.0.1_32", "deny")
shutil.rmtree(os.path.join(rules2, "ip4", "127.0.0.1_32", "env"))
os.unlink(os.path.join(rules2, "ip4", "127.0.0.1_32", "allow"))
check("change-built", build(rules2, cdbfile))
out2, out1 = talk(srv, "127.0.0.2"), talk(srv, "127.0.0.1")
check("change-renamed-over", out2.get("GREETING") == "now allowed" and out1 == {}, repr((out2, out1)))
# Removed: every connection is closed, with a line naming the file; back: served again.
os.rename(cdbfile, cdbfile + ".away")
out = talk(srv, "127.0.0.2")
t = srv.wait_log(lambda t: "unable to stat access rules" in t)
check("change-removed-closes", out == {} and re.search(r"warning: unable to stat access rules %s for ip 127\.0\.0\.2 port \d+: No such file" % re.escape(cdbfile), t), t)
os.rename(cdbfile + ".away", cdbfile)
check("change-restored", talk(srv, "127.0.0.2").get("GREETING") == "now allowed")
# Truncated or overwritten in place (not the way to replace it, but an
# admin may): answers from what is there, never a dead server.
with open(cdbfile, "rb") as f:
    whole = f.read()
bad = []
for cut in (0, 100, 2048, len(whole) // 2, len(whole) - 1):
    with open(cdbfile, "r+b") as f:
        f.truncate(cut)
    out = talk(srv, "127.0.0.2")
    if out not in ({}, {"RELAYCLIENT": None, "DROPME": "inherited", "GREETING": "now allowed", "NET": None, "TCPREMOTEIP": "127.0.0.2"}):
        bad.append((cut, out))
    with open(cdbfile, "r+b") as f:
        f.write(whole)
check("change-truncated-safe", not bad and srv.p.poll() is None, repr(bad))
check("change-rewritten", talk(srv, "127.0.0.2").get("GREETING") == "now allowed")
t = srv.logtext()
check("change-no-crash", "runtime error" not in t and "Sanitizer" not in t, t[-2000:])
rc = srv.stop()
check("change-server-exit-0", rc == 0, "rc=%r" % rc)
done()
