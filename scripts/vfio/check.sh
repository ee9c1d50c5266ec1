#!/bin/sh
# check.sh OUT TESTBIN      (what `make check-vfio` runs)
# Boot a Linux guest under QEMU/TCG on a q35 machine with an emulated
# Intel IOMMU and QEMU's edu device, bind edu to vfio-pci there and run
# TESTBIN (a static binary) as /wpt-vfio-test; judge its TAP output.
#
# Environment:
#   KERNEL   a kernel to boot instead of Debian's (vmlinux with the PVH note,
#            or a bzImage: its vmlinux is extracted when possible)
#   MODULES  that kernel's lib/modules/<version> (unneeded if it builds
#            vfio-pci in)
#   VFIO_TIMEOUT  seconds QEMU may run (default 240)
#   VFIO_SMP      guest CPUs (default 2)
# Keeps OUT/console.log.  Prints "check-vfio: N passed, M failed" and
# exits non-zero on a failed test, a timeout or a missing exit line.
set -eu
out=$1 testbin=$2
here=$(cd "$(dirname "$0")" && pwd)
nested=$(cd "$here/../nested" && pwd)
timeout_s=${VFIO_TIMEOUT:-240}
smp=${VFIO_SMP:-2}

say() { echo "check-vfio: $*"; }
die() { say "$*"; say "0 passed, 1 failed"; exit 1; }

mkdir -p "$out"
out=$(cd "$out" && pwd)
# One guest at a time per OUT: two would share its kernel cache, initramfs
# and console log.
exec 9> "$out/.lock"
if ! flock -n 9; then
	say "waiting for the other check-vfio that uses $out"
	flock -w 600 9 || die "$out/.lock stayed taken for 10 minutes"
fi
log=$out/console.log
start=$(date +%s)

export NESTED_TAG=check-vfio
# The kernel cache beside OUT is check-kvm's too.
env=$("$nested/kernel.sh" "$out/../kernel-amd64" "$out") || die "no kernel to boot"
eval "$env"
say "kernel $KDESC"

rm -f "$out/initramfs/initramfs.cpio"
# vfio-pci binds edu; type1 is the container backend the test drives;
# iommufd (kernels from 6.2 on) is the other sink's backend.
"$nested/mkinitramfs.sh" "$out/initramfs" "$here/init.sh" "$KMODDIR" \
	"vfio_pci vfio_iommu_type1? iommufd?" "$testbin=/wpt-vfio-test" 2>&1 ||
	die "building the initramfs failed"

# kernel-irqchip=split and intremap=on: interrupt remapping, which the
# guest's intel-iommu driver wants for x2apic and vfio for MSI.
# iommu.strict=1: unmaps invalidate the IOTLB at once (6.1 ignores
# iommu=strict), so a DMA after an unmap must fault.
# edu's dma_mask: it silently masks DMA addresses to 28 bits by default;
# let the IOMMU alone decide what an IOVA reaches.
say "booting (TCG, timeout ${timeout_s} s; console in $log)"
qstart=$(date +%s)
set +e
"$nested/boot.sh" "$out" "$timeout_s" "$KIMAGE" "$out/initramfs/initramfs.cpio" \
	"intel_iommu=on iommu.strict=1" \
	-machine kernel-irqchip=split -smp "$smp" \
	-device intel-iommu,intremap=on \
	-device edu,dma_mask=0xffffffffffffffff
qrc=$?
set -e
qend=$(date +%s)

# The test's own output, between the runner's line and the exit line.
sed -n '/^wpt-init: running /,/^WPT-VFIO-EXIT /p' "$log" |
	sed '1d; /^WPT-VFIO-EXIT /d' > "$out/test.out"
cat "$out/test.out"

summary=$(awk '
	/^1\.\.[0-9]+/ { plan = substr($1, 4) + 0; hasplan = 1; next }
	/^(not )?ok( |$)/ {
		notok = ($1 == "not")
		d = tolower($0)
		if (d ~ /# *skip/) { skip++; next }
		if (notok && d ~ /# *todo/) { skip++; next }
		if (notok) fail++; else pass++
	}
	END {
		ran = pass + fail + skip
		printf "%d %d %d %d %d\n", pass + 0, fail + 0, skip + 0, hasplan ? plan : -1, ran
	}' "$out/test.out")
set -- $summary
pass=$1 fail=$2 skip=$3 plan=$4 ran=$5

why=""
exitline=$(grep -m1 '^WPT-VFIO-EXIT ' "$log" || true)
initfail=$(grep -m1 '^wpt-init: FAIL: ' "$log" || true)
if [ $qrc = 124 ] || [ $qrc = 137 ]; then
	why="timed out after ${timeout_s} s"
elif [ -n "$initfail" ]; then
	why="guest setup failed: ${initfail#wpt-init: FAIL: }"
elif grep -q 'hardware error' "$out/qemu.log"; then
	# edu aborts QEMU for a DMA outside its buffer (in 7.2: one that
	# reaches the buffer's last byte).
	why="QEMU stopped: $(grep -m1 'hardware error' "$out/qemu.log")"
elif [ -z "$exitline" ]; then
	why="no WPT-VFIO-EXIT line (qemu exit $qrc)"
fi
if [ -n "$exitline" ]; then
	rc=${exitline#WPT-VFIO-EXIT }
	[ "$rc" = 0 ] || why="${why:+$why; }test exited $rc"
fi
if [ "$ran" = 0 ]; then
	why="${why:+$why; }no test ran"
elif [ "$plan" -ge 0 ] && [ "$plan" != "$ran" ]; then
	why="${why:+$why; }planned $plan tests, ran $ran"
fi
[ "$fail" = 0 ] || why="${why:+$why; }$fail failed"

boot=$(sed -n 's/^wpt-init: running .*, up \([0-9.]*\) s$/\1/p' "$log" | head -n 1)
say "guest ran $((qend - qstart)) s${boot:+ (test started $boot s after boot)}, check took $(( $(date +%s) - start )) s"
if [ -n "$why" ]; then
	# A setup failure or a crash is a failure even if no test line said so.
	[ "$fail" != 0 ] || fail=1
	say "FAILED: $why"
	echo "---- last 50 lines of $log ----"
	tail -n 50 "$log"
	if [ -s "$out/qemu.log" ]; then
		echo "---- first 10 lines of QEMU's own messages, $out/qemu.log ----"
		head -n 10 "$out/qemu.log"
	fi
	echo "---- full console log: $log ----"
fi
if [ "$skip" != 0 ]; then
	say "$pass passed, $fail failed, $skip skipped"
else
	say "$pass passed, $fail failed"
fi
[ -z "$why" ]
