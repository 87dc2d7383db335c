# tests/lib/leftovers.sh: tests/run's check for processes a test left
# behind. Sourced (". leftovers.sh") by pid 1 of the test's own PID
# namespace (unshare --pid --fork --mount-proc) once the test has exited,
# so that it forks nothing while it looks: every process in /proc but pid
# 1 is then a leftover. They get $grace tenths of a second to end by
# themselves (a server the test told to stop may be on its way out); those
# still running are listed in $leaked ("PID USER ARGS; ...") and killed.
# Zombies are dead, waiting for pid 1 to reap them: not counted.

leftovers_scan () {
  left=
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    [ "$p" = 1 ] && continue
    st=
    { read -r st <"$d/stat" ; } 2>/dev/null || continue
    s=${st##*) }
    case ${s%% *} in Z|X|"") continue ;; esac
    left="$left $p"
  done
}

grace=${grace:-30}
leftovers_scan
while [ -n "$left" ] && [ "$grace" -gt 0 ]; do
  sleep 0.1
  grace=$((grace - 1))
  leftovers_scan
done
leaked=
for p in $left; do
  a=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-200)
  u=$(stat -c %U "/proc/$p" 2>/dev/null)
  [ -n "$u" ] || continue
  leaked="$leaked${leaked:+; }$p $u ${a% }"
  kill -9 "$p" 2>/dev/null
done
