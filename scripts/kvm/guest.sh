#!/bin/sh
# guest.sh OUT JOB TIMEOUT FILE...
# Boot the nested KVM guest once: Debian's kernel (or KERNEL/MODULES, see
# scripts/nested/kernel.sh) with kvm and kvm-amd from the same package,
# an initramfs of busybox, scripts/kvm/init.sh as /init, run.sh, JOB as
# /wpt/job and each FILE (HOSTPATH=GUESTPATH), for at most TIMEOUT
# seconds.  One vCPU (KVM_SMP): with two, TCG's nested SVM locked the
# guest kernel up (soft lockups in kvm's and RCU's threads).  Leaves
# OUT/console.log and OUT/trouble (what went wrong with the guest as a
# whole, or empty); exits with boot.sh's status
# (124 or 137: TIMEOUT passed), or 1 if the guest could not be built.
set -eu
out=$1 job=$2 timeout_s=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
nested=$(cd "$here/../nested" && pwd)

mkdir -p "$out/initramfs"
# Until the guest has run, that is what went wrong; and no console of an
# earlier run may pass for this one's.
rm -f "$out/console.log"
echo "the guest could not be built (kernel or initramfs: see above)" > "$out/trouble"
echo "$job" > "$out/job"
# The kernel cache (NESTED_CACHE, else the tree's build/kernel-amd64) is
# check-vfio's too.
env=$("$nested/kernel.sh" "${NESTED_CACHE:-$here/../../build/kernel-amd64}" "$out") || exit 1
eval "$env"
echo "$NESTED_TAG: kernel $KDESC" >&2
"$nested/mkinitramfs.sh" "$out/initramfs" "$here/init.sh" "$KMODDIR" \
	kvm_amd "$here/run.sh=/lib/wpt/run.sh" "$out/job=/wpt/job" "$@"
echo "$NESTED_TAG: booting the nested guest (TCG, -cpu max: SVM + NPT; timeout $timeout_s s; console in $out/console.log)" >&2
set +e
"$nested/boot.sh" "$out" "$timeout_s" "$KIMAGE" "$out/initramfs/initramfs.cpio" \
	"softlockup_panic=1" -smp "${KVM_SMP:-1}"
qrc=$?
# What went wrong with the guest as a whole, for the judge: OUT/trouble
# (empty when the guest ran its job to the end).
trouble=""
init_fail=$(grep -m1 '^wpt-init: FAIL: ' "$out/console.log" || true)
if [ $qrc = 124 ] || [ $qrc = 137 ]; then
	trouble="the guest was stopped after $timeout_s s (KVM_TIMEOUT)"
elif [ -n "$init_fail" ]; then
	trouble="guest setup failed: ${init_fail#wpt-init: FAIL: }"
elif ! grep -q '^WPT-KVM-DONE' "$out/console.log"; then
	trouble="the guest stopped before its job ended (QEMU exit $qrc$(
		grep -m1 -iE 'panic|oops' "$out/console.log" | sed 's/^/: /'))"
fi
echo "$trouble" > "$out/trouble"
exit $qrc
