#!/usr/bin/python3
"""postie-tcpaccess reads s6's access rules itself (accessrules.c, with
skalibs alone, so that it links statically against musl). This proves it
decides as libs6 does: an oracle linked against Debian's libs6
(s6_accessrules_ip46_fs and s6_accessrules_ip46_cdb) and postie-tcpaccess
are asked about the same addresses, against the same rules directory and
the cdb s6-accessrules-cdb-from-fs makes of it; verdict, environment and
exec line must agree, for prefixes on and off byte boundaries (libs6
clears the bits of an IPv6 address in its own order), env files with
several lines, trailing blanks, empty (unset) and one newline (empty)."""
import os, random, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *

tmp = tmpdir("tcpaccess-s6")
rules = os.path.join(tmp, "rules")
cdbfile = os.path.join(tmp, "rules.cdb")

ORACLE = r'''
#include <stdio.h>
#include <string.h>
#include <skalibs/ip46.h>
#include <skalibs/cdb.h>
#include <s6/accessrules.h>
int main (int argc, char **argv)
{
  int i ;
  cdb c = CDB_ZERO ;
  if (argc < 3) return 100 ;
  if (!strcmp(argv[1], "cdb") && !cdb_init(&c, argv[2])) return 111 ;
  for (i = 3 ; i < argc ; i++)
  {
    s6_accessrules_params_t p = S6_ACCESSRULES_PARAMS_ZERO ;
    s6_accessrules_result_t r ;
    ip46 ip ;
    size_t j ;
    if (!ip46_scan(argv[i], &ip)) return 100 ;
    r = !strcmp(argv[1], "cdb") ? s6_accessrules_ip46_cdb(&ip, &c, &p) : s6_accessrules_ip46_fs(&ip, argv[2], &p) ;
    printf("%s %s ", argv[i], r == S6_ACCESSRULES_ALLOW ? "allow" : r == S6_ACCESSRULES_DENY ? "deny" :
      r == S6_ACCESSRULES_NOTFOUND ? "notfound" : "error") ;
    for (j = 0 ; j < p.env.len ; j++) putchar(p.env.s[j] ? p.env.s[j] : '|') ;
    printf(" %s\n", r == S6_ACCESSRULES_ALLOW && p.exec.len ? p.exec.s : "-") ;
    s6_accessrules_params_free(&p) ;
  }
  return 0 ;
}
'''

src, oracle = os.path.join(tmp, "oracle.c"), os.path.join(tmp, "oracle")
with open(src, "w") as f:
    f.write(ORACLE)
r = subprocess.run(["cc", "-o", oracle, src, "-ls6", "-lskarnet"], capture_output=True, text=True)
if not check("oracle-built", r.returncode == 0, r.stderr[-1500:]):
    done()


def rule(kind, key, verdict, env=None, exec_=None):
    d = os.path.join(rules, kind, key)
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, verdict), "w").close()
    for k, v in (env or {}).items():
        os.makedirs(os.path.join(d, "env"), exist_ok=True)
        with open(os.path.join(d, "env", k), "w") as f:
            f.write(v)
    if exec_ is not None:
        with open(os.path.join(d, "exec"), "w") as f:
            f.write(exec_)


rule("ip4", "10.0.0.0_8", "allow", {"R_NET": "ten\n", "R_BASE": ""})
rule("ip4", "10.1.2.0_23", "allow", {"R_NET": "ten-23  \nsecond line\n", "R_RELAY": "\n"})
rule("ip4", "10.1.2.128_25", "deny")
rule("ip4", "10.1.3.7_32", "allow", exec_="echo exec-ten")
rule("ip4", "172.16.0.0_12", "allow", {"R_NET": "rfc1918"})
rule("ip4", "172.20.0.0_14", "deny")
rule("ip4", "192.168.1.1_31", "allow", {"R_NET": "odd"})
rule("ip4", "192.168.1.0_31", "allow", {"R_NET": "even"})
rule("ip4", "127.0.0.1_32", "deny")
rule("ip4", "127.0.0.1_32", "allow", {"R_NET": "both-allow-wins"})
rule("ip6", "2001:db8::_32", "allow", {"R_NET": "doc"})
rule("ip6", "2001:db8:1::_48", "deny")
rule("ip6", "2001:db8::_127", "allow", {"R_NET": "off-byte-127"})
rule("ip6", "2001:db8::1_127", "allow", {"R_NET": "s6-order-127"})
rule("ip6", "2001:db8::100_121", "allow", {"R_NET": "s6-order-121"})
rule("ip6", "::1_128", "allow", {"R_RELAY": "\n"}, exec_="echo exec-six")
rule("ip6", "fe80::_10", "deny")
r = subprocess.run(["s6-accessrules-cdb-from-fs", cdbfile, rules], capture_output=True)
check("cdb-built", r.returncode == 0, r.stderr.decode())

rnd = random.Random(11)
ips = ["10.1.2.3", "10.1.3.7", "10.1.3.200", "10.1.2.129", "10.9.9.9", "172.16.5.5", "172.21.0.1",
       "172.31.255.255", "192.168.1.0", "192.168.1.1", "192.168.1.2", "127.0.0.1", "8.8.8.8", "0.0.0.0",
       "2001:db8::", "2001:db8::1", "2001:db8::2", "2001:db8::3", "2001:db8::101", "2001:db8::17f",
       "2001:db8::180", "2001:db8:1::5", "2001:db9::1", "::1", "::2", "fe80::1", "febf::1"]
for _ in range(12):
    ips.append("10.1.%d.%d" % (rnd.randrange(2, 4), rnd.randrange(256)))
    ips.append("2001:db8::%x" % rnd.randrange(0x200))


def postie(opt, path, ip):
    e = {"PATH": os.environ["PATH"], "PROTO": "TCP", "TCPREMOTEIP": ip, "TCPREMOTEPORT": "1", "R_BASE": "base"}
    p = subprocess.run([prog("postie-tcpaccess"), "-v", "1", opt, path, "env"], capture_output=True, text=True, env=e,
                       stdin=subprocess.DEVNULL, timeout=20)
    if p.returncode == 1:
        return "deny" if "rule says deny" in p.stderr else "notfound" if "no rule matches" in p.stderr else "?" + p.stderr
    if p.returncode != 0:
        return "error %d %s" % (p.returncode, p.stderr.strip())
    if p.stdout.startswith("exec-"):
        return "allow exec " + p.stdout.strip()
    got = {k: v for k, v in (l.split("=", 1) for l in p.stdout.splitlines() if "=" in l) if k.startswith("R_")}
    return "allow env " + repr(sorted(got.items()))


def expected(line):
    ip, verdict, env, exec_ = line.split(" ", 3)
    if verdict != "allow":
        return verdict
    if exec_ != "-":
        return "allow exec " + exec_.split(" ", 1)[1]
    got = {"R_BASE": "base"}
    for m in env.split("|"):
        if not m:
            continue
        if "=" in m:
            k, v = m.split("=", 1)
            got[k] = v
        else:
            got.pop(m, None)
    return "allow env " + repr(sorted(got.items()))


for backend, opt, path in (("fs", "-i", rules), ("cdb", "-x", cdbfile)):
    r = subprocess.run([oracle, backend, path] + ips, capture_output=True, text=True)
    if not check("oracle-%s" % backend, r.returncode == 0 and len(r.stdout.splitlines()) == len(ips), r.stderr):
        continue
    verdicts = set()
    bad = []
    for ip, line in zip(ips, r.stdout.splitlines()):
        want, got = expected(line), postie(opt, path, ip)
        verdicts.add(want.split(" ")[0] + (" exec" if " exec " in want else ""))
        if want != got:
            bad.append("%s: libs6 %s, postie-tcpaccess %s" % (ip, want, got))
    check("same-as-libs6-%s" % backend, not bad, "; ".join(bad[:6]))
    check("verdicts-covered-%s" % backend, verdicts == {"allow", "allow exec", "deny", "notfound"}, repr(verdicts))
done()
