#!/usr/bin/python3
"""Real IMAP clients against postie-imapup / postie-imapd behind
postie-tlsd, over STARTTLS and implicit TLS, each verifying the instance's
certificate for the name imap.test (a private /etc/hosts says it is
127.0.0.1): curl (LIST, SEARCH, FETCH of a section, APPEND with
--upload-file), fetchmail over STARTTLS fetching and deleting, mutt on a
terminal of its own (flag, save into a new folder, expunge, read), s-nail
in batch mode (headers, print, flag, copy, delete). What each did is
checked in the Maildir (file names, folders) as well as in what the client
printed. No client may hang: each has a deadline."""
import os, re, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from poptest import deliver
from imaptest import *

NAMES = ["imaplib-folders", "curl-list", "curl-search", "curl-fetch-section", "curl-append", "fetchmail-starttls",
         "mutt-imaps", "mutt-starttls", "s-nail-imaps", "s-nail-starttls"]
private_hosts(NAMES)

S = ImapSetup("imapd-clients")


def msg(i, who="bob"):
    return (b"From: Bob <bob@example.org>\nTo: %s@example.org\nSubject: message %d\n"
            b"Date: Mon, 1 Jan 2024 00:00:%02d +0000\nMessage-ID: <m%d.%s@example.org>\n\nhello %d\nsecond line\n"
            % (who.encode(), i, i, i, who.encode(), i))


def curl(port, path, *extra, user="alice:alice pw", starttls=False):
    url = "%s://%s:%d/%s" % ("imap" if starttls else "imaps", NAME, port, path)
    p = subprocess.run(["curl", "-sS", "--max-time", "30", "--cacert", S.ca, "-u", user, url]
                       + (["--ssl-reqd"] if starttls else []) + list(extra),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return p.returncode, p.stdout, p.stderr


try:
    # curl: every operation over imaps:// and over imap:// with STARTTLS.
    md = S.user("alice", "alice pw")
    for i in (1, 2, 3):
        deliver(md, msg(i, "alice"), UID, GID)
    for starttls, port in ((False, S.imp.port), (True, S.req.port)):
        how = "starttls" if starttls else "imaps"
        rc, out, err = curl(port, "", starttls=starttls)
        check("curl-list", rc == 0 and re.search(rb'\* LIST \([^)]*\) "." "?INBOX"?\r\n', out)
              and re.search(rb'\\Sent\) "." "?Sent"?', out), (how, rc, out, err))
        rc, out, err = curl(port, "INBOX?SUBJECT%20%22message%202%22", starttls=starttls)
        check("curl-search", rc == 0 and out.strip() == b"* SEARCH 2", (how, rc, out, err))
        rc, out, err = curl(port, "INBOX/;MAILINDEX=3/;SECTION=HEADER.FIELDS%20(SUBJECT)", starttls=starttls)
        check("curl-fetch-section", rc == 0 and out.strip() == b"Subject: message 3", (how, rc, out, err))
        up = os.path.join(S.pub, "upload.eml")
        with open(up, "wb") as f:
            f.write(b"From: alice@example.org\r\nSubject: draft by curl %s\r\n\r\nbody\r\n" % how.encode())
        rc, out, err = curl(port, "Drafts", "--upload-file", up, starttls=starttls)
        flags = maildir_flags(md, ".Drafts")
        check("curl-append", rc == 0 and ("draft by curl %s" % how) in flags, (how, rc, out, err, flags))

    # imaplib, the folder commands and the rest of RFC 3501 a client
    # sends (LOGIN over implicit TLS): CREATE, RENAME, SUBSCRIBE, LSUB,
    # DELETE, NAMESPACE, ID, ENABLE, EXAMINE (reading does not set \Seen),
    # a partial FETCH, CHECK, UNSELECT, CLOSE (which expunges).
    c = S.imaps("alice", "alice pw")
    r = {}
    r["create"] = c.create("Projects.2024")
    r["rename"] = c.rename("Projects.2024", "Projects.2025")
    r["subscribe"] = c.subscribe("Projects.2025")
    r["lsub"] = c.lsub('""', "Projects*")
    r["list"] = c.list('""', "Projects*")
    r["delete"] = c.delete("Projects.2025")
    r["list-after"] = c.list('""', "Projects.*")
    r["namespace"] = c.namespace()
    r["id"] = c.xatom("ID", '("name" "postie-test")')
    r["id-data"] = c.untagged_responses.pop("ID", None)
    r["enable"] = c._simple_command("ENABLE", "UTF8=ACCEPT")
    r["examine"] = c.select("INBOX", readonly=True)
    r["partial"] = c.fetch("1", "(BODY[]<0.10>)")
    r["flags-after-examine"] = c.fetch("1", "(FLAGS)")
    r["unselect"] = c.unselect()
    r["select"] = c.select("INBOX")
    r["check"] = c.check()
    r["store"] = c.store("2", "+FLAGS", "(\\Deleted)")
    r["close"] = c.close()
    r["after-close"] = c.status("INBOX", "(MESSAGES)")
    c.logout()
    ok = all(v[0] == "OK" for k, v in r.items() if k not in ("id-data", "list-after"))
    check("imaplib-folders", ok and r["lsub"][1] == [b'() "." "Projects.2025"'] and r["list"][1] == [b'(\\HasNoChildren) "." "Projects.2025"']
          and r["list-after"][1] in ([None], [])
          and r["namespace"][1] == [b'(("" ".")) NIL NIL'] and r["id-data"] and r["id-data"][0].startswith(b"(")
          and r["partial"][1][0][1] == b"From: Bob " and b"\\Seen" not in r["flags-after-examine"][1][0]
          and b"MESSAGES 2" in r["after-close"][1][0], r)

    # fetchmail over IMAP with STARTTLS (required: --sslproto tls1.2+ and
    # the certificate checked), fetching and deleting: every message
    # reaches the MDA once, and the mailbox is empty afterwards.
    md = S.user("bob", "bob pw")
    for i in (1, 2, 3, 4):
        deliver(md, msg(i), UID, GID)
    fm = os.path.join(S.pub, "fetchmail")
    os.makedirs(fm)
    out = os.path.join(fm, "out")
    rcf = os.path.join(fm, "rc")
    with open(rcf, "w") as f:
        f.write('poll %s service %d protocol imap auth password user "bob" password "bob pw" '
                'mda "/bin/sh -c \'cat >> %s\'"\n' % (NAME, S.req.port, out))
    os.chmod(rcf, 0o600)
    p = subprocess.run(["fetchmail", "-f", rcf, "--nosyslog", "-a", "-v", "--sslproto", "tls1.2+", "--sslcertck",
                        "--sslcertfile", S.ca, "--idfile", os.path.join(fm, "ids")],
                       env=dict(os.environ, HOME=fm, FETCHMAILHOME=fm), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=90)
    got = open(out, "rb").read() if os.path.exists(out) else b""
    text = p.stdout.decode(errors="replace")
    check("fetchmail-starttls", p.returncode == 0 and "STARTTLS" in text
          and sorted(re.findall(rb"Subject: (message \d)", got)) == [b"message %d" % i for i in (1, 2, 3, 4)]
          and maildir_names(md) == [], (p.returncode, text[-1500:], got[-300:], maildir_names(md)))

    # mutt on a terminal: over imaps, flag the first message, save the
    # second into a new folder Archive (which deletes it here), sync
    # (expunge), quit; then over STARTTLS, read the last one (which marks
    # it seen).
    md = S.user("carol", "carol pw")
    for i in (1, 2, 3):
        deliver(md, msg(i, "carol"), UID, GID)
    # mutt shows them in mailbox order (UIDs): which subject is where.
    c = S.imaps("carol", "carol pw")
    c.select("INBOX", readonly=True)
    typ, d = c.fetch("1:3", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    order = [x[1].strip().decode()[len("Subject: "):] for x in d if isinstance(x, tuple)]
    c.logout()
    mh = os.path.join(S.pub, "mutt")
    os.makedirs(mh)
    rc = os.path.join(mh, "muttrc")
    with open(rc, "w") as f:
        f.write('set ssl_ca_certificates_file="%s"\nset certificate_file="%s/certs"\n'
                'set ssl_verify_host=yes\nset ssl_force_tls=yes\nset ssl_starttls=yes\n'
                'set imap_user="carol"\nset imap_pass="carol pw"\nset header_cache=""\nset message_cachedir=""\n'
                'set sort=mailbox-order\nset resolve=no\nset confirmcreate=no\nset confirmappend=no\n'
                'set delete=yes\nset quit=yes\nset move=no\nset mark_old=no\nset wait_key=no\n'
                'set pager_stop=yes\nset imap_passive=yes\nset mail_check=60\nset timeout=600\n'
                'set record=""\nset postponed=""\nset mbox=""\nset folder="imaps://%s:%d/"\nset spoolfile="+INBOX"\n'
                'set tmpdir="%s"\n' % (S.ca, mh, NAME, S.imp.port, mh))
    env = dict(os.environ, HOME=mh, TERM="vt100", MAIL="", MAILCHECK="0")
    st, out = run_tty(["mutt", "-n", "-F", rc, "-f", "imaps://%s:%d/INBOX" % (NAME, S.imp.port), "-e",
                       'push "<flag-message><next-entry><save-message>=Archive<enter><sync-mailbox><quit>"'], env, timeout=60)
    flags, arch = maildir_flags(md), maildir_flags(md, ".Archive")
    check("mutt-imaps", st == 0 and flags.get(order[0]) == "F" and order[1] not in flags
          and list(arch) == [order[1]], (st, order, flags, arch, out[-600:]))
    st, out = run_tty(["mutt", "-n", "-F", rc, "-f", "imap://%s:%d/INBOX" % (NAME, S.req.port), "-e",
                       'push "<next-entry><display-message><exit><quit>"'], env, timeout=60)
    flags = maildir_flags(md)
    check("mutt-starttls", st == 0 and flags.get(order[2]) == "S" and flags.get(order[0]) == "F",
          (st, order, flags, out[-600:]))

    # s-nail in batch mode: list, print message 1, flag 2, copy 3 into a
    # new folder, delete 4, quit (which expunges).
    sh = os.path.join(S.pub, "s-nail")
    os.makedirs(sh)
    for how, who, port, opts in (("imaps", "dave", S.imp.port, []), ("starttls", "erin", S.req.port, ["-S", "imap-use-starttls"])):
        md = S.user(who, who + " pw")
        for i in (1, 2, 3, 4):
            deliver(md, msg(i, who), UID, GID)
        url = "%s://%s@%s:%d" % ("imaps" if how == "imaps" else "imap", who, NAME, port)
        cmds = b"headers\nprint 1\nflag 2\ncopy 3 +Copied\ndelete 4\nquit\n"
        p = subprocess.run(["s-nail", "-#", "-n", "-S", "v15-compat", "-S", "tls-ca-file=" + S.ca, "-S", "tls-ca-no-defaults",
                            "-S", "tls-verify=strict", "-S", "password=%s pw" % who, "-S", "folder=" + url,
                            "-S", "MBOX=/dev/null", "-S", "keep", "-S", "hold"] + opts + ["-f", url + "/INBOX"],
                           input=cmds, env=dict(os.environ, HOME=sh), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
        flags, copied = maildir_flags(md), maildir_flags(md, ".Copied")
        check("s-nail-" + how, p.returncode == 0 and b"hello 1" in p.stdout and "F" in flags.get("message 2", "")
              and "message 3" in copied and "message 4" not in flags and "message 1" in flags,
              (p.returncode, p.stdout.decode(errors="replace")[-1500:], flags, copied))
finally:
    S.finish()
done()
