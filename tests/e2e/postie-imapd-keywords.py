#!/usr/bin/python3
"""Keywords (IMAP flags without a backslash) in postie-imapd, on sessions
run directly (PREAUTH, on pipes): STORE +FLAGS ($Forwarded Junk) kept in
the file name's info as lowercase letters with the folder's
postie-keywords saying which is which (doc/imap-keywords.md), seen by
the next session in FETCH FLAGS, FLAGS and PERMANENTFLAGS (with \\*);
SEARCH KEYWORD/UNKEYWORD; -FLAGS; \\Seen set by FETCH keeps them; COPY
into a folder whose letters differ; APPEND with a keyword; the 27th
keyword of a folder refused with NO [LIMIT], \\* gone from PERMANENTFLAGS."""
import os, re, shutil, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from poptest import *
from imapdirect import Direct

pub = public_tmp("imapd-keywords")
sandir = san_reports_into(pub)
home = pop_instance(pub)
md = make_maildir(os.path.join(pub, "Maildir"))


def curnames(d):
    return sorted(os.listdir(os.path.join(d, "cur")))


try:
    deliver(md, b"Subject: one\n\nbody\n")
    c = Direct(home, md)
    u, t = c.cmd(b"SELECT INBOX")
    check("permanentflags-star", any(l.startswith(b"* OK [PERMANENTFLAGS (") and b"\\*)]" in l for l in u), u)
    u, t = c.cmd(b"STORE 1 +FLAGS ($Forwarded Junk)")
    check("store-keywords", b" OK " in t and b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded Junk)\r\n" in u
          and b"* 1 FETCH (FLAGS ($Forwarded Junk))\r\n" in u, (u, t))
    n = curnames(md)
    check("letters-in-name", len(n) == 1 and n[0].endswith(":2,ab"), n)
    check("keywords-file", open(os.path.join(md, "postie-keywords")).read() == "0 $Forwarded\n1 Junk\n", "")
    c.close()

    c = Direct(home, md)
    u, t = c.cmd(b"SELECT INBOX")
    check("flags-next-session", b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded Junk)\r\n" in u, u)
    u, t = c.cmd(b"FETCH 1 (FLAGS)")
    check("fetch-flags-next-session", u == [b"* 1 FETCH (FLAGS ($Forwarded Junk))\r\n"], u)
    u, t = c.cmd(b"SEARCH KEYWORD junk")
    u2, t2 = c.cmd(b"SEARCH UNKEYWORD Junk")
    u3, t3 = c.cmd(b"SEARCH KEYWORD Nothing")
    check("search-keyword", u == [b"* SEARCH 1\r\n"] and u2 == [b"* SEARCH\r\n"] and u3 == [b"* SEARCH\r\n"], (u, u2, u3))
    u, t = c.cmd(b"STORE 1 -FLAGS (Junk)")
    check("store-minus", u == [b"* 1 FETCH (FLAGS ($Forwarded))\r\n"] and curnames(md)[0].endswith(":2,a"), (u, curnames(md)))
    u, t = c.cmd(b"FETCH 1 (BODY[TEXT])")
    check("seen-keeps-keywords", curnames(md)[0].endswith(":2,Sa") and b"FLAGS (\\Seen $Forwarded)" in b"".join(u), (u, curnames(md)))
    c.cmd(b"CREATE Other")
    with open(os.path.join(md, ".Other", "postie-keywords"), "w") as f:
        f.write("0 Work\n")
    u, t = c.cmd(b"COPY 1 Other")
    o = os.path.join(md, ".Other")
    check("copy-keywords", b" OK " in t and len(curnames(o)) == 1 and curnames(o)[0].endswith(":2,Sb")
          and open(os.path.join(o, "postie-keywords")).read() == "0 Work\n1 $Forwarded\n", curnames(o))
    msg = b"Subject: two\r\n\r\nbody\r\n"
    c.send(b"a1 APPEND INBOX (\\Seen NonJunk) {%d+}\r\n" % len(msg) + msg + b"\r\n")
    l = c.line()
    while l.startswith(b"* "):
        l = c.line()
    check("append-keyword", l.startswith(b"a1 OK") and any(x.endswith(":2,Sc") for x in curnames(md)), (l, curnames(md)))
    # 26 letters: a, b (Junk is kept in the file), c used; 23 more fill them
    u, t = c.cmd(b"STORE 1 +FLAGS (" + b" ".join(b"k%d" % i for i in range(23)) + b")")
    check("store-26", b" OK " in t, t)
    u, t = c.cmd(b"STORE 1 +FLAGS (onetoomany)")
    check("keyword-limit", t.startswith(b"t") and b" NO [LIMIT]" in t, t)
    u, t = c.cmd(b"DELETE Other")
    check("delete-with-keywords", b" OK " in t and not os.path.exists(o), t)
    c.close()
    c = Direct(home, md)
    u, t = c.cmd(b"SELECT INBOX")
    check("permanentflags-full", any(l.startswith(b"* OK [PERMANENTFLAGS (") and b"\\*" not in l for l in u), u)
    c.close()
finally:
    shutil.rmtree(pub, ignore_errors=True)
done()
