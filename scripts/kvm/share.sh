#!/bin/sh
# share.sh OUT JOBS PROGRAM...
# Deal the programs to JOBS guests, longest first, each to the guest with
# the least work so far: one line of programs per guest on stdout (no
# empty lines).  A program's length is what it took last time
# (OUT/<name>.secs, written by judge.sh), else 60 s.
out=$1 jobs=$2
shift 2
for p in "$@"; do
	name=${p##*/}
	secs=$(cat "$out/$name.secs" 2>/dev/null || echo 60)
	echo "${secs:-60} $p"
done | sort -rn | awk -v jobs="$jobs" '
	{ best = 1
	  for (j = 2; j <= jobs; j++) if (load[j] < load[best]) best = j
	  load[best] += $1; line[best] = line[best] " " $2 }
	END { for (j = 1; j <= jobs; j++) if (line[j] != "") print substr(line[j], 2) }'
