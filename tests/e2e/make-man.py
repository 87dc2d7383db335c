#!/usr/bin/python3
"""The man pages: make builds one per doc/*.md into BUILD/man (programs in
sections 1 and 8, formats in 5, the rest in 7), each renders with man(1)
under a NAME line that whatis can read, and make install (package/install)
puts them under PREFIX/share/man, gzipped, with LICENSE in PREFIX/share/doc/postie."""
import os, re, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *

man = os.path.join(BUILD, "man")
docs = sorted(f[:-3] for f in os.listdir(os.path.join(TOP, "doc")) if f.endswith(".md"))
pages = sorted(os.path.join(s, f) for s in os.listdir(man) if s.startswith("man")
               for f in os.listdir(os.path.join(man, s))) if os.path.isdir(man) else []
check("man-one-per-doc", len(pages) == len(docs) and len(docs) > 20, "%d pages for %d docs" % (len(pages), len(docs)))
want = ["man8/postie-smtpd.8", "man8/postie-setup.8", "man1/sendmail.1", "man1/postie-inject.1",
        "man5/postie-users.5", "man5/postie-queue.5", "man5/postie-envelope.5", "man7/postie.7"]
check("man-sections", all(w in pages for w in want), "missing: %r" % [w for w in want if w not in pages])
bad = []
for p in pages:
    name = os.path.basename(p).rsplit(".", 1)[0]
    r = subprocess.run(["man", "-l", os.path.join(man, p)], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="", PAGER="cat"))
    lines = [l.strip() for l in r.stdout.splitlines()]
    if r.returncode != 0 or "NAME" not in lines or not any(re.match(re.escape(name) + r" +- +\S", l) for l in lines):
        bad.append((p, r.returncode, r.stdout[:200], r.stderr[:200]))
check("man-renders", not bad, repr(bad[:3]))
smtpd = subprocess.run(["man", "-l", os.path.join(man, "man8/postie-smtpd.8")], capture_output=True, text=True,
                       env=dict(os.environ, MANWIDTH="200", PAGER="cat")).stdout
check("man-content", "SENDERLOGIN" in smtpd and "Synopsis" in smtpd, smtpd[:300])

stage = tmpdir("man-install")
r = subprocess.run(["sh", os.path.join(TOP, "package", "install"), os.path.relpath(BUILD, TOP), stage, "/usr"],
                   capture_output=True, text=True, cwd=TOP, timeout=300)
got = sorted(os.path.join(s, f) for s in os.listdir(os.path.join(stage, "usr/share/man"))
             for f in os.listdir(os.path.join(stage, "usr/share/man", s))) if r.returncode == 0 else []
check("install-man", r.returncode == 0 and got == [p + ".gz" for p in pages], r.stderr[-300:] + repr(got[:5]))
# Installed gzipped (package/install), and man reads them so.
inst = subprocess.run(["man", "-l", os.path.join(stage, "usr/share/man", "man8/postie-smtpd.8.gz")], capture_output=True,
                      text=True, timeout=60, env=dict(os.environ, MANWIDTH="200", PAGER="cat")).stdout
check("install-man-gzip-renders", "SENDERLOGIN" in inst and "Synopsis" in inst, inst[:300])
lic = os.path.join(stage, "usr/share/doc/postie/LICENSE")
text = open(lic).read() if os.path.exists(lic) else ""
check("install-license-isc", "Copyright (c) 2026 the postie authors" in text
      and "Permission to use, copy, modify, and distribute this software" in text, text[:200])
done()
