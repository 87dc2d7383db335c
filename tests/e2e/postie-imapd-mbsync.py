#!/usr/bin/python3
"""An offline client, isync's mbsync, mirroring a postie IMAP account
(INBOX and a folder) into a local Maildir both ways, the certificate
verified for imap.test: the first run copies everything, a second changes
nothing on either side; then changes on both sides (flags set over IMAP
and in the local Maildir, a new delivery, a message written locally, a
message deleted locally, a folder created locally) travel over STARTTLS
the other way; a last run again changes nothing. Neither side ever holds
a message twice, and none is lost."""
import os, re, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from poptest import deliver, make_maildir
from imaptest import *

NAMES = ["mbsync-first", "mbsync-copied", "mbsync-second-unchanged", "mbsync-both-ways", "mbsync-flags-to-server",
         "mbsync-flags-to-local", "mbsync-append", "mbsync-delete", "mbsync-create-folder", "mbsync-last-unchanged",
         "mbsync-no-duplicate"]
private_hosts(NAMES)

S = ImapSetup("imapd-mbsync")


def msg(i, where="INBOX"):
    return (b"From: Bob <bob@example.org>\nTo: alice@example.org\nSubject: %s %d\nMessage-ID: <%s%d@example.org>\n\n"
            b"hello %d\n" % (where.encode(), i, where.encode(), i, i))


def mbsync(ssl, port):
    rc = os.path.join(S.pub, "mbsyncrc")
    with open(rc, "w") as f:
        f.write("IMAPAccount postie\nHost %s\nPort %d\nUser alice\nPass \"alice pw\"\nSSLType %s\n"
                "CertificateFile %s\nSystemCertificates no\nAuthMechs PLAIN\n\n"
                "IMAPStore remote\nAccount postie\n\n"
                "MaildirStore local\nPath %s/\nInbox %s/INBOX\nSubFolders Verbatim\n\n"
                "Channel mirror\nFar :remote:\nNear :local:\nPatterns *\nCreate Both\nExpunge Both\nSyncState *\n"
                % (NAME, port, ssl, S.ca, local, local))
    p = subprocess.run(["mbsync", "-c", rc, "-V", "mirror"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       env=dict(os.environ, HOME=S.pub), timeout=90)
    return p.returncode, p.stdout.decode(errors="replace")


def state(md, folder_of):
    """{folder: {Subject: flags}} of a Maildir tree."""
    out = {}
    for name, rel in folder_of(md):
        out[name] = maildir_flags(md, rel)
    return out


def server_folders(md):
    yield "INBOX", ""
    for n in sorted(os.listdir(md)):
        if n.startswith(".") and os.path.isdir(os.path.join(md, n, "cur")):
            yield n[1:], n


def local_folders(md):
    for n in sorted(os.listdir(md)):
        if os.path.isdir(os.path.join(md, n, "cur")):
            yield n, n


def files(md):
    """Every message file name (for 'nothing changed')."""
    out = []
    for root, dirs, fs in os.walk(md):
        if os.path.basename(root) in ("cur", "new"):
            out += [os.path.join(os.path.relpath(root, md), f) for f in fs]
    return sorted(out)


def uids(md):
    """The UID file's lines for the messages INBOX still holds (a line of
    an expunged message may stay until the next look at the folder)."""
    here = {n.split(":2,")[0] for n in maildir_names(md)}
    return sorted(l for l in open(os.path.join(md, "postie-uids")).read().splitlines()[1:] if l.split()[1] in here)


def changes(a, b):
    """What differs between two (server files, local files, postie-uids) snapshots."""
    return [(sorted(set(x) - set(y)), sorted(set(y) - set(x))) for x, y in
            ((a[0], b[0]), (a[1], b[1]), (a[2].splitlines(), b[2].splitlines()))]


def total(st):
    return sum(len(v) for v in st.values())


try:
    md = S.user("alice", "alice pw")
    for i in (1, 2, 3):
        deliver(md, msg(i), UID, GID)
    work = make_maildir(os.path.join(md, ".Work"), UID, GID)
    for i in (1, 2):
        deliver(work, msg(i, "Work"), UID, GID)
    local = os.path.join(S.pub, "local")
    os.makedirs(local)

    rc, out = mbsync("IMAPS", S.imp.port)
    check("mbsync-first", rc == 0, out[-1500:])
    srv, loc = state(md, server_folders), state(local, local_folders)
    want = {"INBOX": {"INBOX 1", "INBOX 2", "INBOX 3"}, "Work": {"Work 1", "Work 2"}}
    check("mbsync-copied", {k: set(v) for k, v in loc.items() if k in want} == want and total(loc) == 5, (loc, srv))

    before = (files(md), files(local), "\n".join(uids(md)))
    rc, out = mbsync("IMAPS", S.imp.port)
    after = (files(md), files(local), "\n".join(uids(md)))
    check("mbsync-second-unchanged", rc == 0 and before == after, (rc, out[-1500:], changes(before, after)))

    # Changes on both sides.
    c = S.imaps("alice", "alice pw")
    c.select("INBOX")
    typ, d = c.search(None, "SUBJECT", '"INBOX 1"')
    c.store(d[0].decode(), "+FLAGS", "(\\Flagged)")
    c.logout()
    deliver(md, msg(4), UID, GID)
    for sub in ("cur", "new"):
        for n in os.listdir(os.path.join(local, "INBOX", sub)):
            body = open(os.path.join(local, "INBOX", sub, n), "rb").read()
            if b"Subject: INBOX 2\n" in body:
                base = n.split(":2,")[0]
                os.rename(os.path.join(local, "INBOX", sub, n), os.path.join(local, "INBOX", "cur", base + ":2,RS"))
            if b"Subject: INBOX 3\n" in body:
                base = n.split(":2,")[0]
                os.rename(os.path.join(local, "INBOX", sub, n), os.path.join(local, "INBOX", "cur", base + ":2,T"))
    deliver(os.path.join(local, "Work"), msg(3, "Work"), name="1700000000.local1.host")
    make_maildir(os.path.join(local, "Projects"))
    deliver(os.path.join(local, "Projects"), msg(1, "Projects"), name="1700000000.local2.host")

    rc, out = mbsync("STARTTLS", S.req.port)
    srv, loc = state(md, server_folders), state(local, local_folders)
    check("mbsync-both-ways", rc == 0, out[-1500:])
    check("mbsync-flags-to-server", srv["INBOX"].get("INBOX 2") == "RS", srv)
    check("mbsync-flags-to-local", loc["INBOX"].get("INBOX 1") == "F" and "INBOX 4" in loc["INBOX"], loc)
    check("mbsync-append", "Work 3" in srv.get("Work", {}), srv)
    check("mbsync-delete", "INBOX 3" not in srv["INBOX"] and "INBOX 3" not in loc["INBOX"], (srv, loc))
    check("mbsync-create-folder", "Projects 1" in srv.get("Projects", {}), srv)

    before = (files(md), files(local), "\n".join(uids(md)))
    rc, out = mbsync("STARTTLS", S.req.port)
    after = (files(md), files(local), "\n".join(uids(md)))
    check("mbsync-last-unchanged", rc == 0 and before == after, (rc, out[-300:], changes(before, after)))
    srv, loc = state(md, server_folders), state(local, local_folders)
    want = {"INBOX": {"INBOX 1", "INBOX 2", "INBOX 4"}, "Work": {"Work 1", "Work 2", "Work 3"}, "Projects": {"Projects 1"}}
    n_srv = sum(len(files(os.path.join(md, r)) if r else [f for f in files(md) if not f.startswith(".")])
                for _, r in server_folders(md))
    check("mbsync-no-duplicate", {k: set(v) for k, v in srv.items() if k in want} == want
          and {k: set(v) for k, v in loc.items() if k in want} == want
          and len(files(local)) == 7 and n_srv == 7, (srv, loc, files(local), files(md)))
finally:
    S.finish()
done()
