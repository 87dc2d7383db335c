#!/usr/bin/python3
"""One mailbox read by POP3 and IMAP at once while mail arrives over SMTP,
on a whole instance made by postie-setup and run by s6-svscan (smtpd,
the queue, postie-local, pop3d and imapd with STARTTLS, the instance's
certificate verified): an IDLE session sees a message sent through SMTP;
while deliveries go on, POP3 and IMAP sessions come and go, and every
IMAP session sees one Message-ID per UID, the same as the others; at the
end POP3 and IMAP count the same messages with the same Message-IDs; a
message read with POP3 RETR is \\Seen in IMAP; one deleted with POP3 DELE
is EXPUNGEd in an IMAP session that had it selected; one deleted over
IMAP is gone for POP3; a message delivered afterwards gets a UID above
every UID given before (none reused)."""
import imaplib, os, re, smtplib, sys, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postietest import *
from instance import *

CHECKS = ["idle-smtp", "concurrent-sessions", "uid-mapping-stable", "counts-agree", "message-ids-agree",
          "pop3-retr-seen-in-imap", "pop3-dele-expunge-in-imap", "imap-expunge-gone-for-pop3", "no-uid-reused"]
need = missing(SYSTEM_PROGS + ["postie-imapup", "postie-imapd", "postie-tlsd"])
if need:
    for c in CHECKS:
        skip(c, "missing programs: " + " ".join(need))
    done()

ME = "a.example"
base = scratch("imapd-pop3")
home = os.path.join(base, "a")
ports = (free_port(), free_port(), free_port())
imapport = free_port()
r = setup(home, ports, me=ME, extra=["-I", str(imapport)])
check("setup", r.returncode == 0, r.stderr.decode())
add_user(home, "alice", "alice-pw")
write(os.path.join(home, "control", "imapidlepoll"), "1\n")
K = 20


def send(i):
    with smtplib.SMTP("127.0.0.1", ports[0], timeout=30) as s:
        s.sendmail("bob@example.org", ["alice@" + ME],
                   "From: bob@example.org\r\nSubject: m%d\r\nMessage-ID: <m%d@example.org>\r\n\r\nhello %d\r\n" % (i, i, i))


def imap():
    c = imaplib.IMAP4("127.0.0.1", imapport, timeout=30)
    opened.append(c)
    c.host = ME
    c.starttls(ssl_context=tls_context(home))
    c.login("alice", "alice-pw")
    return c


def pop3():
    p = pop3_tls(home, ports[2], ME)
    opened.append(p)
    p.user("alice")
    p.pass_("alice-pw")
    return p


def imap_map(c):
    """{UID: (Message-ID, flags)} of the selected folder."""
    typ, d = c.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    out = {}
    for x in d:
        if isinstance(x, tuple):
            u = int(re.search(rb"UID (\d+)", x[0]).group(1))
            fl = re.search(rb"FLAGS \(([^)]*)\)", x[0])
            out[u] = (x[1].strip().split(b":", 1)[1].strip(), fl.group(1) if fl else None)
    return out


def pop3_ids(p):
    """[(message number, UIDL, Message-ID)] of a POP3 session."""
    out = []
    for line in p.uidl()[1]:
        n, u = line.split()
        hdr = p.top(int(n), 0)[1]
        mid = [l.split(b":", 1)[1].strip() for l in hdr if l.lower().startswith(b"message-id:")]
        out.append((int(n), u, mid[0] if mid else None))
    return out


sv = Supervised(home)
errors = []
opened = []  # every client connection, closed at the end whatever happened
try:
    check("supervised-ready", sv.wait_ready(("smtpd", "pop3d", "send", "imapd")), "services not ready")

    # IDLE: a message sent through SMTP shows up.
    c = imap()
    c.select("INBOX")
    c.send(b"i1 IDLE\r\n")
    l = c.readline()
    send(0)
    c.sock.settimeout(60)
    l2 = c.readline()
    c.send(b"DONE\r\n")
    l3 = c.readline()
    check("idle-smtp", l.startswith(b"+") and l2 == b"* 1 EXISTS\r\n" and l3.startswith(b"i1 OK"), (l, l2, l3))
    c.logout()

    # Deliveries, POP3 and IMAP sessions at once.
    seen = {}
    def deliveries():
        try:
            for i in range(1, K + 1):
                send(i)
                time.sleep(0.05)
        except Exception as e:
            errors.append(("smtp", repr(e)))
    t = threading.Thread(target=deliveries)
    t.start()
    rounds = 0
    while t.is_alive() or rounds < 3:
        rounds += 1
        try:
            c = imap()
            c.select("INBOX")
            for u, (mid, _) in imap_map(c).items():
                if seen.setdefault(u, mid) != mid:
                    errors.append(("uid", u, seen[u], mid))
            c.logout()
            p = pop3()
            pop3_ids(p)
            p.quit()
        except Exception as e:
            errors.append(("session", repr(e)))
    t.join()
    check("concurrent-sessions", not [e for e in errors if e[0] != "uid"] and rounds >= 3, (rounds, errors[:5]))
    check("uid-mapping-stable", not [e for e in errors if e[0] == "uid"], errors[:5])
    wait_for(lambda: len(maildir_messages(home, "alice")) == K + 1, 60)

    # The end state: same count, same messages.
    c = imap()
    typ, d = c.select("INBOX")
    m = imap_map(c)
    for u, (mid, _) in m.items():
        if seen.setdefault(u, mid) != mid:
            errors.append(("uid", u, seen[u], mid))
    p = pop3()
    ids = pop3_ids(p)
    check("counts-agree", int(d[0]) == len(m) == len(ids) == K + 1, (d, len(m), len(ids)))
    check("message-ids-agree", sorted(x[2] for x in ids) == sorted(v[0] for v in m.values())
          and len(set(v[0] for v in m.values())) == K + 1, (ids, m))

    # POP3 RETR marks seen; POP3 DELE, then IMAP sees the EXPUNGE.
    retr = next(x for x in ids if x[2] == b"<m3@example.org>")
    dele = next(x for x in ids if x[2] == b"<m5@example.org>")
    p.retr(retr[0])
    p.dele(dele[0])
    p.quit()
    c.noop()
    exp = c.untagged_responses.pop("EXPUNGE", [])
    m2 = imap_map(c)
    by_mid = {v[0]: (u, v[1]) for u, v in m2.items()}
    check("pop3-retr-seen-in-imap", b"\\Seen" in by_mid.get(b"<m3@example.org>", (0, b""))[1], m2)
    check("pop3-dele-expunge-in-imap", len(exp) == 1 and b"<m5@example.org>" not in by_mid and len(m2) == K, (exp, m2))

    # An IMAP expunge, then POP3 no longer lists the message.
    typ, d = c.search(None, "HEADER", "Message-ID", "<m7@example.org>")
    c.store(d[0].decode(), "+FLAGS", "\\Deleted")
    c.expunge()
    p = pop3()
    ids = pop3_ids(p)
    p.quit()
    check("imap-expunge-gone-for-pop3", len(ids) == K - 1 and b"<m7@example.org>" not in [x[2] for x in ids], ids)

    # A new message: a UID above all given before, none reused.
    c.logout()
    send(K + 1)
    wait_for(lambda: len(maildir_messages(home, "alice")) == K, 60)
    c = imap()
    c.select("INBOX")
    m3 = imap_map(c)
    c.logout()
    new = [u for u, v in m3.items() if v[0] == b"<m%d@example.org>" % (K + 1)]
    check("no-uid-reused", len(new) == 1 and new[0] > max(seen) and all(seen[u] == v[0] for u, v in m3.items() if u in seen),
          (new, max(seen), m3))
finally:
    for x in opened:
        try:
            x.sock.close()
        except Exception:
            pass
    ok = sv.stop()
    check("clean-stop", ok and not supervisors_left(home), supervisors_left(home))
done()
