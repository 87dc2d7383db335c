#!/usr/bin/python3
"""The build (Makefile, conf-*): in the default build every C program in
TARGETS is a static executable of the C library its folder's file `libc`
names, and the programs exec'd for every message are musl; in the glibc
builds (make SAN=1, make LIBC=glibc) every program is on glibc. Both kinds
of build can link a program with -lbearssl (as programs/<prog>/libs may
say): a SHA-256 through BearSSL, compiled with the build's own lines."""
import hashlib, os, re, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *

# scenario 1 of make bench execs these for every message
PER_MESSAGE = ["postie-tcpserver", "postie-tcpaccess", "postie-smtpd", "postie-queue", "postie-send",
               "postie-lspawn", "postie-local", "postie-rspawn", "postie-remote"]

cprogs = c_programs()
# The Makefile's names: build-san (SAN=1) and build-glibc (LIBC=glibc) are
# the glibc builds, as tests/run knows build-san by its name.
default_build = not re.search(r"-(san|glibc)$", os.path.basename(os.path.normpath(BUILD)))


def declared(p):
    try:
        with open(os.path.join(TOP, "programs", p, "libc")) as f:
            return f.read().strip()
    except OSError:
        return None


def elf(path):
    """(static, libc) of an ELF executable: static when it has neither an
    interpreter nor a dynamic section; glibc when it carries glibc's
    .note.ABI-tag (static) or asks for ld-linux (dynamic), musl when it
    has musl's start-up (__init_libc) or asks for ld-musl."""
    r = subprocess.run(["readelf", "-lSW", path], capture_output=True, text=True)
    if r.returncode != 0:
        return None, "not ELF: " + r.stderr.strip()
    out = r.stdout
    interp = re.search(r"Requesting program interpreter: ([^\]]+)\]", out)
    dynamic = re.search(r"^\s*DYNAMIC\s", out, re.M)
    static = not interp and not dynamic
    if interp:
        i = interp.group(1)
        return static, "musl" if "ld-musl" in i else "glibc" if "ld-linux" in i else i
    syms = subprocess.run(["nm", path], capture_output=True, text=True).stdout
    if ".note.ABI-tag" in out and "__libc_setup_tls" in syms:
        return static, "glibc"
    if ".note.ABI-tag" not in out and re.search(r"\b__init_libc$", syms, re.M):
        return static, "musl"
    return static, "unknown"


for p in cprogs:
    d = declared(p)
    check("declared-" + p, d in ("musl", "glibc"), "programs/%s/libc says %r (musl or glibc)" % (p, d))
    static, libc = elf(prog(p))
    if default_build:
        check("static-" + p, static, "%s is not a static executable" % prog(p))
        check("libc-" + p, libc == d, "%s is %s, its folder says %s" % (p, libc, d))
    else:
        check("glibc-" + p, libc == "glibc", "%s is %s in a glibc build" % (p, libc))

if default_build:
    for p in PER_MESSAGE:
        check("per-message-musl-" + p, p in cprogs and declared(p) == "musl" and elf(prog(p))[1] == "musl",
              "%s is exec'd for every message: it must be musl" % p)
else:
    for p in PER_MESSAGE:
        skip("per-message-musl-" + p, "a glibc build (%s)" % BUILD)

# -lbearssl, through the build's compile and link lines (the Makefile
# appends programs/<prog>/libs to the link line the same way).
tmp = tmpdir("build-libc")
src = os.path.join(tmp, "sha.c")
with open(src, "w") as f:
    f.write('''#include <bearssl.h>
#include <skalibs/buffer.h>
#include <skalibs/fmtscan.h>
int main (void)
{
  br_sha256_context c ;
  unsigned char h[32] ;
  char x[65] ;
  br_sha256_init(&c) ;
  br_sha256_update(&c, "postie", 6) ;
  br_sha256_out(&c, h) ;
  x[ucharn_fmt(x, (char const *)h, 32)] = '\\n' ;
  buffer_putflush(buffer_1, x, 65) ;
  return 0 ;
}
''')


def firstline(name):
    with open(os.path.join(TOP, name)) as f:
        return f.readline().split()


if default_build:
    ccl, ldl = firstline("conf-cc"), firstline("conf-ld")
else:
    ccl, ldl = firstline("conf-cc-glibc"), firstline("conf-ld-glibc")
    if SAN:
        ccl += ["-fsanitize=address,undefined"]
        ldl += ["-fsanitize=address,undefined"]
obj, exe = os.path.join(tmp, "sha.o"), os.path.join(tmp, "sha")
r = subprocess.run(ccl + ["-c", "-o", obj, src], cwd=TOP, capture_output=True, text=True)
if check("bearssl-compile", r.returncode == 0, r.stderr[-2000:]):
    r = subprocess.run(ldl + ["-o", exe, obj, "-lbearssl", "-lskarnet"], cwd=TOP, capture_output=True, text=True)
    if check("bearssl-link", r.returncode == 0, r.stderr[-2000:]):
        r = subprocess.run([exe], capture_output=True, text=True)
        check("bearssl-run", r.stdout.strip() == hashlib.sha256(b"postie").hexdigest(), repr(r.stdout) + r.stderr)
        if default_build:
            static, libc = elf(exe)
            check("bearssl-musl-static", static and libc == "musl", "%s %s" % (static, libc))
done()
