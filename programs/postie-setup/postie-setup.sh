#!/bin/sh
# postie-setup: create a postie instance, or complete an existing one.
# Interface, options, what it creates and with which owners and modes:
# doc/postie-setup.md.
#
# It only ever adds what is missing: a file, directory, fifo, user or group
# that exists is left exactly as it is (the admin may have changed it), so
# running it again on a complete instance changes nothing. Every addition is
# reported on stdout as "add WHAT"; with -n nothing is changed and the lines
# read "would add WHAT".
#
# The build (Makefile) fills in the four lines below; make install rewrites
# BINDIR and TEMPLATES for the installed copy.
HOMEDIR='@HOMEDIR@'
BINDIR='@BINDIR@'
TEMPLATES='@TEMPLATES@'
MEMLIMIT='@MEMLIMIT@'

PROG=postie-setup
USAGE="postie-setup [ -n ] [ -u | -s ] [ -N ] [ -d dir ] [ -i ip ] [ -p smtpport,submissionport,pop3port[,submissionsport,pop3sport] ] [ -I imapport[,imapsport] ] [ -m hostname ] [ -a postmaster-address ] [ -S spooldir ] [ -L logdir ]"

usage () { echo "$PROG: usage: $USAGE" >&2 ; exit 100 ; }
die () { code=$1 ; shift ; echo "$PROG: fatal: $*" >&2 ; exit "$code" ; }
warn () { echo "$PROG: warning: $*" >&2 ; }

umask 022
export LC_ALL=C

dry=0 mode= smtptls=1 dir= ip= ports= imapports= me= spool= logdir= pmaddr=
given=
while getopts "nuNsd:i:p:I:m:a:S:L:" opt ; do
  case $opt in
    n) dry=1 ;;
    u) mode=unpriv ;;
    s) mode=system ;;
    N) smtptls=0 ;;
    d) dir=$OPTARG ;;
    i) ip=$OPTARG given="$given i" ;;
    p) ports=$OPTARG given="$given p" ;;
    m) me=$OPTARG given="$given m" ;;
    I) imapports=$OPTARG given="$given I" ;;
    a) pmaddr=$OPTARG ;;
    S) spool=$OPTARG ;;
    L) logdir=$OPTARG ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# = 0 ] || usage

uid=$(id -u)
if [ -z "$mode" ] ; then
  if [ "$uid" = 0 ] ; then mode=system ; else mode=unpriv ; fi
fi
[ "$mode" = system ] && [ "$uid" != 0 ] && die 100 "system mode (-s) needs root; use -u for an unprivileged instance"

# Defaults that depend on the mode.
if [ "$mode" = system ] ; then
  : "${dir:=$HOMEDIR}" "${ip:=0.0.0.0}" "${ports:=25,587,110,465,995}" "${imapports:=143,993}"
  if [ "$dir" = "$HOMEDIR" ] ; then
    : "${spool:=/var/spool/postie}" "${logdir:=/var/log/postie}"
  fi
else
  [ -n "$dir" ] || die 100 "unprivileged mode needs the instance directory: -d dir"
  : "${ip:=127.0.0.1}" "${ports:=2525,2587,1110,2465,2995}" "${imapports:=2143,2993}"
fi

# Check what the command line gives before touching anything.
case $dir in /*) ;; *) dir=$(pwd)/$dir ;; esac
case $dir in *[!A-Za-z0-9/._+-]*) die 100 "the instance directory may only hold A-Z a-z 0-9 / . _ + -: $dir" ;; esac
for d in "$spool" "$logdir" ; do
  case $d in "") ;; /*) ;; *) die 100 "$d: -S and -L need absolute paths" ;; esac
  case $d in *[!A-Za-z0-9/._+-]*) die 100 "-S and -L may only hold A-Z a-z 0-9 / . _ + -: $d" ;; esac
done
case $ip in
  *[!0-9a-fA-F.:]*|"") die 100 "invalid ip: $ip (give a numeric IPv4 or IPv6 address)" ;;
esac
# Three ports (smtp, submission, pop3: no implicit-TLS services) or five
# (then submissions and pop3s too).
IFS=, read -r smtpport subport pop3port subsport pop3sport rest <<EOF
$ports
EOF
[ -z "$rest" ] || usage
case $subsport,$pop3sport in
  ,) plist="$smtpport $subport $pop3port" ;;
  *,|,*) die 100 "invalid port list: $ports (three or five numbers: smtp,submission,pop3[,submissions,pop3s])" ;;
  *) plist="$smtpport $subport $pop3port $subsport $pop3sport" ;;
esac
for p in "$smtpport" "$subport" "$pop3port" $plist ; do
  case $p in ""|*[!0-9]*) die 100 "invalid port list: $ports (three or five numbers: smtp,submission,pop3[,submissions,pop3s])" ;; esac
  [ "$p" -ge 1 ] && [ "$p" -le 65535 ] || die 100 "invalid port: $p"
done
# IMAP: STARTTLS on one port, and implicit TLS on the second if given.
IFS=, read -r imapport imapsport rest <<EOF
$imapports
EOF
[ -z "$rest" ] || die 100 "invalid IMAP port list: $imapports (one or two numbers: imap[,imaps])"
for p in "$imapport" $imapsport ; do
  case $p in ""|*[!0-9]*) die 100 "invalid IMAP port list: $imapports (one or two numbers: imap[,imaps])" ;; esac
  [ "$p" -ge 1 ] && [ "$p" -le 65535 ] || die 100 "invalid port: $p"
done
# The host name from the kernel (uname -n), never from the DNS.
if [ -z "$me" ] ; then
  me=$(uname -n)
  case $me in ""|*[!A-Za-z0-9.-]*|.*|*.)
    warn "the host name \"$me\" is not a mail domain: using localhost (give one with -m)"
    me=localhost ;;
  esac
fi
case $me in ""|*[!A-Za-z0-9.-]*|.*|*.|*..*) die 100 "invalid host name: $me (give one with -m)" ;; esac
me=$(echo "$me" | tr A-Z a-z)
# -a: where mail to postmaster, root and abuse goes (one address, no
# blanks, no comma: it becomes the target of control/aliases lines).
case $pmaddr in
  "") ;;
  *[!A-Za-z0-9.@_+=-]*|@*|*@|*@*@*) die 100 "invalid postmaster address: $pmaddr (give one address, like admin@example.org)" ;;
esac
# Without -a the postmaster mailbox belongs to the caller in unprivileged
# mode: never to root (postie-lspawn refuses to deliver as root).
if [ "$mode" = unpriv ] && [ "$uid" = 0 ] && [ -z "$pmaddr" ] && [ ! -e "$dir/control/aliases" ] ; then
  die 100 "an unprivileged instance made by root would have a postmaster mailbox owned by root: give an address with -a, or run as the instance's user"
fi

[ -d "$TEMPLATES" ] || die 111 "templates not found in $TEMPLATES (a broken installation?)"
for t in s6-envdir s6-log s6-accessrules-cdb-from-fs execlineb ; do
  command -v $t >/dev/null 2>&1 || die 111 "$t not found in PATH: install s6 and execline"
done
EXECLINEB=$(command -v execlineb)
# The run scripts set PATH from env/PATH: it must reach execline's commands,
# which Debian keeps in /usr/lib/execline/bin (its execlineb adds that to
# PATH, which env/PATH then replaces).
if command -v fdmove >/dev/null 2>&1 ; then
  xdir=$(dirname "$(command -v fdmove)")
elif [ -x /usr/lib/execline/bin/fdmove ] ; then
  xdir=/usr/lib/execline/bin
else
  die 111 "execline's fdmove not found: install execline"
fi
RUNPATH=$BINDIR
for d in /usr/local/bin /usr/bin /bin "$xdir" ; do
  case :$RUNPATH: in *:$d:*) ;; *) RUNPATH=$RUNPATH:$d ;; esac
done

# The system mode's accounts (doc/postie-setup.md, "Users and groups").
U_SMTPD=postied U_QUEUE=postieq U_SEND=posties U_REMOTE=postier U_LOG=postiel U_MAIL=postiev U_TLS=postiet
G_QUEUE=postieq G_USERS=postieu G_PW=postiep

# ---------------------------------------------------------------------------
# The primitives. Each adds one thing if it is missing, and says so.

# say runs in subshells too (put is the end of pipelines): it counts in a
# file.
tally=$(mktemp "${TMPDIR:-/tmp}/postie-setup.XXXXXX") || die 111 "unable to create a temporary file"
trap 'rm -f "$tally"' EXIT
trap 'exit 111' HUP INT TERM
say () {
  echo >>"$tally"
  if [ $dry = 1 ] ; then echo "would add $*" ; else echo "add $*" ; fi
}

# own PATH USER:GROUP MODE: set owner and mode of something just created.
own () {
  if [ "$mode" = system ] && [ -n "$2" ] ; then chown -h "$2" "$1" || die 111 "unable to chown $1" ; fi
  [ -L "$1" ] || chmod "$3" "$1" || die 111 "unable to chmod $1"
}

# mkd PATH MODE [USER:GROUP]
mkd () {
  [ -d "$1" ] && return 0
  [ -e "$1" ] || [ -L "$1" ] && die 111 "$1 exists and is not a directory"
  say "directory $1"
  [ $dry = 1 ] && return 0
  mkdir "$1" || die 111 "unable to create $1"
  own "$1" "$3" "$2"
}

# put PATH MODE [USER:GROUP] < CONTENT: a file, written whole or not at all.
put () {
  if [ -e "$1" ] || [ -L "$1" ] ; then cat >/dev/null ; return 0 ; fi
  say "file $1"
  if [ $dry = 1 ] ; then cat >/dev/null ; return 0 ; fi
  cat >"$1.setup-tmp" || { rm -f "$1.setup-tmp" ; die 111 "unable to write $1" ; }
  own "$1.setup-tmp" "$3" "$2"
  mv -f "$1.setup-tmp" "$1" || die 111 "unable to rename $1.setup-tmp to $1"
}

# fifo PATH MODE [USER:GROUP]
fifo () {
  if [ -p "$1" ] ; then return 0 ; fi
  [ -e "$1" ] && die 111 "$1 exists and is not a named pipe"
  say "named pipe $1"
  [ $dry = 1 ] && return 0
  mkfifo "$1" || die 111 "unable to create $1"
  own "$1" "$3" "$2"
}

# link PATH TARGET: a symbolic link
link () {
  if [ -L "$1" ] || [ -e "$1" ] ; then return 0 ; fi
  say "symbolic link $1 -> $2"
  [ $dry = 1 ] && return 0
  ln -s "$2" "$1" || die 111 "unable to create $1"
}

# tpl NAME: a template from $TEMPLATES, with the instance's values filled in.
# Lines starting with @system@ are kept only in system mode, lines starting
# with @unpriv@ only in unprivileged mode; then (after that prefix) lines
# starting with @tls@ only when the service offers TLS, lines starting with
# @notls@ only when it does not (-N: the smtpd service).
tpl () {
  if [ "$mode" = system ] ; then keep=system drop=unpriv ; else keep=unpriv drop=system ; fi
  if [ "$1" = service/smtpd/run ] && [ $smtptls = 0 ] ; then tkeep=notls tdrop=tls ; else tkeep=tls tdrop=notls ; fi
  sed -e "/^@$drop@/d" -e "s/^@$keep@//" -e "/^@$tdrop@/d" -e "s/^@$tkeep@//" \
      -e "s|@EXECLINEB@|$EXECLINEB|g" \
      -e "s|@HOME@|$dir|g" -e "s|@PROGDIR@|$BINDIR|g" \
      -e "s|@LOGDIR@|$logs|g" \
      -e "s|@ME@|$me|g" \
      -e "s|@U_SMTPD@|$U_SMTPD|g" -e "s|@U_SEND@|$U_SEND|g" -e "s|@U_REMOTE@|$U_REMOTE|g" \
      -e "s|@U_LOG@|$U_LOG|g" -e "s|@U_MAIL@|$U_MAIL|g" -e "s|@U_QUEUE@|$U_QUEUE|g" \
      -e "s|@U_TLS@|$U_TLS|g" \
      -e "s|@G_QUEUE@|$G_QUEUE|g" \
      "$TEMPLATES/$1" || die 111 "unable to read template $TEMPLATES/$1"
}

# group NAME, user NAME GROUP HOME [SUPPLEMENTARY,...]: system accounts.
group () {
  getent group "$1" >/dev/null 2>&1 && return 0
  say "group $1"
  [ $dry = 1 ] && return 0
  groupadd --system "$1" || die 111 "unable to add group $1"
}
user () {
  if getent passwd "$1" >/dev/null 2>&1 ; then
    for g in $(echo "$4" | tr , ' ') ; do
      id -nG "$1" | tr ' ' '\n' | grep -qx "$g" && continue
      say "user $1 to group $g"
      [ $dry = 1 ] && continue
      usermod -a -G "$g" "$1" || die 111 "unable to add user $1 to group $g"
    done
    return 0
  fi
  say "user $1"
  [ $dry = 1 ] && return 0
  nologin=/usr/sbin/nologin ; [ -x $nologin ] || nologin=/bin/false
  useradd --system --no-create-home --home-dir "$3" --shell $nologin -g "$2" ${4:+-G "$4"} "$1" \
    || die 111 "unable to add user $1"
}

# kept FILE VALUE OPTION: FILE, which existed before this run, was kept as
# it is; say so when its first line differs from what the option given on
# the command line asks for (an existing file is never changed).
existed=
remember () { [ -e "$1" ] && existed="$existed $1" ; }
kept () {
  case " $given " in *" ${3#-} "*) ;; *) return 0 ;; esac
  case " $existed " in *" $1 "*) ;; *) return 0 ;; esac
  v=$(head -n 1 "$1" 2>/dev/null)
  [ "$v" = "$2" ] || echo "kept: $1 says $v, which differs from the option $3 $2 (edit the file to change it)"
}
for f in control/me service/smtpd/env/PORT service/submission/env/PORT service/pop3d/env/PORT \
         service/smtpd/env/IP service/submission/env/IP service/pop3d/env/IP \
         service/submissions/env/PORT service/pop3s/env/PORT service/imapd/env/PORT service/imaps/env/PORT ; do
  remember "$dir/$f"
done

# ---------------------------------------------------------------------------
# Accounts (system mode only).

if [ "$mode" = system ] ; then
  command -v useradd >/dev/null 2>&1 || die 111 "useradd not found: system mode needs the passwd package"
  group $G_QUEUE
  group $G_USERS
  # postiep: the right to read users/passwords.cdb. Nobody is in it: only
  # the set-gid postie-checkpassword has it, while it checks a password.
  group $G_PW
  for u in $U_SMTPD $U_SEND $U_REMOTE $U_LOG $U_MAIL $U_TLS ; do group $u ; done
  user $U_QUEUE $G_QUEUE "$dir"
  user $U_SMTPD $U_SMTPD "$dir" $G_USERS
  # postie-send: the queue group to take messages out of todo/, the users
  # group to resolve recipients. postie-remote talks to the network: it is
  # in no group of ours (it reads the messages through queue/mess/'s group,
  # its own).
  user $U_SEND $U_SEND "$dir" $G_QUEUE,$G_USERS
  user $U_REMOTE $U_REMOTE "$dir"
  # An instance made by an older postie-setup had postier in the queue
  # group: say so (nothing that exists is changed).
  if [ $dry = 0 ] && id -nG $U_REMOTE 2>/dev/null | tr ' ' '\n' | grep -qx $G_QUEUE ; then
    warn "user $U_REMOTE is in group $G_QUEUE, so postie-remote could write the queue: gpasswd -d $U_REMOTE $G_QUEUE"
  fi
  user $U_LOG $U_LOG "$dir"
  # postie-tlsd: the only account that can read the private key.
  user $U_TLS $U_TLS "$dir"
  user $U_MAIL $U_MAIL "${spool:-$dir}/mail" $G_USERS
  ROOT=root:root
  O_QUEUE=$U_QUEUE:$G_QUEUE
  O_SEND=$U_SEND:$G_QUEUE
  O_MESS=$U_SEND:$U_REMOTE
  O_USERS=root:$G_USERS
  O_PW=root:$G_PW
  O_LOG=$U_LOG:$U_LOG
  O_MAIL=$U_MAIL:$U_MAIL
  O_TLS=$U_TLS:$U_TLS
  O_REMOTE=$U_REMOTE:$U_REMOTE
  # In a dry run the accounts may not exist yet: chown is not reached.
else
  ROOT= O_QUEUE= O_SEND= O_MESS= O_USERS= O_PW= O_LOG= O_MAIL= O_TLS= O_REMOTE=
fi

# ---------------------------------------------------------------------------
# The instance directory, and where the queue, the logs and the mailboxes
# live (under it, or behind symbolic links to -S and -L).

# mail/: in system mode, users with uids of their own may have their homes
# there: they must be able to enter it, not to list it.
mmode=0750 ; [ "$mode" = system ] && mmode=0711
# queue/: postier (other) must pass through it to queue/mess/.
qtop=0750 ; [ "$mode" = system ] && qtop=0751
parent=$(dirname "$dir")
[ -d "$parent" ] || [ $dry = 1 ] || mkdir -p "$parent" || die 111 "unable to create $parent"
mkd "$dir" 0755 "$ROOT"
if [ -n "$spool" ] ; then
  mkd "$spool" 0755 "$ROOT"
  mkd "$spool/queue" $qtop "$O_SEND"
  link "$dir/queue" "$spool/queue"
  mkd "$spool/mail" $mmode "$O_MAIL"
  link "$dir/mail" "$spool/mail"
else
  mkd "$dir/queue" $qtop "$O_SEND"
  mkd "$dir/mail" $mmode "$O_MAIL"
fi
if [ -n "$logdir" ] ; then
  mkd "$logdir" 0755 "$ROOT"
  link "$dir/log" "$logdir"
else
  mkd "$dir/log" 0755 "$ROOT"
fi
logs=$dir/log

# ---------------------------------------------------------------------------
# control/: every setting the programs read, with its documented default
# (each program's page in doc/ says what the setting means).

mkd "$dir/control" 0755 "$ROOT"
ctl () { echo "$2" | put "$dir/control/$1" 0644 "$ROOT" ; }
ctl me "$me"
printf '%s\n' "$me" localhost | uniq | put "$dir/control/locals" 0644 "$ROOT"
printf '%s\n' "$me" localhost | uniq | put "$dir/control/rcpthosts" 0644 "$ROOT"
ctl databytes 20000000
ctl concurrencylocal 10
ctl concurrencyremote 20
ctl queuelifetime 604800
for c in $(cd "$TEMPLATES/control" 2>/dev/null && ls) ; do
  tpl "control/$c" | put "$dir/control/$c" 0644 "$ROOT"
done
# The credentials of smtproutes' auth= routes (doc/postie-remote.md,
# "AUTH"): postie-remote's uid alone may read them. Empty but for a
# comment, so that the admin fills in a file that already has the right
# owner and mode.
printf '# label:user:password (doc/postie-remote.md, "AUTH"); readable by %s only\n' "${U_REMOTE}" \
  | put "$dir/control/smtpauth" 0600 "$O_REMOTE"
if [ "$mode" = system ] && [ $dry = 0 ] && [ -e "$dir/control/smtpauth" ] \
   && { [ "$(stat -c %a "$dir/control/smtpauth")" != 600 ] || [ "$(stat -c %U "$dir/control/smtpauth")" != "$U_REMOTE" ] ; } ; then
  warn "$dir/control/smtpauth holds passwords and is mode $(stat -c %a "$dir/control/smtpauth"), owner $(stat -c %U "$dir/control/smtpauth"): chown $U_REMOTE $dir/control/smtpauth && chmod 0600 $dir/control/smtpauth"
fi

# ---------------------------------------------------------------------------
# queue/ (doc/queue.md, "Who may do what"). System mode: postie-queue
# (set-uid and set-gid postieq) writes tmp/ and todo/B/; postie-send
# (posties, with the group postieq) takes messages out of todo/B/ into
# mess/B/ and owns the rest; postie-rspawn (postier, in no queue group) may
# only read mess/B/ID, through mess/'s group. Queue files are postieq's,
# 0664 (postie-queue's umask 002): the directories decide who reaches them.

q=$dir/queue
qmode=0750 ; xmode=0750 ; smode=0750
[ "$mode" = system ] && qmode=2770 xmode=2710 smode=0700
mkd "$q/tmp" $qmode "$O_QUEUE"
mkd "$q/todo" 0750 "$O_QUEUE"
i=0
while [ $i -lt 64 ] ; do
  mkd "$q/todo/$i" $qmode "$O_QUEUE"
  i=$((i + 1))
done
# The trigger: written by the queue group (postie-queue), read by
# postie-send. The lock: one postie-send at a time.
fifo "$q/trigger" 0620 "$O_SEND"
: | put "$q/lock" 0600 "$O_SEND"
# postie-send's own directories (doc/postie-send.md): listed in the
# template queue-dirs, one "NAME SPLIT" a line (SPLIT 1: split in 64).
# mess/ belongs to posties, group postier (2710: postier may pass, not
# list); the others are postie-send's alone.
if [ -f "$TEMPLATES/queue-dirs" ] ; then
  while read -r name split ; do
    case $name in ""|"#"*) continue ;; esac
    case $name in
      mess) m=$xmode o=$O_MESS ;;
      *) m=$smode o=$O_SEND ;;
    esac
    mkd "$q/$name" $m "$o"
    if [ "$split" = 1 ] ; then
      i=0
      while [ $i -lt 64 ] ; do mkd "$q/$name/$i" $m "$o" ; i=$((i + 1)) ; done
    fi
  done <"$TEMPLATES/queue-dirs"
fi

# setgid PROG GROUP: BINDIR/PROG becomes root:GROUP 2755.
setgid () {
  sp=$BINDIR/$1
  [ -f "$sp" ] || die 111 "$sp not found"
  [ "$(stat -c %G:%a "$sp")" = "$2:2755" ] && return 0
  say "set-gid $2 on $sp"
  [ $dry = 1 ] && return 0
  chown root:"$2" "$sp" && chmod 2755 "$sp" || die 111 "unable to make $sp set-gid $2"
}
# In system mode postie-queue runs set-uid and set-gid to the queue
# account (qmail-queue's way), so that any injector (postie-smtpd as
# postied, sendmail as any user) can write the queue while nobody else can,
# and the queue files belong to the queue uid, not to the injector: once
# accepted, a message cannot be written, chmod'ed or truncated by whoever
# injected it (a delivery program of theirs gets it on fd 0).
if [ "$mode" = system ] ; then
  [ "$dir" = "$HOMEDIR" ] || warn "the set-uid postie-queue and the set-gid postie-checkpassword ignore POSTIE_HOME and use $HOMEDIR: for a system instance in $dir, build with make HOMEDIR=$dir"
  pq=$BINDIR/postie-queue
  [ -f "$pq" ] || die 111 "$pq not found"
  if [ "$(stat -c %U:%G:%a "$pq")" != "$U_QUEUE:$G_QUEUE:6755" ] ; then
    say "set-uid $U_QUEUE and set-gid $G_QUEUE on $pq"
    if [ $dry = 0 ] ; then
      chown $U_QUEUE:$G_QUEUE "$pq" && chmod 6755 "$pq" || die 111 "unable to make $pq set-uid $U_QUEUE, set-gid $G_QUEUE"
    fi
  fi
fi

# ---------------------------------------------------------------------------
# users/ (doc/users.md): the text source (with the hashes: root's alone),
# users.cdb (no hashes), readable by the group of the programs that look
# users up, passwords.cdb (the hashes), readable by the group that only
# the set-gid postie-checkpassword has.

mkd "$dir/users" 0750 "$O_USERS"
pwmode=0600 ; [ "$mode" = system ] && pwmode=0640
tpl users/users | put "$dir/users/users" 0600 "$ROOT"
if [ ! -e "$dir/users/users.cdb" ] ; then
  say "file $dir/users/users.cdb and $dir/users/passwords.cdb (postie-users)"
  if [ $dry = 0 ] ; then
    POSTIE_HOME=$dir "$BINDIR/postie-users" || die 111 "postie-users failed"
    own "$dir/users/users.cdb" "$O_USERS" 0640
    own "$dir/users/passwords.cdb" "$O_PW" $pwmode
  fi
elif [ ! -e "$dir/users/passwords.cdb" ] ; then
  warn "$dir/users/users.cdb was compiled by an older postie-users and holds the password hashes: see \"Moving an older instance over\" in doc/postie-setup.md"
fi
if [ "$mode" = system ] && [ $dry = 0 ] && [ -e "$dir/users/users" ] && [ "$(stat -c %a "$dir/users/users")" != 600 ] ; then
  warn "$dir/users/users holds the password hashes and is mode $(stat -c %a "$dir/users/users"): chmod 0600 $dir/users/users"
fi

# In system mode postie-checkpassword runs set-gid postiep, the one group
# that may read passwords.cdb: postie-smtpd (postied) and postie-popup
# (postiev) parse network input and cannot read a hash themselves.
[ "$mode" = system ] && setgid postie-checkpassword $G_PW

# ---------------------------------------------------------------------------
# tls/ (doc/postie-tlsd.md): the certificate chain and its key. When
# neither is there, a self-signed certificate for the host name (EC P-256,
# ten years), made with the openssl command; the key is readable by the
# TLS account only. An admin replaces both with real ones (renamed over),
# and the next connection uses them.

mkd "$dir/tls" 0755 "$ROOT"
if [ ! -e "$dir/tls/cert.pem" ] && [ ! -e "$dir/tls/key.pem" ] ; then
  if ! command -v openssl >/dev/null 2>&1 ; then
    warn "openssl not found: no certificate made in $dir/tls (STARTTLS and STLS are not offered until cert.pem and key.pem are there)"
  else
    say "file $dir/tls/key.pem and $dir/tls/cert.pem (a self-signed certificate for $me)"
    if [ $dry = 0 ] ; then
      ( umask 077
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
          -subj "/CN=$me" -addext "subjectAltName=DNS:$me" \
          -keyout "$dir/tls/key.pem.setup-tmp" -out "$dir/tls/cert.pem.setup-tmp" >/dev/null 2>&1 ) \
        || { rm -f "$dir/tls/key.pem.setup-tmp" "$dir/tls/cert.pem.setup-tmp" ; die 111 "openssl could not make a certificate" ; }
      own "$dir/tls/key.pem.setup-tmp" "$O_TLS" 0400
      own "$dir/tls/cert.pem.setup-tmp" "$ROOT" 0644
      mv -f "$dir/tls/key.pem.setup-tmp" "$dir/tls/key.pem" && mv -f "$dir/tls/cert.pem.setup-tmp" "$dir/tls/cert.pem" \
        || die 111 "unable to rename the certificate files in $dir/tls"
    fi
  fi
fi

# ---------------------------------------------------------------------------
# postmaster, root and abuse (RFC 5321 4.5.1, RFC 2142; cron mails root):
# control/aliases sends them to the address given with -a, or else to a
# local mailbox "postmaster" made here (mail/postmaster/Maildir/, no
# password: set one with postie-users passwd postmaster to read it over
# POP3). The aliases file is written once, like every file here.

if [ -e "$dir/control/aliases" ] ; then
  pmsay="postmaster, root and abuse: as $dir/control/aliases says (kept as it is)"
elif [ -n "$pmaddr" ] ; then
  printf 'postmaster: %s\nroot: postmaster\nabuse: postmaster\nmailer-daemon: postmaster\n' "$pmaddr" \
    | put "$dir/control/aliases" 0644 "$ROOT"
  pmsay="postmaster, root and abuse: mail goes to $pmaddr (control/aliases)"
else
  if [ "$mode" = system ] ; then pmown=$O_MAIL ; pmuid=$U_MAIL ; else pmown= ; pmuid= ; fi
  pmhome=$dir/mail/postmaster
  if grep -qi '^postmaster:' "$dir/users/users" 2>/dev/null ; then
    :
  elif [ $dry = 1 ] ; then
    say "user postmaster (postie-users, no password)"
  else
    if [ "$mode" = system ] ; then
      u=$(id -u "$pmuid") && g=$(id -g "$pmuid") || die 111 "unable to find the uid of $pmuid"
    else
      u=$(id -u) g=$(id -g)
    fi
    [ "$u" = 0 ] && die 111 "the postmaster mailbox would belong to root: give an address with -a"
    say "user postmaster (postie-users, no password)"
    POSTIE_HOME=$dir "$BINDIR/postie-users" add -n postmaster "$u" "$g" "$pmhome" </dev/null \
      || die 111 "postie-users failed to add postmaster"
    own "$dir/users/users.cdb" "$O_USERS" 0640
    own "$dir/users/users" "$ROOT" 0600
    own "$dir/users/passwords.cdb" "$O_PW" $pwmode
  fi
  mkd "$pmhome" 0700 "$pmown"
  for d in Maildir Maildir/tmp Maildir/new Maildir/cur ; do mkd "$pmhome/$d" 0700 "$pmown" ; done
  printf 'root: postmaster\nabuse: postmaster\nmailer-daemon: postmaster\n' | put "$dir/control/aliases" 0644 "$ROOT"
  pmsay="postmaster, root and abuse: mail goes to the local mailbox $pmhome/Maildir/ (no address given with -a)"
fi

# ---------------------------------------------------------------------------
# rules/: s6 access rules for the SMTP services (s6-accessrules-cdb-from-fs).

mkd "$dir/rules" 0755 "$ROOT"
rules () {
  name=$1 ; shift
  r=$dir/rules/$name
  mkd "$r" 0755 "$ROOT"
  mkd "$r/ip4" 0755 "$ROOT"
  mkd "$r/ip6" 0755 "$ROOT"
  for spec in "$@" ; do
    # spec: ip4/0.0.0.0_0 or ip4/0.0.0.0_0,VAR=value (value "" = empty)
    key=${spec%%,*}
    mkd "$r/$key" 0755 "$ROOT"
    : | put "$r/$key/allow" 0644 "$ROOT"
    case $spec in
      *,*)
        var=${spec#*,} ; val=${var#*=} ; var=${var%%=*}
        mkd "$r/$key/env" 0755 "$ROOT"
        # An empty env file unsets the variable: a lone newline sets it empty.
        printf '%s\n' "$val" | put "$r/$key/env/$var" 0644 "$ROOT"
        ;;
    esac
  done
  if [ ! -e "$r.cdb" ] ; then
    say "file $r.cdb (s6-accessrules-cdb-from-fs)"
    if [ $dry = 0 ] ; then
      s6-accessrules-cdb-from-fs "$r.cdb" "$r" || die 111 "unable to build $r.cdb"
      own "$r.cdb" "$ROOT" 0644
    fi
  fi
}
if [ "$mode" = system ] ; then
  # Documented default: programs on this host may relay through port 25.
  rules smtpd ip4/0.0.0.0_0 ip6/::_0 "ip4/127.0.0.0_8,RELAYCLIENT=" "ip6/::1_128,RELAYCLIENT="
else
  rules smtpd ip4/0.0.0.0_0 ip6/::_0
fi
rules submission ip4/0.0.0.0_0,SMTPAUTH=required ip6/::_0,SMTPAUTH=required
[ -n "$subsport" ] && rules submissions ip4/0.0.0.0_0,SMTPAUTH=required ip6/::_0,SMTPAUTH=required

# ---------------------------------------------------------------------------
# service/: one s6 service directory per daemon, each with a logger writing
# into log/NAME. s6-svscan runs on service/ (or links to its directories
# from the system's scan directory).

mkd "$dir/service" 0755 "$ROOT"
service () {
  name=$1 port=$2 tplname=$3
  s=$dir/service/$name
  mkd "$s" 0755 "$ROOT"
  mkd "$s/env" 0755 "$ROOT"
  echo "$dir" | put "$s/env/POSTIE_HOME" 0644 "$ROOT"
  echo "$RUNPATH" | put "$s/env/PATH" 0644 "$ROOT"
  if [ -n "$port" ] ; then
    echo "$ip" | put "$s/env/IP" 0644 "$ROOT"
    echo "$port" | put "$s/env/PORT" 0644 "$ROOT"
    echo 100 | put "$s/env/MAXCONN" 0644 "$ROOT"
    echo 50 | put "$s/env/MAXCONNIP" 0644 "$ROOT"
    echo "$MEMLIMIT" | put "$s/env/MEMLIMIT" 0644 "$ROOT"
  fi
  tpl "service/$tplname/run" | put "$s/run" 0755 "$ROOT"
  if [ -f "$TEMPLATES/service/$tplname/notification-fd" ] ; then
    tpl "service/$tplname/notification-fd" | put "$s/notification-fd" 0644 "$ROOT"
  fi
  mkd "$s/log" 0755 "$ROOT"
  tpl service/log/run | sed -e "s|@NAME@|$name|g" | put "$s/log/run" 0755 "$ROOT"
  tpl service/log/notification-fd | put "$s/log/notification-fd" 0644 "$ROOT"
  mkd "$logs/$name" 2750 "$O_LOG"
}
service smtpd "$smtpport" smtpd
service submission "$subport" submission
service pop3d "$pop3port" pop3d
if [ -n "$subsport" ] ; then
  service submissions "$subsport" submissions
  service pop3s "$pop3sport" pop3s
fi
service imapd "$imapport" imapd
[ -n "$imapsport" ] && service imaps "$imapsport" imaps
service send "" send
# A run script made by an older postie-setup ran the checkpassword step of
# SMTP AUTH without -a: it then changed into the user's home as postied,
# and a user whose home postied cannot enter got 454 for a good password.
for s in smtpd submission submissions ; do
  if [ -f "$dir/service/$s/run" ] && grep -qx "postie-smtpd postie-checkpassword" "$dir/service/$s/run" ; then
    warn "$dir/service/$s/run runs postie-checkpassword without -a: make its last line \"postie-smtpd postie-checkpassword -a\" and restart the service"
  fi
done

kept "$dir/control/me" "$me" -m
kept "$dir/service/smtpd/env/PORT" "$smtpport" -p
kept "$dir/service/submission/env/PORT" "$subport" -p
kept "$dir/service/pop3d/env/PORT" "$pop3port" -p
for s in smtpd submission pop3d ; do kept "$dir/service/$s/env/IP" "$ip" -i ; done
if [ -n "$subsport" ] ; then
  kept "$dir/service/submissions/env/PORT" "$subsport" -p
  kept "$dir/service/pop3s/env/PORT" "$pop3sport" -p
fi
kept "$dir/service/imapd/env/PORT" "$imapport" -I
[ -n "$imapsport" ] && kept "$dir/service/imaps/env/PORT" "$imapsport" -I

echo "$PROG: $pmsay"
added=$(wc -l <"$tally")
added=$((added + 0))
if [ $added = 0 ] ; then
  echo "$PROG: $dir is complete: nothing to add"
elif [ $dry = 1 ] ; then
  echo "$PROG: $dir: $added to add (dry run: nothing changed)"
else
  echo "$PROG: $dir: $added added"
fi
exit 0
