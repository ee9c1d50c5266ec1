#!/bin/sh
# run.sh TIMEOUT PROGRAM...
# Run each test program with its output on stdout, framed for judge.sh:
#   WPT-KVM-BEGIN <name>
#   ...its output...
#   WPT-KVM-END <name> <status> <seconds>
# status is the exit code, or "timeout" when the program (and every
# process under it: Check forks one per test) was killed after TIMEOUT
# seconds.  The same script runs on the host and as the nested guest's
# runner (busybox sh), so both are judged alike.
timeout_s=$1
shift

# The pids of $1 and of everything under it, read off /proc in one pass
# before any is killed (a killed parent's children move to init).
tree() {
	# cat, not awk, opens them: some vanish meanwhile, and mawk stops at
	# a file it cannot open.
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$1" '
		{ parent[$1] = $4 }
		END {
			keep[root] = 1
			do {
				more = 0
				for (p in parent)
					if (!(p in keep) && (parent[p] in keep)) {
						keep[p] = 1; more = 1
					}
			} while (more)
			for (p in keep) print p
		}'
}

for prog in "$@"; do
	name=${prog##*/}
	echo "WPT-KVM-BEGIN $name"
	start=$(date +%s)
	"$prog" 2>&1 &
	pid=$!
	waited=0
	# kill -0 holds for a zombie too: look at its state, with builtins
	# only (a probe that could not fork once read as "running", and the
	# loop below spun to a "timeout" in no time).
	running() {
		while read -r key val _; do
			[ "$key" = State: ] && { [ "$val" != Z ]; return; }
		done 2>/dev/null < "/proc/$pid/status"
		return 1
	}
	while running && [ $waited -lt "$timeout_s" ]; do
		sleep 1
		waited=$((waited + 1))
	done
	status=""
	if running; then
		kill -KILL $(tree "$pid") 2>/dev/null
		status=timeout
	fi
	wait "$pid"
	rc=$?
	echo "WPT-KVM-END $name ${status:-$rc} $(( $(date +%s) - start ))"
done
