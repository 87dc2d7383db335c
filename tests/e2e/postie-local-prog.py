#!/usr/bin/python3
"""postie-local: |program deliveries (environment, stdin, exit codes 0, 99,
100, 111 and the others, timeouts) and &forwards through the queue."""
import os, re, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from localtest import *

base = tmpdir("local-prog")
inst = mkinstance(os.path.join(base, "inst"))
chown_tree(os.path.join(inst, "queue"))
open_path(inst)
n = [0]


def newhome():
    n[0] += 1
    return mkhome(base, "h%d" % n[0])


def clear_queue():
    for _, p in queue_files(inst):
        os.unlink(p)


MSG = b"From: alice@example.com\nSubject: hi\n\nhello\n"

# --- the environment and stdin of a program ---
h = newhome()
put(h, ".postie-lists-default",
    "|env > env.out; pwd > pwd.out; cat > msg.out; id -u > uid.out\n")
rc, out, err = run_local(inst, h, MSG, local="Bob-Lists-Rust-Dev", ext="Lists-Rust-Dev", domain="mail.example.org",
                         user="bobuser", sender="alice@example.com")
check("program-exit-0", rc == 0 and out.startswith("delivered to program |env > env.out"), "rc=%d %r %r" % (rc, out, err))
env = {}
if os.path.exists(os.path.join(h, "env.out")):
    for line in read(os.path.join(h, "env.out")).decode().split("\n"):
        if "=" in line:
            k, v = line.split("=", 1)
            env[k] = v
    # multi-line values (DTLINE, RPLINE, UFLINE end with a newline) show up as a following empty line
want = {
    "SENDER": "alice@example.com", "RECIPIENT": "Bob-Lists-Rust-Dev@mail.example.org",
    "LOCAL": "Bob-Lists-Rust-Dev", "EXT": "lists-rust-dev", "EXT2": "rust-dev", "EXT3": "dev",
    "HOST": "mail.example.org", "HOST2": "mail.example", "HOST3": "mail",
    "USER": "bobuser", "HOME": h, "DEFAULT": "rust-dev",
    "RPLINE": "Return-Path: <alice@example.com>", "DTLINE": "Delivered-To: bob-lists-rust-dev@mail.example.org",
}
for k, v in want.items():
    check("program-env-" + k, env.get(k) == v, "%s=%r" % (k, env.get(k)))
check("program-env-no-EXT4", "EXT4" not in env and "HOST4" not in env, repr(env.get("EXT4")))
check("program-env-UFLINE", re.fullmatch(r"From alice@example\.com \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}",
                                         env.get("UFLINE", "")) is not None, repr(env.get("UFLINE")))
check("program-cwd-home", read(os.path.join(h, "pwd.out")).strip() == h.encode())
check("program-stdin-is-message", read(os.path.join(h, "msg.out")) == MSG)
check("program-runs-as-user", read(os.path.join(h, "uid.out")).strip() == str(UID).encode())
check("program-nothing-on-stdout-but-result", out.count("\n") == 1, repr(out))

# the envelope reaches the program only through the environment: shell
# metacharacters, quotes and '=' in SENDER, LOCAL and EXT are never interpreted
h = newhome()
put(h, ".postie-default", "|printf '%s\\n' \"$SENDER\" \"$LOCAL\" \"$EXT\" \"$DEFAULT\" > vals.out\n")
evil_sender = "a$(touch pwned1)`touch pwned2`;touch pwned3|x'\"&>pwned4@example.com"
evil_ext = "x=1;$(touch pwned5)*'"
rc, out, _ = run_local(inst, h, MSG, local="bob-" + evil_ext, ext=evil_ext, sender=evil_sender)
check("program-env-metachars-exit-0", rc == 0, "rc=%d %r" % (rc, out))
check("program-env-metachars-not-run", not any(n.startswith("pwned") for n in os.listdir(h)), repr(os.listdir(h)))
check("program-env-metachars-verbatim", os.path.exists(os.path.join(h, "vals.out")) and
      read(os.path.join(h, "vals.out")).decode() == "\n".join([evil_sender, "bob-" + evil_ext, evil_ext.lower(),
                                                              evil_ext.lower()]) + "\n",
      repr(os.path.exists(os.path.join(h, "vals.out")) and read(os.path.join(h, "vals.out"))))
# a newline in the envelope never reaches the environment (nor the result line)
for what, kw in (("sender", {"sender": "a\nEVIL=1@example.com"}), ("ext", {"ext": "x\nEVIL=1", "local": "bob-x\nEVIL=1"})):
    rc, out, _ = run_local(inst, h, MSG, **kw)
    check("program-env-newline-%s-refused" % what, rc == 111 and out.count("\n") == 1, "rc=%d %r" % (rc, out))

# descriptors postie-local inherited beyond 0, 1, 2 do not reach the program
h = newhome()
put(h, ".postie", "|for f in 3 4 5 6 7 8 9; do [ -e /proc/$$/fd/$f ] && echo $f; done > fds.out; exit 0\n")
rc, out, _ = run_local(inst, h, MSG, prefix=["sh", "-c", 'exec 7</dev/null 8>/dev/null; exec "$@"', "sh"])
check("program-no-inherited-fds-exit-0", rc == 0, "rc=%d %r" % (rc, out))
check("program-no-inherited-fds", os.path.exists(os.path.join(h, "fds.out")) and read(os.path.join(h, "fds.out")) == b"",
      repr(os.path.exists(os.path.join(h, "fds.out")) and read(os.path.join(h, "fds.out"))))

# the message is given from its start to each program, and stdin is seekable
h = newhome()
put(h, ".postie", "|cat > one\n|head -c 5 > /dev/null; cat > two\n|cat > three\n")
rc, out, _ = run_local(inst, h, MSG)
check("program-each-from-start", rc == 0 and read(os.path.join(h, "one")) == MSG
      and read(os.path.join(h, "three")) == MSG, out)

# --- exit codes ---
def prog_case(name, lines, want_rc, want_files, want_text=None):
    h = newhome()
    put(h, ".postie", lines)
    rc, out, _ = run_local(inst, h, MSG)
    ok = rc == want_rc and (want_text is None or want_text in out)
    check(name, ok, "rc=%d %r" % (rc, out))
    for f, exists in want_files.items():
        check(name + "-" + f + ("-done" if exists else "-not-done"), os.path.exists(os.path.join(h, f)) == exists)
    return out


prog_case("exit-0-continues", "|true\n./after\n", 0, {"after": True})
out = prog_case("exit-99-stops", "./before\n|exit 99\n./after\n", 0, {"before": True, "after": False})
check("exit-99-result", "mbox ./before; program |exit 99 (exit 99: stop)" in out, out)
out = prog_case("exit-100-permanent", "./before\n|echo 'no such list' >&2; exit 100\n./after\n", 100,
                {"before": True, "after": False}, "no such list")
check("exit-100-names-done", "already delivered to: mbox ./before" in out, out)
prog_case("exit-111-temporary", "|echo busy; exit 111\n./after\n", 111, {"after": False}, "busy")
for code, want in ((64, 100), (65, 100), (70, 100), (76, 100), (77, 100), (78, 100), (112, 100),
                   (1, 111), (2, 111), (75, 111), (101, 111), (255, 111)):
    prog_case("exit-%d-gives-%d" % (code, want), "|exit %d\n" % code, want, {}, "(exit %d)" % code)
prog_case("killed-by-signal-111", "|kill -9 $$\n", 111, {}, "signal 9")
prog_case("program-not-found-111", "|/nonexistent/prog\n", 111, {}, "exit 127")
out = prog_case("program-output-one-line", "|printf 'line1\\nline2\\r\\n\\033[31mred'; exit 100\n", 100, {})
check("program-output-sanitized", "line1 line2 [31mred" in out and out.count("\n") == 1, repr(out))
out = prog_case("program-long-output", "|head -c 100000 /dev/zero | tr '\\0' x; exit 111\n", 111, {})
check("program-long-output-bounded", len(out) <= 1001, str(len(out)))

inst2 = mkinstance(os.path.join(base, "inst2"), {"localprogtimeout": "1"})
open_path(inst2)
h = newhome()
put(h, ".postie", "|sleep 30 & sleep 30\n")
t0 = time.time()
rc, out, _ = run_local(inst2, h, MSG)
check("program-timeout-111", rc == 111 and "timed out" in out and time.time() - t0 < 10,
      "rc=%d %r %.1fs" % (rc, out, time.time() - t0))

# --- forwards ---
h = newhome()
clear_queue()
put(h, ".postie", "&fwd@example.net\nother@example.com\n& joe\n")
rc, out, err = run_local(inst, h, MSG, sender="alice@example.com")
qf = queue_files(inst)
check("forward-exit-0", rc == 0, "rc=%d %r %r" % (rc, out, err))
check("forward-one-queue-file", len(qf) == 1, repr(qf))
if qf:
    m, s, r = parse_queue_file(read(qf[0][1]))
    check("forward-sender-kept", s == "alice@example.com", s)
    check("forward-recipients", r == ["fwd@example.net", "other@example.com", "joe@example.org"], repr(r))
    check("forward-delivered-to-added", m == b"Delivered-To: bob@example.org\n" + MSG, repr(m[:80]))
    check("forward-result-has-queue-id", out.strip() == "delivered to forward to fwd@example.net, other@example.com, "
          "joe@example.org (queue id %s)" % qf[0][0], out)

# the null sender stays null
clear_queue()
rc, out, _ = run_local(inst, h, MSG, sender="")
qf = queue_files(inst)
check("forward-null-sender", rc == 0 and len(qf) == 1 and parse_queue_file(read(qf[0][1]))[1] == "", out)

# a forwarded copy carries our Delivered-To line: coming back, it is a loop
if qf:
    m = parse_queue_file(read(qf[0][1]))[0]
    rc, out, _ = run_local(inst, h, m)
    check("forward-loop-detected", rc == 100 and "looping" in out, out)

# forwards go last, and only when everything else succeeded
h = newhome()
clear_queue()
put(h, ".postie", "&a@example.net\n|exit 111\n")
rc, out, _ = run_local(inst, h, MSG)
check("forward-not-sent-on-failure", rc == 111 and queue_files(inst) == [], out)
put(h, ".postie", "&a@example.net\n|exit 99\n&b@example.net\n./mbox\n")
rc, out, _ = run_local(inst, h, MSG)
qf = queue_files(inst)
check("forward-before-99-sent", rc == 0 and len(qf) == 1 and parse_queue_file(read(qf[0][1]))[2] == ["a@example.net"],
      out)
check("forward-after-99-not", not os.path.exists(os.path.join(h, "mbox")))
put(h, ".postie", "&a@example.net\n./mbox\n")
clear_queue()
rc, out, _ = run_local(inst, h, MSG)
check("forward-and-mbox", rc == 0 and len(queue_files(inst)) == 1 and os.path.exists(os.path.join(h, "mbox"))
      and out.startswith("delivered to mbox ./mbox; forward to a@example.net"), out)

# the number of forwards is bounded
inst3 = mkinstance(os.path.join(base, "inst3"), {"localforwardmax": "3"})
chown_tree(os.path.join(inst3, "queue"))
open_path(inst3)
h = newhome()
put(h, ".postie", "".join("&u%d@example.net\n" % i for i in range(4)))
rc, out, _ = run_local(inst3, h, MSG)
check("forwardmax-111", rc == 111 and "localforwardmax" in out and queue_files(inst3) == [], out)
put(h, ".postie", "".join("&u%d@example.net\n" % i for i in range(3)))
rc, out, _ = run_local(inst3, h, MSG)
check("forwardmax-at-limit-ok", rc == 0 and len(queue_files(inst3)) == 1, out)
put(h, ".postie", "&" + "x" * 1000 + "@example.net\n")
rc, out, _ = run_local(inst3, h, MSG)
check("forward-address-too-long-111", rc == 111 and "1000 bytes" in out, out)

# the queue program's exit codes: 11-40 permanent, others temporary
h = newhome()
put(h, ".postie", "&a@example.net\n")
qdir = mkhome(base, "qprogs")
for code, want in ((31, 100), (53, 111), (0, 0)):
    p = put(qdir, "q%d" % code, "#!/bin/sh\ncat > /dev/null; cat <&1 > /dev/null 2>&1; exit %d\n" % code, 0o755)
    rc, out, _ = run_local(inst, h, MSG, env={"POSTIE_QUEUE": p})
    check("queue-exit-%d-gives-%d" % (code, want), rc == want, "rc=%d %r" % (rc, out))
rc, out, _ = run_local(inst, h, MSG, env={"POSTIE_QUEUE": "/nonexistent/queue"})
check("queue-missing-111", rc == 111 and "unable to run the queue program" in out, out)
# a queue program that reads nothing and exits 0 did not take the message
p = put(qdir, "qlazy", "#!/bin/sh\nexit 0\n", 0o755)
rc, out, _ = run_local(inst, h, b"Subject: big\n\n" + b"x" * 1000000, env={"POSTIE_QUEUE": p})
check("queue-lazy-111", rc == 111, "rc=%d %r" % (rc, out))

# a queue program that hangs, before or after reading the message
for name, script in (("qhang", "#!/bin/sh\nexec sleep 30\n"), ("qslow", "#!/bin/sh\ncat > /dev/null; exec sleep 30\n")):
    p = put(qdir, name, script, 0o755)
    t0 = time.time()
    rc, out, _ = run_local(inst2, h, b"Subject: big\n\n" + b"x" * 1000000, env={"POSTIE_QUEUE": p})
    check("queue-timeout-" + name, rc == 111 and "timed out" in out and time.time() - t0 < 10,
          "rc=%d %r %.1fs" % (rc, out, time.time() - t0))

done()
