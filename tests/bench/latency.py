#!/usr/bin/python3
"""Not a test: times one postie instance (postie-setup -u under s6-svscan).

    python3 tests/bench/latency.py [BUILD] [N_TX] [N_SOURCE]

prints medians of connect->banner, end of DATA->250, 250->file in new/
(over N_TX single transactions, idle machine assumed), and msgs/s with
smtp-source -s 10 for N_SOURCE messages (0: skip). BUILD is build/ by
default; POSTIE_TESTTMP picks the scratch place, removed at the end
unless LAT_KEEP=1. LAT_SETUP: more postie-setup options (e.g. -N,
port 25 without TLS, as make bench's scenarios 1-4). LAT_STRACE,
LAT_STRACE_COUNT, LAT_STRACE_CALLS, LAT_PERF, LAT_COUNTS and LAT_TLS:
doc/bench.md, profile notes."""
import os, shutil, socket, statistics, subprocess, sys, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
build = sys.argv[1] if len(sys.argv) > 1 else "build"
os.environ.setdefault("POSTIE_BUILD", os.path.abspath(build))
from postietest import *
from instance import *

NTX = int(sys.argv[2]) if len(sys.argv) > 2 else 50
NSRC = int(sys.argv[3]) if len(sys.argv) > 3 else 2000

base = scratch("latency")
home = os.path.join(base, "p")
ports = (free_port(), free_port(), free_port())
r = setup(home, ports, me="example.test", extra=os.environ.get("LAT_SETUP", "").split())
assert r.returncode == 0, r.stderr
add_user(home, "u", "pw")
for k in ("MAXCONN", "MAXCONNIP"):
    write(os.path.join(home, "service", "smtpd", "env", k), "100\n")
newdir = os.path.join(home, "mail", "u", "Maildir", "new")
sv = Supervised(home)
assert sv.wait_ready(), "not ready"
tracer = None
if os.environ.get("LAT_STRACE"):  # strace -f the smtpd and send services
    pids = [sv.pid("smtpd"), sv.pid("send")]
    pids += open("/proc/%d/task/%d/children" % (pids[1], pids[1])).read().split()
    opts = ["-c", "-S", "calls"] if os.environ.get("LAT_STRACE_COUNT") else ["-ttt"]
    if os.environ.get("LAT_STRACE_CALLS"):  # e.g. accept4,clone,execve,write,fsync
        opts += ["--seccomp-bpf", "-e", "trace=" + os.environ["LAT_STRACE_CALLS"]]
    tracer = subprocess.Popen(["strace", "-f", "-o", os.environ["LAT_STRACE"]] + opts +
                              sum((["-p", str(p)] for p in pids), []))
    time.sleep(1)


def cpu_ticks():
    """utime+stime of the services and their reaped children (tcpserver
    reaps postie-smtpd, which reaps postie-queue; postie-lspawn reaps
    postie-local), in clock ticks."""
    pids = [sv.pid("smtpd"), sv.pid("send")]
    pids += [int(x) for x in open("/proc/%d/task/%d/children" % (pids[1], pids[1])).read().split()]
    t = 0
    for p in pids:
        f = open("/proc/%d/stat" % p).read().rsplit(")", 1)[1].split()
        t += sum(int(x) for x in f[11:15])
    return t


def rd(s):
    buf = b""
    while not buf.endswith(b"\r\n") or buf.split(b"\r\n")[-2][3:4] == b"-":
        b = s.recv(4096)
        if not b:
            raise EOFError(buf)
        buf += b
    return buf


def counts(path, n):
    """LAT_COUNTS: perf script's events (each counted: -c 1), per message,
    by program (the name at the event: a child counts as its parent until
    its exec)."""
    out = subprocess.run(["perf", "script", "-i", path, "-F", "comm,event"], capture_output=True, text=True).stdout
    t = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) < 2:
            continue
        ev = f[-1].rstrip(":").split(":")[-1]
        comm = " ".join(f[:-1])
        t.setdefault(comm, {}).setdefault(ev, 0)
        t[comm][ev] += 1
    evs = ["page-faults", "context-switches", "sys_enter", "sys_enter_fsync", "sys_enter_fdatasync", "sched_process_exec"]
    print("per message (%d), by program: %s" % (n, " ".join(evs)))
    tot = [0] * len(evs)
    for comm in sorted(t, key=lambda c: -t[c].get("sys_enter", 0)):
        v = [t[comm].get(e, 0) for e in evs]
        tot = [a + b for a, b in zip(tot, v)]
        print("  %-18s %s" % (comm, " ".join("%7.2f" % (x / max(n, 1)) for x in v)))
    print("  %-18s %s" % ("total", " ".join("%7.2f" % (x / max(n, 1)) for x in tot)))


def tls_source(n):
    """LAT_TLS: n messages as scenario 8 of make bench sends them, from
    10 threads: a new connection and a new TLS session each (EHLO,
    STARTTLS, EHLO, MAIL, RCPT, DATA, 2 KB, QUIT), the instance's own
    certificate verified. Needs port 25 with STARTTLS (no -N in
    LAT_SETUP)."""
    import ssl
    ctx = ssl.create_default_context(cafile=os.path.join(home, "tls", "cert.pem"))
    ctx.check_hostname = False
    body = b"Subject: t\r\n\r\n" + b"x" * 2000 + b"\r\n.\r\n"

    def reply(f, want):
        while True:
            line = f.readline()
            if line[3:4] != b"-":
                assert line.startswith(want), line
                return

    def one():
        s = socket.create_connection(("127.0.0.1", ports[0]))
        f = s.makefile("rb")
        reply(f, b"220"); s.sendall(b"EHLO x\r\n"); reply(f, b"250")
        s.sendall(b"STARTTLS\r\n"); reply(f, b"220")
        t = ctx.wrap_socket(s)
        f = t.makefile("rb")
        for cmd, want in ((b"EHLO x", b"250"), (b"MAIL FROM:<a@b.example>", b"250"),
                          (b"RCPT TO:<u@example.test>", b"250"), (b"DATA", b"354")):
            t.sendall(cmd + b"\r\n"); reply(f, want)
        t.sendall(body); reply(f, b"250")
        t.sendall(b"QUIT\r\n"); reply(f, b"221"); t.close()

    errors = []

    def worker(k):
        try:
            for i in range(k):
                one()
        except Exception as e:
            errors.append(e)
    th = [threading.Thread(target=worker, args=(n // 10 + (1 if i < n % 10 else 0),)) for i in range(10)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    assert not errors, errors


banner, data250, tofile = [], [], []
try:
    for i in range(NTX):
        before = set(os.listdir(newdir))
        t0 = time.perf_counter()
        s = socket.create_connection(("127.0.0.1", ports[0]))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rd(s)
        t1 = time.perf_counter()
        s.sendall(b"EHLO x\r\n"); rd(s)
        s.sendall(b"MAIL FROM:<a@b.example>\r\n"); rd(s)
        s.sendall(b"RCPT TO:<u@example.test>\r\n"); rd(s)
        s.sendall(b"DATA\r\n"); rd(s)
        s.sendall(b"Subject: t\r\n\r\nhello\r\n")
        t2 = time.perf_counter()
        s.sendall(b".\r\n")
        r250 = rd(s)
        t3 = time.perf_counter()
        assert r250.startswith(b"250"), r250
        while True:
            if set(os.listdir(newdir)) - before:
                break
            time.sleep(0.0002)
        t4 = time.perf_counter()
        s.sendall(b"QUIT\r\n"); rd(s); s.close()
        banner.append(t1 - t0); data250.append(t3 - t2); tofile.append(t4 - t3)
        time.sleep(0.02)
    ms = lambda l: "%.2f ms" % (1000 * statistics.median(l))
    p90 = lambda l: "%.2f" % (1000 * sorted(l)[int(len(l) * .9)])
    print("connect->banner  median %s p90 %s" % (ms(banner), p90(banner)))
    print("DATA end->250    median %s p90 %s" % (ms(data250), p90(data250)))
    print("250->new/        median %s p90 %s" % (ms(tofile), p90(tofile)))
    if NSRC:
        n0 = len(os.listdir(newdir))
        prof = None
        if os.environ.get("LAT_PERF"):  # perf record -a over the smtp-source run
            prof = subprocess.Popen(["perf", "record", "-a", "-g", "-q", "-o", os.environ["LAT_PERF"]],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        counter = None
        if os.environ.get("LAT_COUNTS"):  # every event of the services, by program
            cpids = [sv.pid("smtpd"), sv.pid("send"), sv.pid("send/log"), sv.pid("smtpd/log")]
            cpids += [int(x) for x in open("/proc/%d/task/%d/children" % (cpids[1], cpids[1])).read().split()]
            counter = subprocess.Popen(["perf", "record", "-q", "-c", "1", "-o", os.environ["LAT_COUNTS"],
                                        "-e", "page-faults,context-switches,raw_syscalls:sys_enter,"
                                        "syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync,sched:sched_process_exec",
                                        "-p", ",".join(str(p) for p in cpids if p > 0)],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
        c0 = cpu_ticks()
        t0 = time.perf_counter()
        if os.environ.get("LAT_TLS"):
            tls_source(NSRC)
        else:
            subprocess.run(["/usr/sbin/smtp-source", "-s", "10", "-m", str(NSRC), "-f", "a@b.example",
                            "-t", "u@example.test", "127.0.0.1:%d" % ports[0]], check=True)
        t1 = time.perf_counter()
        while len(os.listdir(newdir)) < n0 + NSRC:
            time.sleep(0.005)
            if time.perf_counter() - t1 > 120:
                break
        t2 = time.perf_counter()
        got = len(os.listdir(newdir)) - n0
        c1 = cpu_ticks()
        if prof:
            prof.send_signal(2); prof.wait()
            sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
            import perfcat
            perfcat.report(os.environ["LAT_PERF"], got, 12)
        if counter:
            time.sleep(0.5)
            counter.send_signal(2); counter.wait()
            counts(os.environ["LAT_COUNTS"], got)
        print(("STARTTLS, 10 threads," if os.environ.get("LAT_TLS") else "smtp-source -s 10") + " -m %d: accepted in %.2f s, delivered %d in %.2f s: %.0f msgs/s, CPU %.2f ms/msg" %
              (NSRC, t1 - t0, got, t2 - t0, got / (t2 - t0), 1000.0 * (c1 - c0) / os.sysconf("SC_CLK_TCK") / max(got, 1)))
finally:
    if tracer:
        tracer.terminate(); tracer.wait()
    sv.stop()
    if not os.environ.get("LAT_KEEP"):
        shutil.rmtree(base, ignore_errors=True)
