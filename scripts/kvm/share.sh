#!/bin/sh
# share.sh OUT JOBS PROGRAM...
# Deal the programs to JOBS guests, longest first, each to the guest with
# the least work so far: one line of programs per guest on stdout (no
# empty lines).  A program's length is what it took last time
# (OUT/<name>.secs, written by judge.sh), else what it took in these
# guests on a loaded 2-core machine (December 2026), else 60 s.
out=$1 jobs=$2
shift 2
guess() {
	case $1 in
	test_bench_guest) echo 270 ;;
	test_singlestep_kvm) echo 130 ;;
	test_stress_kvm) echo 80 ;;
	test_recut_kvm) echo 20 ;;
	test_bench_vmm|test_protect_kvm|test_protect_uffd) echo 10 ;;
	*) echo 60 ;;
	esac
}
for p in "$@"; do
	name=${p##*/}
	secs=$(cat "$out/$name.secs" 2>/dev/null || guess "$name")
	echo "${secs:-60} $p"
done | sort -rn | awk -v jobs="$jobs" '
	{ best = 1
	  for (j = 2; j <= jobs; j++) if (load[j] < load[best]) best = j
	  load[best] += $1; line[best] = line[best] " " $2 }
	END { for (j = 1; j <= jobs; j++) if (line[j] != "") print substr(line[j], 2) }'
