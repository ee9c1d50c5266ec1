#!/bin/sh
# check.sh OUT PROBE PROGRAM...      (what `make check-kvm` runs)
# Run every KVM test PROGRAM (static) where a standard or the host's KVM
# is: on the host when PROBE finds its /dev/kvm usable and NESTED is not
# 1, else inside the nested guest (guest.sh: TCG x86-64, Debian's kernel,
# kvm-amd on QEMU's emulated SVM with nested paging).  A program that
# skips on the host's KVM (a host kvm_pvm runs long-mode guests only) runs
# again in the nested guest, judged there.  One line per
# program, PASS, FAIL or SKIP (with the reason), then
#   check-kvm: N passed, N failed, N skipped (where: ...)
# and a non-zero exit on any failure.
#
# Environment:
#   NESTED=1          the nested guest even where the host has KVM
#   KERNEL, MODULES   another kernel for the guest (scripts/nested/kernel.sh)
#   KVM_PROG_TIMEOUT  seconds one program may run (default 600 on the
#                     host, 300 nested); reached, it is killed and FAILs
#   KVM_TIMEOUT       seconds each guest may run (default: its programs'
#                     bounds plus 120 s to boot)
#   KVM_JOBS          guests run at once, each with a share of the
#                     programs (default 2: one per core of these machines)
#   KVM_GUEST_ENV     VAR=value words for the programs' environment in the
#                     guest (e.g. CK_VERBOSITY=verbose)
set -eu
out=$1 probe=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
export NESTED_TAG=check-kvm

say() { echo "check-kvm: $*"; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
# One run at a time per OUT: two would share the initramfs and the logs.
exec 9> "$out/.lock"
flock -w 900 9 || { say "$out/.lock stayed taken for 15 minutes"; exit 1; }
start=$(date +%s)
log=$out/run.log

# nested LOG PROGRAM...: run them in the TCG guests with nested SVM, the
# runner's lines in LOG; guest_trouble says what went wrong with a guest.
nested() {
	nlog=$1
	shift
	jobs=${KVM_JOBS:-2}
	# A quarter of the stress tests' repetitions (tests/kvm/skip.h) and
	# Check's per-test bounds tripled: exits cost ten times more there.
	genv="WPT_KVM_OPS_PERCENT=25 CK_TIMEOUT_MULTIPLIER=3 ${KVM_GUEST_ENV:-}"
	: > "$nlog"
	guest_trouble=""
	# One vCPU per guest (two under TCG lock the guest kernel up), and
	# as many guests as host cores: each takes a share of the programs.
	"$here/share.sh" "$out" "$jobs" "$@" > "$out/shares"
	# Nothing of an earlier run may pass for this one's.
	rm -rf "$out"/guest*
	i=0
	while read -r share; do
		i=$((i + 1))
		gout=$out/guest$i
		mkdir -p "$gout"
		set -- $share
		gtimeout=${KVM_TIMEOUT:-$(( $# * ptimeout + 120 ))}
		set -- $(for p in "$@"; do echo "$p=/wpt/tests/${p##*/}"; done)
		"$here/guest.sh" "$gout" \
			"tests $ptimeout $genv" "$gtimeout" "$@" \
			> "$gout/guest.log" 2>&1 &
	done < "$out/shares"
	wait
	n=$i i=0
	while [ $i -lt "$n" ]; do
		i=$((i + 1))
		gout=$out/guest$i
		sed 's/^/  /' "$gout/guest.log" | head -n 5
		[ -s "$gout/console.log" ] || : > "$gout/console.log"
		# The runner's lines, and nothing of the boot around them.
		sed -n '/^WPT-KVM-BEGIN /,/^WPT-KVM-DONE/p' "$gout/console.log" >> "$nlog"
		t=$(cat "$gout/trouble" 2>/dev/null || echo "no guest ran")
		[ -z "$t" ] || guest_trouble="${guest_trouble:+$guest_trouble; }${gout##*/}: $t"
	done
}

set +e
why=$(NESTED=${NESTED:-0} "$here/where.sh" "$probe")
onhost=$?
set -e
guest_trouble="" host_trouble="" nested_progs=""
if [ $onhost = 0 ]; then
	where=$why
	ptimeout=${KVM_PROG_TIMEOUT:-600}
	say "running on the $where /dev/kvm (each program bounded by $ptimeout s)"
	"$here/run.sh" "$ptimeout" "$@" > "$log" 2>&1 || true
	# A program the host's KVM cannot serve (kvm_pvm runs long-mode
	# guests only) skips there: it runs on a standard KVM, nested, so no
	# KVM test is left unrun for want of one.
	again=$(awk '$1 == "WPT-KVM-END" && $3 == "77" { print $2 }' "$log")
	if [ -n "$again" ]; then
		onhost_progs=""
		for p in "$@"; do
			case " $(echo $again) " in
			*" ${p##*/} "*) nested_progs="$nested_progs $p" ;;
			*) onhost_progs="$onhost_progs $p" ;;
			esac
		done
		set -- $onhost_progs
		ptimeout=${KVM_PROG_TIMEOUT:-300}
		say "skipped on the host's KVM:" $again
		say "running those in TCG guests with nested SVM"
		nested "$out/nested.log" $nested_progs
	fi
else
	where="nested SVM under TCG"
	ptimeout=${KVM_PROG_TIMEOUT:-300}
	say "no usable host KVM ($why): running in ${KVM_JOBS:-2} TCG guests with nested SVM"
	nested "$log" "$@"
	host_trouble=$guest_trouble
fi
set +e
"$here/judge.sh" "$out" "$log" "$where" "$host_trouble" "$@"
rc=$?
if [ -n "$nested_progs" ]; then
	"$here/judge.sh" "$out" "$out/nested.log" \
		"nested SVM under TCG, for what the host's KVM skipped" \
		"$guest_trouble" $nested_progs || rc=1
fi
say "took $(( $(date +%s) - start )) s; logs in $out/<program>.log"
exit $rc
