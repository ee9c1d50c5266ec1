#!/bin/sh
# /init of the check-kvm guest (busybox sh): load kvm and kvm-amd (SVM;
# QEMU's `-cpu max` offers it with nested paging), wait for /dev/kvm, then
# run what /wpt/job says, framed by run.sh for the host, and print
#   WPT-KVM-DONE
# before powering off.  /wpt/job holds "tests TIMEOUT" (every program in
# /wpt/tests, in name order, each bounded by TIMEOUT seconds, with the
# VAR=value words after it in their environment) or "bench
# TIMEOUT" (/wpt/wpt-bench-run, which scripts/kvm/bench.sh wrote; the JSON
# the bench leaves in /tmp/bench/results then printed between
# WPT-KVM-JSON-BEGIN and -END lines).  A step that
# fails prints "wpt-init: FAIL: <why>" and powers off without DONE.
. /lib/wpt/init-lib.sh

load_modules
wait_for 100 "/dev/kvm after loading kvm-amd" test -c /dev/kvm
say "/dev/kvm ready (kvm_amd npt=$(cat /sys/module/kvm_amd/parameters/npt 2>/dev/null)), up $(uptime_s) s"
# The tests write nothing outside /tmp but for the bench's results.
cd /tmp
# Kernel messages would land in the middle of the tests' output.
dmesg -n 1
# WPT_KVM_TRACE=1 in the job's words: KVM's exception injections and
# emulated instructions, MMIO and shutdown exits are traced, and the
# events before the first shutdown printed after the programs (what a
# guest's triple fault came from).
trace_on() {
	[ "${WPT_KVM_TRACE:-0}" = 1 ] || return 0
	mount -t tracefs nodev /sys/kernel/tracing || return 0
	echo 8192 > /sys/kernel/tracing/buffer_size_kb
	for e in kvm_inj_exception kvm_emulate_insn kvm_mmio kvm_exit; do
		echo 1 > "/sys/kernel/tracing/events/kvm/$e/enable"
	done
	# Of the exits only SVM's shutdown (a triple fault): the rest would
	# overwrite the ring.
	echo 'exit_reason == 0x7f' > /sys/kernel/tracing/events/kvm/kvm_exit/filter
}
trace_out() {
	[ "${WPT_KVM_TRACE:-0}" = 1 ] || return 0
	echo 0 > /sys/kernel/tracing/tracing_on
	say "KVM trace: the 40 events before the first shutdown exit (emulated instructions, MMIO, injected exceptions):"
	grep -v '^#' /sys/kernel/tracing/trace | grep -m1 -B 40 kvm_exit
}
set -- $(cat /wpt/job)
case $1 in
tests)
	# Words after TIMEOUT are VAR=value for the programs' environment.
	timeout_s=$2
	shift 2
	[ $# = 0 ] || export "$@"
	trace_on
	/lib/wpt/run.sh "$timeout_s" /wpt/tests/*
	trace_out ;;
bench)
	mkdir -p /tmp/bench/results
	/lib/wpt/run.sh "$2" /wpt/wpt-bench-run
	echo "WPT-KVM-JSON-BEGIN"
	cat /tmp/bench/results/latest.json 2>/dev/null
	echo "WPT-KVM-JSON-END" ;;
*)
	fail "unknown job '$*' in /wpt/job" ;;
esac
echo "WPT-KVM-DONE"
say "kernel messages:"
dmesg | grep -iE 'kvm|svm|bug|warn|oops' | tail -n 20
say "done, up $(uptime_s) s"
off
