#!/bin/sh
# The make bench harness's own pieces, without servers (make bench itself
# is not part of make test): fsyncbench compiles without warnings and
# prints its four tests; bench.py compiles, refuses a bad command line, and
# its report renders a synthetic set of results (with a BENCH_POSTIE_BASE
# build's row beside postie's).
top=$(cd "$(dirname "$0")/../.." && pwd)
export PYTHONDONTWRITEBYTECODE=1
tmp=$(mktemp -d) || exit 111
trap 'rm -rf "$tmp"' EXIT
fail=0
check () { if [ "$1" = 0 ] ; then echo "PASS $2" ; else echo "FAIL $2: $3" ; fail=1 ; fi ; }

out=$(cc -O2 -Wall -Wextra -Wshadow -Wformat=2 -Werror -o "$tmp/fsyncbench" "$top/tests/bench/fsyncbench.c" 2>&1)
check $? "fsyncbench compiles without warnings" "$out"
if [ -x "$tmp/fsyncbench" ] ; then
  out=$("$tmp/fsyncbench" "$tmp/d" 0.05 20 2>&1)
  n=$(printf '%s\n' "$out" | awk 'NF == 7 && $4 > 0' | wc -l)
  [ "$n" = 4 ] ; check $? "fsyncbench: four tests with ops/s" "$out"
  [ ! -e "$tmp/d" ] ; check $? "fsyncbench removes its directory" "$(ls -R "$tmp/d" 2>&1 | head -5)"
  "$tmp/fsyncbench" >/dev/null 2>&1 ; [ $? = 100 ] ; check $? "fsyncbench: usage exits 100" ""
fi
out=$(musl-gcc -static -O2 -Wall -Wextra -Wshadow -Wformat=2 -Werror -o "$tmp/procbench" "$top/tests/bench/procbench.c" 2>&1)
check $? "procbench compiles without warnings (static, musl)" "$out"
if [ -x "$tmp/procbench" ] ; then
  out=$("$tmp/procbench" 0.05 50 2>&1)
  printf '%s\n' "$out" | awk 'NF == 7 && $1 == "spawn" && $2 > 0 && $2 <= 50 && $6 > 0 { ok = 1 } END { exit !ok }'
  check $? "procbench: one line, spawns counted, child CPU measured" "$out"
  "$tmp/procbench" 1 2 3 >/dev/null 2>&1 ; [ $? = 100 ] ; check $? "procbench: usage exits 100" ""
fi
out=$(cc -O2 -Wall -Wextra -Werror -shared -fPIC -o "$tmp/shim.so" "$top/tests/bench/backlog_shim.c" -ldl 2>&1)
check $? "backlog_shim compiles without warnings" "$out"

out=$(python3 -c "import sys; compile(open(sys.argv[1]).read(), sys.argv[1], \"exec\")" "$top/tests/bench/bench.py" 2>&1)
check $? "bench.py compiles" "$out"
python3 "$top/tests/bench/bench.py" >/dev/null 2>&1 ; [ $? = 100 ] ; check $? "bench.py: usage exits 100" ""
out=$(cd "$top/tests/bench" && python3 - 2>&1 <<'PY'
import bench
R = bench.RESULTS
def add(**k): R.append(k)
add(scenario="disk", when="start", test="enqueue", ops=100, ops_s=1000.0, p50_us=800.0, p99_us=9000.0, max_us=12000.0)
add(scenario="proc", when="start", spawns=100, spawns_s=2000.0, wall_us=500.0, child_cpu_us=431.5, parent_cpu_us=60.0)
for srv, mps, cpu in (("postfix", 300.0, 3.0), ("opensmtpd", 200.0, 5.0), ("postie", 150.0, 6.0)):
    for sess in bench.SESSIONS:
        add(scenario="smtp", server=srv, sessions=sess, ok=True, e2e_mps=mps, accept_mps=mps * 1.2,
            cpu_s=cpu, peak_rss_kb=10240, peak_pss_kb=5120)
    add(scenario="latency", server=srv, p50_ms=2.0, p99_ms=9.0, max_ms=10.0, lost=0, before_250=0)
    add(scenario="deep-fill", server=srv, fill_mps=300.0, smtp_source_rc=0, ok=True, smtp_source_out="",
        queued=bench.DEEP, settle_s=3.0, sched_comm="x", sched_rss_empty_kb=1024, sched_rss_deep_kb=2048,
        sched_bytes_per_msg=10.5, total_pss_deep_kb=4096)
    add(scenario="deep", server=srv, ok=True, e2e_mps=mps * 0.95, settle_s=3.0, cpu_s=cpu)
# BENCH_POSTIE_BASE: another build, its row compared with postie's
for sess in bench.SESSIONS:
    add(scenario="smtp", server="postie-base", sessions=sess, ok=True, e2e_mps=75.0, accept_mps=90.0,
        cpu_s=12.0, peak_rss_kb=10240, peak_pss_kb=5120)
for srv in ("dovecot", "postie"):
    add(scenario="pop3", server=srv, ok=True, mps=2000.0, total_s=5.0, login_s=0.01, retr_dele_s=4.0,
        quit_s=1.0, cpu_s=1.0)
add(scenario="text", server="postie", program="postie-smtpd", text=50000, data=1000, bss=100, file=60000)
add(scenario="text", server="postie", program="postie-setup", text=None, script_bytes=9000)
for srv, t in (("postie", 50000), ("postfix", 2000000)):
    add(scenario="text-total", server=srv, programs=1, text=t)
    add(scenario="installed", server=srv, bytes=t * 2, deps_bytes=1000)
for srv in ("postfix", "postie"):
    add(scenario="session", server=srv, ok=True, comm="smtpd", rss_kb=2000, pss_kb=300, private_kb=200)
for srv, mps, kb in (("postfix-tls", 100.0, 2000.0), ("postie-base", 40.0, 250.0), ("postie", 50.0, 200.0)):
    add(scenario="tls", server=srv, ok=True, e2e_mps=mps, cpu_s=2.0, client_cpu_s=1.0, peak_pss_kb=4096,
        tls=["TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256"])
    add(scenario="tls-mem", server=srv, ok=True, tls_pss_kb_per_session=kb, session_pss_kb_per_session=kb * 1.5,
        server_pss_kb_per_session=kb)
for srv, t, kb in (("dovecot", 2.0, 2600), ("postie", 4.0, 650)):
    add(scenario="imap", server=srv, ok=True, select_cold_s=t, select_warm_s=t / 2, fetch_cold_s=t, fetch_warm_s=t,
        search_subject_s=t, search_subject_again_s=t, search_body_s=t, cpu_s=t, idle_pss_kb=kb,
        idle_total_pss_kb=kb * 2, idle_big_pss_kb=kb * 3)
# Failed measurements (a server that did not start) are counted, not fatal.
for scen in ("smtp", "latency", "deep-fill", "deep", "pop3", "session", "tls", "tls-mem", "imap"):
    add(scenario=scen, server="postie", ok=False, error="did not start", sessions=10)
t = bench.report(["a", "b"], {"cpu": "test"}, "now", 10)
for want in ("## Scenario 1", "## Scenario 2", "## Scenario 3", "## Scenario 4", "## Scenario 5",
             "## Scenario 6", "| 10 | postfix | 1 | 300 |", "0.50", "deep/empty >= 0.90: met (0.95)",
             "| postie-setup | (sh script", "| enqueue | 1000 | - |", "| start | 2000 | 500 | 432 | 60 | 492 |", "| postie | failed: did not start |", "(1 failed)",
             "## Scenario 8", "| postfix-tls | 1 | 100 | 100-100 |", "| postie | 2 | 50 |",
             "| postie-base | 1 | 40 | 40-40 |", "| postie-base | 1 | 250 | 375 | 250 | 0.80 | 0.80 |",
             "| postfix-tls | 1 | 2000 | 3000 | 2000 | 0.10 | 0.10 |",
             "## Scenario 7", "| dovecot | 1 | 2.00 | 1.00 |", "| postie | 2 | 4.00 | 2.00 |", "| postie/dovecot | | 2.00 | 2.00 |",
             "| 0.25 | 0.25 | 0.25 |", "| 10 | postie-base | 1 | 75 | 75-75 | 12.00 | 1.20 | 5.0 | 10.0 | 0 | 2.00 | 0.50 |"):
    assert want in t, (want, t)
print("ok")
PY
)
[ "$out" = ok ] ; check $? "bench.py's report renders every scenario" "$out"
exit $fail
