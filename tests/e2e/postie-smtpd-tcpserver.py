#!/usr/bin/python3
"""postie-smtpd under ucspi-tcp's tcpserver (no DNS: -R -H -l 0): the
UCSPI contract. The client's address comes from TCPREMOTEIP, and a
RELAYCLIENT set by tcpserver's access rules (tcprules) permits relaying."""
import os, shutil, signal, smtplib, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from smtpdtest import *

if not shutil.which("tcpserver") or not shutil.which("tcprules"):
    skip("tcpserver", "ucspi-tcp is not installed")
    done()

home = smtpd_instance("smtpd-tcpserver")
log = open(os.path.join(home, "tcpserver.log"), "wb")


def start(extra):
    port = free_port()
    p = subprocess.Popen(["tcpserver", "-R", "-H", "-l", "0", "-c", "10"] + extra + ["127.0.0.1", str(port), prog("postie-smtpd")],
                         env=env_for(home), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
    ok = wait_port(port)
    return p, port, ok


p, port, ok = start([])
check("tcpserver-listens", ok)
s = smtplib.SMTP("127.0.0.1", port, local_hostname="ucspi.example", timeout=20)
r = s.sendmail("a@ucspi.example", ["b@local.example"], b"Subject: via tcpserver\r\n\r\nhello\r\n")
check("tcpserver-accepted", r == {})
try:
    s.sendmail("a@ucspi.example", ["c@remote.example"], b"x\r\n")
    check("tcpserver-no-relay", False, "relayed")
except smtplib.SMTPRecipientsRefused as e:
    check("tcpserver-no-relay", list(e.recipients.values())[0][0] == 554, repr(e.recipients))
s.quit()
q = queued(home)
check("tcpserver-queued", len(q) == 1 and q[0][3] == ["b@local.example"], repr(q))
check("tcpserver-received-ip", q and q[0][1].startswith(b"Received: from ucspi.example ([127.0.0.1])\n"), repr(q[0][1][:80]) if q else "")
rc = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % port, "--helo", "swaks.example", "--pipeline",
                     "--from", "s@swaks.example", "--to", "d@local.example,e@local.example"],
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
check("tcpserver-swaks", rc.returncode == 0 and len(queued(home)) == 2, rc.stdout.decode()[-300:].replace("\n", " | "))
p.send_signal(signal.SIGTERM)
p.wait(10)
clear_queue(home)

# tcprules: 127.0.0.1 gets RELAYCLIENT, as postie-tcpaccess's rules would set it.
rules = os.path.join(home, "rules")
subprocess.run(["tcprules", rules + ".cdb", rules + ".tmp"], input=b'127.0.0.1:allow,RELAYCLIENT=""\n:deny\n', check=True)
p, port, ok = start(["-x", rules + ".cdb"])
s = smtplib.SMTP("127.0.0.1", port, local_hostname="ucspi.example", timeout=20)
r = s.sendmail("a@ucspi.example", ["c@remote.example"], b"Subject: relayed\r\n\r\nx\r\n")
s.quit()
q = queued(home)
check("tcpserver-relayclient", r == {} and len(q) == 1 and q[0][3] == ["c@remote.example"], repr(q))
p.send_signal(signal.SIGTERM)
p.wait(10)

# postie's own chain: postie-tcpserver -> postie-tcpaccess -> postie-smtpd,
# with a rule that sets RELAYCLIENT (one newline: set and empty) and one
# that sets SMTPAUTH=no.
chain = os.path.exists(prog("postie-tcpserver")) and os.path.exists(prog("postie-tcpaccess"))
if chain:
    clear_queue(home)
    rd = os.path.join(home, "rules")
    os.makedirs(os.path.join(rd, "ip4", "127.0.0.1_32", "env"))
    open(os.path.join(rd, "ip4", "127.0.0.1_32", "allow"), "w").close()
    with open(os.path.join(rd, "ip4", "127.0.0.1_32", "env", "RELAYCLIENT"), "w") as f:
        f.write("\n")
    with open(os.path.join(rd, "ip4", "127.0.0.1_32", "env", "SMTPAUTH"), "w") as f:
        f.write("no\n")
    p = subprocess.Popen([prog("postie-tcpserver"), "-1", "127.0.0.1", "0", prog("postie-tcpaccess"), "-v", "0", "-i", rd,
                          prog("postie-smtpd"), CHECKPASSWORD], env=env_for(home), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
    port = int(p.stdout.readline())
    s = smtplib.SMTP("127.0.0.1", port, local_hostname="chain.example", timeout=20)
    s.ehlo()
    check("postie-chain-smtpauth-no", "auth" not in s.esmtp_features, repr(s.esmtp_features))
    r = s.sendmail("a@chain.example", ["far@remote.example"], b"Subject: chain\r\n\r\nx\r\n")
    s.quit()
    q = queued(home)
    check("postie-chain-relayclient", r == {} and len(q) == 1 and q[0][1].startswith(b"Received: from chain.example ([127.0.0.1])\n"), repr(q))
    p.send_signal(signal.SIGTERM)
    p.wait(10)
else:
    skip("postie-chain", "postie-tcpserver or postie-tcpaccess not built")
log.close()
text = open(os.path.join(home, "tcpserver.log"), "rb").read().decode("utf-8", "replace")
sess = [l for l in text.splitlines() if " session ip=127.0.0.1 " in l]
# wait_port's probes connect and close at once: if our greeting reached
# the probe before its close, the close is a reset (end=readerror).
check("tcpserver-session-logs", len([l for l in sess if l.endswith(" end=quit")]) == (4 if chain else 3)
      and all(l.endswith((" end=quit", " end=eof")) or (" helo=- " in l and l.endswith(" end=readerror")) for l in sess), text)
done()
