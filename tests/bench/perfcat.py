#!/usr/bin/python3
"""Not a test: where the CPU time of a `perf record -a -g` run went, per
program and per kind of work, in ms per message.

    python3 tests/bench/perfcat.py PERF.DATA NMSG [TOP]

Each sample is counted under the program it interrupted (its name at the
time: a child counts as its parent until its exec), and under the first
frame of its kernel call chain that says what it was doing: a system
call (`execve`, `exit_group`, `fsync`, ...), a page fault, an interrupt,
or `user` when the sample has no kernel frame. On a virtual machine
whose page faults trap to the hypervisor, the hypervisor's part of a
fault shows up as `user` time at the faulting instruction, so `user`
includes more than the program's own instructions. A sample's weight is
its period (cpu-clock: nanoseconds), so the figures do not depend on the
sampling frequency. latency.py runs this after LAT_PERF; doc/bench.md,
profile notes, has what the figures said."""
import collections, re, subprocess, sys


def kind(frames):
    """What a sample was doing, from its call chain (innermost first)."""
    for f in frames:
        m = re.match(r"(?:__x64_sys_|__do_sys_|__se_sys_)(\w+)", f)
        if m:
            return m.group(1)
        if f in ("exc_page_fault", "asm_exc_page_fault"):
            return "page fault"
        if f.startswith(("asm_sysvec_", "asm_common_interrupt")):
            return "interrupt"
        if f == "ret_from_fork":
            return "kernel thread or new task"
    if frames and frames[0].startswith(("pvm_", "native_", "default_idle", "_raw_", "__schedule")):
        return "kernel, other"
    return "user"


def read(path):
    """{program: Counter(kind: nanoseconds)} from perf script."""
    out = subprocess.run(["perf", "script", "-i", path, "-F", "comm,period,ip,sym"],
                         capture_output=True, text=True, errors="replace").stdout
    t = collections.defaultdict(collections.Counter)
    comm, period, frames = None, 0, []
    for line in out.splitlines() + [""]:
        if not line.strip():
            if comm is not None:
                t[comm][kind(frames)] += period
            comm, frames = None, []
            continue
        if not line[0].isspace():
            head = line.split()
            comm, period = " ".join(head[:-1]), int(head[-1])
            continue
        p = line.split()
        if len(p) >= 2:
            frames.append(re.sub(r"\+0x[0-9a-f]+$", "", p[1]))
    return t


def report(path, n, top=8, out=sys.stdout):
    t = read(path)
    ms = lambda ns: ns / 1e6 / max(n, 1)
    total = sum(sum(c.values()) for c in t.values())
    out.write("CPU by program and kind, ms per message (%d messages; %.2f ms of samples per message in all, idle included):\n"
              % (n, ms(total)))
    for comm, c in sorted(t.items(), key=lambda kv: -sum(kv[1].values()))[:top]:
        out.write("  %-16s %6.2f  %s\n" % (comm, ms(sum(c.values())),
                  ", ".join("%s %.2f" % (k, ms(v)) for k, v in c.most_common(7) if ms(v) >= 0.01)))


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: perfcat.py PERF.DATA NMSG [TOP]")
    report(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 8)
