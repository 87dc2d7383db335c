#!/usr/bin/python3
"""postie-local: Maildir and mbox delivery, the header lines, the lookup of
instructions files (extensions, -default files), loops, refusals and the
mbox's safety on write failures. Run as root; postie-local runs as 65534."""
import fcntl, os, re, subprocess, sys, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from localtest import *

base = tmpdir("local")
inst = mkinstance(os.path.join(base, "inst"))
open_path(inst)
n = [0]


def newhome(mode=0o755):
    n[0] += 1
    return mkhome(base, "h%d" % n[0], mode)


MSG = b"From: alice@example.com\nSubject: hi\n\nhello\n"

# --- the default delivery: a Maildir, created when missing ---
h = newhome()
rc, out, err = run_local(inst, h, MSG)
files = maildir_files(os.path.join(h, "Maildir"))
check("default-maildir-exit", rc == 0, "rc=%d %r %r" % (rc, out, err))
check("default-maildir-one-line", out.count("\n") == 1 and out.endswith("\n"), repr(out))
check("default-maildir-one-file", len(files) == 1, repr(files))
if files:
    check("default-maildir-result-names-file",
          out.strip() == "delivered to maildir ./Maildir/new/" + os.path.basename(files[0]), repr(out))
    check("default-maildir-content", read(files[0]) ==
          b"Return-Path: <alice@example.com>\nDelivered-To: bob@example.org\n" + MSG, repr(read(files[0])))
    name = os.path.basename(files[0])
    # ,S= the file's size, ,W= its size with CRLF line ends (what POP3
    # announces: postie-pop3d reads it from the name)
    body = read(files[0])
    check("maildir-name-shape", re.fullmatch(r"\d+\.M\d+P\d+Q1\.localhost,S=%d,W=%d" % (len(body), len(body) + body.count(b"\n")), name) is not None, name)
    st = os.stat(files[0])
    check("maildir-file-owner-mode", st.st_uid == UID and st.st_mode & 0o777 == 0o600, oct(st.st_mode))
for sub in ("tmp", "new", "cur"):
    d = os.path.join(h, "Maildir", sub)
    check("default-maildir-created-" + sub, os.path.isdir(d) and os.stat(d).st_mode & 0o777 == 0o700)
check("maildir-tmp-empty", os.listdir(os.path.join(h, "Maildir", "tmp")) == [])

# a second delivery: a second file; the recipient's case is lowered
rc, out, _ = run_local(inst, h, MSG, local="Bob", domain="Example.ORG", sender="")
files = maildir_files(os.path.join(h, "Maildir"))
check("maildir-second-delivery", rc == 0 and len(files) == 2, out)
newest = [f for f in files if f.endswith(out.strip().rsplit("/", 1)[-1])]
check("maildir-null-sender-lowercase-dt", newest and read(newest[0]).startswith(
    b"Return-Path: <>\nDelivered-To: bob@example.org\nFrom: alice"), repr(newest and read(newest[0])[:80]))

# DEFAULTDELIVERY, absolute and relative; empty means ./Maildir/
h = newhome()
rc, out, _ = run_local(inst, h, MSG, dd=os.path.join(h, "Mail") + "/")
check("default-absolute-maildir", rc == 0 and len(maildir_files(os.path.join(h, "Mail"))) == 1, out)
rc, out, _ = run_local(inst, h, MSG, dd="")
check("default-empty-is-Maildir", rc == 0 and len(maildir_files(os.path.join(h, "Maildir"))) == 1, out)

# control/me names the host in Maildir names, '/' and ':' escaped
inst2 = mkinstance(os.path.join(base, "inst2"), {"me": "mx.example:2525/x"})
open_path(inst2)
rc, out, _ = run_local(inst2, h, MSG)
check("maildir-name-me-escaped", rc == 0 and re.search(r"\.mx\.example\\0722525\\057x,S=\d+,W=\d+$", out.strip()), out)

# CRLF messages: the added lines follow the message's line ends; bytes kept
h = newhome()
crlf = b"Subject: crlf\r\n\r\nline1\r\nline2\r\n"
rc, out, _ = run_local(inst, h, crlf)
files = maildir_files(os.path.join(h, "Maildir"))
check("crlf-maildir", rc == 0 and files and read(files[0]) ==
      b"Return-Path: <alice@example.com>\r\nDelivered-To: bob@example.org\r\n" + crlf,
      repr(files and read(files[0])))

# binary bytes and no final newline are delivered as they are
h = newhome()
binmsg = b"Subject: bin\n\n" + bytes(range(256)) * 300 + b"no newline"
rc, out, _ = run_local(inst, h, binmsg)
files = maildir_files(os.path.join(h, "Maildir"))
check("maildir-binary", rc == 0 and files and read(files[0]).endswith(binmsg))

# --- mbox ---
h = newhome()
body = (b"Subject: quoting\n\nFrom the start\n>From quoted\n>>From more\n From not\nFromage\n"
        b"From\nx From y\n>>>>\n>From")
rc, out, _ = run_local(inst, h, body, dd="./mbox")
check("mbox-exit", rc == 0 and out.strip() == "delivered to mbox ./mbox", out)
mb = read(os.path.join(h, "mbox"))
m = re.match(rb"From alice@example\.com (Mon|Tue|Wed|Thu|Fri|Sat|Sun) "
             rb"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 123]\d \d\d:\d\d:\d\d \d{4}\n", mb)
check("mbox-from-line", m is not None, repr(mb[:80]))
if m:
    rest = mb[m.end():]
    want = (b"Return-Path: <alice@example.com>\nDelivered-To: bob@example.org\n"
            b"Subject: quoting\n\n>From the start\n>>From quoted\n>>>From more\n From not\nFromage\n"
            b"From\nx From y\n>>>>\n>From\n\n")
    check("mbox-quoting-and-end", rest == want, repr(rest))
    # the date is UTC, whatever TZ says
    stamp = m.group(0).split(b" ", 2)[2].strip().decode()
    t = time.mktime(time.strptime(stamp, "%a %b %d %H:%M:%S %Y")) - time.mktime(time.gmtime(0))
    check("mbox-date-utc", abs(t - time.time()) < 120, stamp)
st = os.stat(os.path.join(h, "mbox"))
check("mbox-created-0600", st.st_uid == UID and st.st_mode & 0o777 == 0o600, oct(st.st_mode))

rc, out, _ = run_local(inst, h, MSG, dd="./mbox", sender="")
mb2 = read(os.path.join(h, "mbox"))
check("mbox-append", rc == 0 and mb2.startswith(mb) and mb2[len(mb):].startswith(b"From MAILER-DAEMON "),
      repr(mb2[len(mb):][:60]))
check("mbox-null-sender", mb2[len(mb):].split(b"\n")[1] == b"Return-Path: <>")
check("mbox-ends-blank-line", mb2.endswith(b"hello\n\n"))
rc, out, _ = run_local(inst, h, MSG, dd="./mbox", sender="we ird@example.com")
check("mbox-sender-blank", rc == 0 and b"\nFrom we_ird@example.com " in read(os.path.join(h, "mbox")))

# quoting across the 64 KiB read boundary, and a very long run of '>'
h = newhome()
for off in range(65530, 65538):
    pad = b"Subject: edge\n\n"
    pad += b"x" * (off - len(pad) - 1) + b"\n"
    assert len(pad) == off
    edge = pad + b"From edge\n" + b">" * 100000 + b"From deep\n" + b">" * 70000 + b"Frox\n"
    rc, out, _ = run_local(inst, h, edge, dd="./m%d" % off)
    got = read(os.path.join(h, "m%d" % off))
    want_body = pad + b">From edge\n" + b">" * 100001 + b"From deep\n" + b">" * 70000 + b"Frox\n\n"
    check("mbox-quoting-boundary-%d" % off, rc == 0 and got.endswith(b"Delivered-To: bob@example.org\n" + want_body),
          "rc=%d %r" % (rc, out))

# concurrent deliveries to one mbox: each message whole, none interleaved
h = newhome()
big = b"Subject: big\n\n" + b"".join(b"line %06d of a long message\n" % i for i in range(20000))
results = []


def one(i):
    results.append(run_local(inst, h, big.replace(b"Subject: big", b"Subject: big %d" % i), dd="./mbox")[0])


ts = [threading.Thread(target=one, args=(i,)) for i in range(6)]
[t.start() for t in ts]
[t.join() for t in ts]
mb = read(os.path.join(h, "mbox"))
parts = re.split(rb"(?m)^From alice@example\.com .*\n", mb)
check("mbox-concurrent-exit", results == [0] * 6, repr(results))
check("mbox-concurrent-whole", len(parts) == 7 and all(
    p.endswith(big[len(b"Subject: big"):] + b"\n") for p in parts[1:]), "%d parts" % len(parts))

# the lock: while someone holds a fcntl lock, postie-local waits, then gives up (111)
inst3 = mkinstance(os.path.join(base, "inst3"), {"locallocktimeout": "1"})
open_path(inst3)
h = newhome()
mbox = put(h, "mbox", b"", 0o600)
with open(mbox, "r+b") as f:
    fcntl.lockf(f, fcntl.LOCK_EX)
    t0 = time.time()
    rc, out, _ = run_local(inst3, h, MSG, dd="./mbox")
    check("mbox-lock-timeout", rc == 111 and "lock" in out and time.time() - t0 < 10, "rc=%d %r" % (rc, out))
    result = []
    th = threading.Thread(target=lambda: result.append(run_local(inst, h, MSG, dd="./mbox")))
    th.start()
    time.sleep(0.5)
    check("mbox-lock-waits", read(mbox) == b"")
    fcntl.lockf(f, fcntl.LOCK_UN)
    th.join()
check("mbox-lock-then-delivers", result and result[0][0] == 0 and read(mbox).startswith(b"From "), repr(result))

# a write failure (file size limit) leaves the mbox exactly as it was
h = newhome()
old = b"From x Thu Jan  1 00:00:00 1970\nSubject: old\n\nold mail\n\n"
mbox = put(h, "mbox", old, 0o600)
rc, out, _ = run_local(inst, h, big, dd="./mbox", prefix=["prlimit", "--fsize=%d" % (len(old) + 5000)])
check("mbox-rollback-exit-111", rc == 111 and "truncated back" in out, "rc=%d %r" % (rc, out))
check("mbox-rollback-content", read(mbox) == old, "size %d" % len(read(mbox)))
rc, out, _ = run_local(inst, h, MSG, dd="./mbox")
check("mbox-after-rollback", rc == 0 and read(mbox).startswith(old + b"From alice@example.com "))

# a full disk (a 64 KiB tmpfs in a private mount namespace): the same
h = newhome()
old_path = put(base, "old-mbox", old, 0o600)
msgf = put(base, "big-msg", big)
script = r"""
set -e
mount -t tmpfs -o size=64k,uid=%(uid)d,gid=%(uid)d,mode=0755 tmpfs "$1"
cp "$2" "$1/mbox"; chown %(uid)d:%(uid)d "$1/mbox"
cd "$1"
set +e
setpriv --reuid %(uid)d --regid %(uid)d --clear-groups "$3" bob "$1" bob "" example.org a@b ./mbox < "$4" > "$5.out"
echo $? > "$5.rc"
cp "$1/mbox" "$5.mbox"
setpriv --reuid %(uid)d --regid %(uid)d --clear-groups "$3" bob "$1" bob "" example.org a@b ./Maildir/ < "$4" > "$5.mdout"
echo $? > "$5.mdrc"
ls -A "$1/Maildir/tmp" "$1/Maildir/new" > "$5.ls"
""" % {"uid": UID}
res = os.path.join(base, "full")
p = subprocess.run(["unshare", "--mount", "sh", "-c", script, "sh", h, old_path, prog("postie-local"), msgf, res],
                   env=env_for(inst), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
if not os.path.exists(res + ".rc"):
    skip("mbox-disk-full", "cannot mount a tmpfs here: %r" % p.stderr[-200:])
else:
    out = read(res + ".out").decode()
    check("mbox-disk-full-111", read(res + ".rc").strip() == b"111" and "No space left" in out
          and "truncated back" in out, out)
    check("mbox-disk-full-content", read(res + ".mbox") == old, "size %d" % len(read(res + ".mbox")))
    check("maildir-disk-full-111", read(res + ".mdrc").strip() == b"111", read(res + ".mdout").decode())
    entries = [l for l in read(res + ".ls").split(b"\n") if l and not l.endswith(b":")]
    check("maildir-disk-full-clean", entries == [], repr(read(res + ".ls")))

# the same for a Maildir: nothing left in tmp/ or new/
h = newhome()
rc, out, _ = run_local(inst, h, big, prefix=["prlimit", "--fsize=5000"])
check("maildir-write-failure-111", rc == 111, "rc=%d %r" % (rc, out))
check("maildir-write-failure-clean", maildir_files(os.path.join(h, "Maildir")) == []
      and maildir_files(os.path.join(h, "Maildir"), "tmp") == [])

# --- the instructions file ---
h = newhome()
put(h, ".postie", "# comment\n\n  ./Mail/  \n./mbox\n/%s/abs/\n" % h.strip("/"))
for d in ("Mail", "abs"):
    for s in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(h, d, s))
chown_tree(h)
rc, out, _ = run_local(inst, h, MSG)
check("postie-file-exit", rc == 0, out)
check("postie-file-all-three", len(maildir_files(os.path.join(h, "Mail"))) == 1
      and len(maildir_files(os.path.join(h, "abs"))) == 1 and os.path.exists(os.path.join(h, "mbox")), out)
check("postie-file-no-default", not os.path.exists(os.path.join(h, "Maildir")))
check("postie-file-result-lists-all", out.count("; ") == 2 and "mbox ./mbox" in out, out)

# an instructions file's Maildir is not created: 111
h = newhome()
put(h, ".postie", "./Missing/\n")
rc, out, _ = run_local(inst, h, MSG)
check("missing-maildir-111", rc == 111 and "does not exist" in out and not os.path.exists(os.path.join(h, "Missing")),
      "rc=%d %r" % (rc, out))
# an unwritable Maildir: 111
h = newhome()
put(h, ".postie", "./ro/\n")
for s in ("tmp", "new", "cur"):
    os.makedirs(os.path.join(h, "ro", s), mode=0o755)  # owned by root
rc, out, _ = run_local(inst, h, MSG)
check("unwritable-maildir-111", rc == 111 and "Permission denied" in out, "rc=%d %r" % (rc, out))
# an unwritable default Maildir too
h = newhome()
os.makedirs(os.path.join(h, "Maildir", "tmp"), mode=0o755)
rc, out, _ = run_local(inst, h, MSG)
check("unwritable-default-maildir-111", rc == 111, "rc=%d %r" % (rc, out))

# an empty (or comments-only) file means the default delivery
h = newhome()
put(h, ".postie", "# nothing here\n")
rc, out, _ = run_local(inst, h, MSG)
check("comment-only-file-default", rc == 0 and len(maildir_files(os.path.join(h, "Maildir"))) == 1, out)

# a mistake anywhere: nothing is delivered, 111 with the line number
h = newhome()
put(h, ".postie", "./mbox\n|\n")
rc, out, _ = run_local(inst, h, MSG)
check("syntax-error-111", rc == 111 and ".postie line 2" in out, out)
check("syntax-error-nothing-done", not os.path.exists(os.path.join(h, "mbox")))
put(h, ".postie", "./mbox\n&bad address@x\n")
rc, out, _ = run_local(inst, h, MSG)
check("bad-forward-111", rc == 111 and "line 2" in out and not os.path.exists(os.path.join(h, "mbox")), out)

# a file writable by anyone, a home writable by anyone, a sticky home: 111
h = newhome()
put(h, ".postie", "./mbox\n", 0o666)
rc, out, _ = run_local(inst, h, MSG)
check("world-writable-file-111", rc == 111 and "writable by anyone" in out and not os.path.exists(os.path.join(h, "mbox")), out)
h = newhome()
os.chmod(h, 0o777)
rc, out, _ = run_local(inst, h, MSG)
check("world-writable-home-111", rc == 111 and "writable by anyone" in out, out)
os.chmod(h, 0o1755)
rc, out, _ = run_local(inst, h, MSG)
check("sticky-home-111", rc == 111 and "sticky" in out, out)

# the file's size limit
inst4 = mkinstance(os.path.join(base, "inst4"), {"localfilemax": "100"})
open_path(inst4)
h = newhome()
put(h, ".postie", "# " + "x" * 200 + "\n./mbox\n")
rc, out, _ = run_local(inst4, h, MSG)
check("filemax-111", rc == 111 and "localfilemax" in out, out)

# --- extensions ---
h = newhome()
put(h, ".postie-lists", "./lists\n")
put(h, ".postie-a-b", "./ab\n")
put(h, ".postie-a-default", "./a-default\n")
put(h, ".postie-default", "./default\n")
put(h, ".postie", "./plain\n")


def ext_to(ext, local=None):
    rc, out, _ = run_local(inst, h, MSG, local=local or "bob-" + ext, ext=ext)
    return rc, out


check("ext-exact", ext_to("lists") == (0, "delivered to mbox ./lists\n"))
check("ext-lowercased", ext_to("LISTS") == (0, "delivered to mbox ./lists\n"))
check("ext-longest-first", ext_to("a-b") == (0, "delivered to mbox ./ab\n"))
check("ext-prefix-default", ext_to("a-b-c") == (0, "delivered to mbox ./a-default\n"))
check("ext-prefix-default-2", ext_to("a-x") == (0, "delivered to mbox ./a-default\n"))
check("ext-catch-all", ext_to("zzz") == (0, "delivered to mbox ./default\n"))
check("ext-long-catch-all", ext_to("y" * 300 + "-z" * 200) == (0, "delivered to mbox ./default\n"))
check("no-ext-plain", ext_to("", local="bob") == (0, "delivered to mbox ./plain\n"))
dt = read(os.path.join(h, "lists")).split(b"\n")[2]
check("ext-delivered-to-is-local", dt == b"Delivered-To: bob-lists@example.org", repr(dt))
os.unlink(os.path.join(h, ".postie-default"))
check("ext-without-file-uses-dot-postie", ext_to("zzz") == (0, "delivered to mbox ./plain\n"))
with open(os.path.join(h, ".postie-default"), "w") as f:
    f.write("|exit 100\n")
rc, out = ext_to("zzz")
check("ext-refused-by-default-file", rc == 100, out)
os.unlink(os.path.join(h, ".postie-default"))
for bad in ("a/b", ".hidden", "../x"):
    rc, out = ext_to(bad)
    check("ext-refused-" + bad, rc == 100 and "no such address" in out and "'/'" in out, out)
h2 = newhome()
put(h2, ".postie-x", "")
rc, out, _ = run_local(inst, h2, MSG, local="bob-x", ext="x")
check("ext-empty-file-default", rc == 0 and len(maildir_files(os.path.join(h2, "Maildir"))) == 1, out)

# --- loops ---
h = newhome()
loop = b"Received: x\nDELIVERED-TO:  Bob@Example.ORG \nSubject: loop\n\nbody\n"
rc, out, _ = run_local(inst, h, loop)
check("loop-100", rc == 100 and "looping" in out, out)
check("loop-nothing-delivered", not os.path.exists(os.path.join(h, "Maildir")))
rc, out, _ = run_local(inst, h, loop.replace(b"Bob@", b"bobby@"))
check("other-delivered-to-ok", rc == 0, out)
rc, out, _ = run_local(inst, h, b"Subject: x\n\nDelivered-To: bob@example.org\n")
check("delivered-to-in-body-ok", rc == 0, out)
rc, out, _ = run_local(inst, h, b"Subject: x\r\nDelivered-To: bob@example.org\r\n\r\nbody\r\n")
check("loop-crlf-100", rc == 100, out)
# the field may be folded, or have blanks before its colon (RFC 5322 obs-optional):
# a message that comes back through software that rewrites headers so still loops
for name, hdr in (("folded", b"Delivered-To:\n bob@example.org\n"),
                  ("folded-tab-crlf", b"delivered-to:\r\n\tBOB@example.org \r\n"),
                  ("folded-twice", b"Delivered-To:\n \n  bob@example.org\nX-After: 1\n"),
                  ("blank-before-colon", b"Delivered-To : bob@example.org\n"),
                  ("tab-before-colon", b"Delivered-To\t:bob@example.org\n"),
                  ("folded-last-field", b"Subject: x\nDelivered-To:\n\tbob@example.org\n")):
    crlf_msg = hdr.endswith(b"\r\n")
    body = (b"\r\nbody\r\n" if crlf_msg else b"\nbody\n")
    rc, out, _ = run_local(inst, h, b"Received: x\n" + hdr + body if not crlf_msg else b"Received: x\r\n" + hdr + body)
    check("loop-%s-100" % name, rc == 100 and "looping" in out, "rc=%d %r" % (rc, out))
for name, hdr in (("longer-name", b"Delivered-To-X: bob@example.org\n"),
                  ("folded-other", b"Delivered-To:\n bob@example.org.evil\n"),
                  ("continuation-of-other", b"X-Note: a\n Delivered-To: bob@example.org\n")):
    rc, out, _ = run_local(inst, h, hdr + b"\nbody\n")
    check("no-loop-%s" % name, rc == 0, "rc=%d %r" % (rc, out))
inst5 = mkinstance(os.path.join(base, "inst5"), {"localheadermax": "100"})
open_path(inst5)
rc, out, _ = run_local(inst5, h, b"X-Pad: " + b"p" * 200 + b"\nDelivered-To: bob@example.org\n\nbody\n")
check("loop-scan-bounded", rc == 0, out)

# --- refusals ---
h = newhome()
rc, out, _ = run_local(inst, h, MSG, asroot=True)
check("root-refused-111", rc == 111 and "root" in out and not os.path.exists(os.path.join(h, "Maildir")), out)
rc, out, _ = run_local(inst, h, MSG, prefix=None, dd="./Maildir/", local="")
check("empty-local-111", rc == 111 and "LOCAL" in out, out)
p = subprocess.run(["setpriv", "--reuid", str(UID), "--regid", str(GID), "--clear-groups", prog("postie-local"), "x"],
                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, env=env_for(inst))
check("usage-111", p.returncode == 111 and p.stdout.startswith(b"usage: "), repr(p.stdout))
p = subprocess.run(["setpriv", "--reuid", str(UID), "--regid", str(GID), "--clear-groups", prog("postie-local"),
                    "bob", h, "bob", "", "example.org", "", "./Maildir/"],
                   input=MSG, stdout=subprocess.PIPE, env=env_for(inst))
check("pipe-message-111", p.returncode == 111 and b"not a regular file" in p.stdout, repr(p.stdout))
rc, out, _ = run_local(inst, h, MSG, env={"POSTIE_HOME": os.path.join(base, "nonexistent")})
check("no-instance-111", rc == 111 and "instance" in out, out)

done()
