#!/usr/bin/python3
"""postie-imapd's folder listing, on a session run directly (PREAUTH, on
pipes): LIST-EXTENDED (RFC 5258) selection options (SUBSCRIBED,
SPECIAL-USE), several patterns, return options (SUBSCRIBED, CHILDREN,
SPECIAL-USE, and STATUS: LIST-STATUS, RFC 5819), \\HasChildren,
\\NonExistent for a subscribed name with no folder, LSUB; then 3,000
folders: CREATE, LIST, STATUS of each, LSUB, DELETE of
half, all correct, with the session's CPU time bounded (generously: the
sanitizer build, a loaded machine)."""
import os, re, shutil, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from poptest import *
from imapdirect import Direct

pub = public_tmp("imapd-folders")
sandir = san_reports_into(pub)
home = pop_instance(pub)
md = make_maildir(os.path.join(pub, "Maildir"))


def listed(lines):
    """{name: attributes} of * LIST / * LSUB lines"""
    out = {}
    for l in lines:
        m = re.match(rb'\* (?:LIST|LSUB) \(([^)]*)\) "\." "?([^"\r]*)"?\r\n', l)
        if m:
            out[m.group(2).decode()] = set(m.group(1).decode().split())
    return out


def batch(c, cmds):
    """sends commands in groups of 100 (pipes: no deadlock), returns all
    (untagged, tagged) pairs"""
    res = []
    for g in range(0, len(cmds), 100):
        group = cmds[g:g + 100]
        tags = []
        for cmd in group:
            c.n += 1
            tags.append(b"t%d" % c.n)
            c.p.stdin.write(tags[-1] + b" " + cmd + b"\r\n")
        c.p.stdin.flush()
        for tag in tags:
            u = []
            while True:
                l = c.line()
                if not l or l.startswith(tag + b" "):
                    break
                u.append(l)
            res.append((u, l))
    return res


try:
    c = Direct(home, md)
    check("caps", b"LIST-EXTENDED" in c.greeting and b"LIST-STATUS" in c.greeting, c.greeting)
    for cmd in (b"CREATE Work", b"CREATE Work.Projects", b"CREATE Other", b"SUBSCRIBE Work.Projects",
                b"SUBSCRIBE Ghost", b"SUBSCRIBE INBOX"):
        u, t = c.cmd(cmd)
        check("setup " + cmd.decode(), b" OK" in t, t)
    with open(os.path.join(md, ".Other", "new", "1.M1P1.test"), "wb") as f:
        f.write(b"Subject: x\n\nx\n")

    u, t = c.cmd(b'LIST "" "*"')
    l = listed(u)
    check("list-children", l.get("Work") == {"\\HasChildren"} and l.get("Work.Projects") == {"\\HasNoChildren"}
          and l.get("Sent") == {"\\HasNoChildren", "\\Sent"} and "INBOX" in l and "Ghost" not in l, l)
    u, t = c.cmd(b'LIST (SUBSCRIBED) "" "*"')
    l = listed(u)
    check("list-select-subscribed", t.endswith(b" OK LIST completed\r\n") and l == {
        "INBOX": {"\\HasNoChildren", "\\Subscribed"}, "Work.Projects": {"\\HasNoChildren", "\\Subscribed"},
        "Ghost": {"\\NonExistent", "\\Subscribed"}}, (l, t))
    u, t = c.cmd(b'LIST "" "*" RETURN (SUBSCRIBED CHILDREN SPECIAL-USE)')
    l = listed(u)
    check("list-return-subscribed", l.get("Work.Projects") == {"\\HasNoChildren", "\\Subscribed"}
          and l.get("Work") == {"\\HasChildren"} and l.get("Junk") == {"\\HasNoChildren", "\\Junk"} and "Ghost" not in l, l)
    u, t = c.cmd(b'LIST (SPECIAL-USE) "" "*" RETURN (SPECIAL-USE)')
    check("list-select-special-use", set(listed(u)) == {"Sent", "Drafts", "Trash", "Junk"}, u)
    u, t = c.cmd(b'LIST "" ("Work*" Other)')
    check("list-patterns", set(listed(u)) == {"Work", "Work.Projects", "Other"}, u)
    u, t = c.cmd(b'LIST "" "%" RETURN (STATUS (MESSAGES UNSEEN UIDNEXT))')
    st = [x for x in u if x.startswith(b"* STATUS ")]
    check("list-status", b'* STATUS "Other" (MESSAGES 1 UNSEEN 1 UIDNEXT 2)\r\n' in st
          and b"* STATUS INBOX (MESSAGES 0 UNSEEN 0 UIDNEXT 1)\r\n" in st and len(st) == len(listed(u)) == 7, u)
    u, t = c.cmd(b'LIST "" "*" RETURN (STATUS (BOGUS))')
    check("list-status-bad-item", b" BAD " in t and not u, (u, t))
    u, t = c.cmd(b'LIST (RECURSIVEMATCH) "" "*"')
    check("list-recursivematch-refused", b" BAD " in t, t)
    u, t = c.cmd(b'LSUB "" "*"')
    check("lsub", set(listed(u)) == {"INBOX", "Work.Projects", "Ghost"}, u)
    u, t = c.cmd(b'LIST "" ""')
    check("list-delimiter", u == [b'* LIST (\\Noselect) "." ""\r\n'], u)
    c.close()

    # 3,000 folders
    N = 3000
    c = Direct(home, md)
    names = [b"F%04d" % i for i in range(N)]
    r = batch(c, [b"CREATE " + n for n in names])
    check("create-3000", all(t.endswith(b" OK CREATE completed\r\n") for u, t in r), [t for u, t in r if b" OK " not in t][:3])
    u, t = c.cmd(b'LIST "" "*"')
    l = listed(u)
    check("list-3000", len([n for n in l if n.startswith("F")]) == N and len(l) == N + 8, len(l))
    u, t = c.cmd(b'LIST "" "F1%"')
    check("list-pattern-3000", set(listed(u)) == {"F1%03d" % i for i in range(1000)}, len(u))
    r = batch(c, [b"STATUS " + n + b" (MESSAGES UIDVALIDITY)" for n in names])
    vals = [re.search(rb"UIDVALIDITY (\d+)", u[0]).group(1) if u else None for u, t in r]
    check("status-3000", all(t.endswith(b" OK STATUS completed\r\n") and u and b"MESSAGES 0" in u[0] for u, t in r)
          and len(set(vals)) == N, len(set(vals)))
    u, t = c.cmd(b'LIST "" "F*" RETURN (STATUS (MESSAGES))')
    check("list-status-3000", len([x for x in u if x.startswith(b"* STATUS ")]) == N, len(u))
    # 3,000 SUBSCRIBE commands would each rewrite and fsync the file:
    # 100 of them, the rest written here
    r = batch(c, [b"SUBSCRIBE " + n for n in names[:100]])
    check("subscribe-100", all(b" OK " in t for u, t in r), "")
    with open(os.path.join(md, "postie-subscriptions"), "ab") as f:
        f.write(b"".join(n + b"\n" for n in names[100:]))
    u, t = c.cmd(b'LSUB "" "F*"')
    check("lsub-3000", len(listed(u)) == N, len(u))
    # a line the file repeats (an admin's edit, a copied file) is one name
    with open(os.path.join(md, "postie-subscriptions"), "ab") as f:
        f.write(b"Ghost\nGhost\n")
    u, t = c.cmd(b'LSUB "" "Ghost"')
    check("lsub-repeated-line-once", len([x for x in u if x.startswith(b"* LSUB ")]) == 1, u)
    r = batch(c, [b"DELETE " + n for n in names[::2]])
    check("delete-1500", all(b" OK DELETE completed" in t for u, t in r), "")
    u, t = c.cmd(b'LIST "" "F*"')
    check("list-after-delete", set(listed(u)) == {n.decode() for n in names[1::2]}, len(u))
    u, t = c.cmd(b'LIST (SUBSCRIBED) "" "F*"')
    l = listed(u)
    check("subscribed-after-delete", len(l) == N and sum(1 for a in l.values() if "\\NonExistent" in a) == N // 2, len(l))
    user, system = c.cputime()
    check("cpu-bounded", user + system < 60, "%.1f s" % (user + system))
    print("CPU: user %.2f s, system %.2f s" % (user, system))
    c.close()
finally:
    shutil.rmtree(pub, ignore_errors=True)
done()
