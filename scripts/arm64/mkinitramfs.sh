#!/bin/sh
# mkinitramfs.sh [options] OUT
# A busybox guest's whole root as an uncompressed initramfs (the kernel
# unpacks it at once: no decompressor to run under TCG): writes OUT/root/
# and OUT/initramfs.cpio.  /init is init.sh beside this script: it mounts
# /dev, /proc, /sys, /tmp, loads the modules in order, runs /wpt/run,
# prints "WPT-EXIT <status>" and powers off (see init.sh).
#   -b BUSYBOX    a static busybox for the guest's architecture (required;
#                 fetch-debs.sh ... busybox-static gives SYSROOT/bin/busybox)
#   -f SRC[:DST]  put file SRC at DST (default /wpt/<basename>); repeatable.
#                 An executable that is an ELF must be static.
#   -r SRC        the program or script init runs, as /wpt/run (required)
#   -m MODDIR     a kernel's lib/modules/<version> (as fetch-kernel.sh's
#                 KMODDIR); needed for -k
#   -k MODULE     load MODULE and what it depends on (modules.dep, made
#                 with the host's depmod, and softdeps) at boot; a module
#                 the kernel builds in is skipped; repeatable
#   scripts/arm64/mkinitramfs.sh -b $SYSROOT/bin/busybox -r test.sh \
#       -f build/arm64/wpt-kvm-test -m "$KMODDIR" -k vfio-pci out/
set -eu
here=$(cd "$(dirname "$0")" && pwd)
say() { echo "mkinitramfs: $*" >&2; }
die() { say "$*"; exit 1; }
usage() { sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

busybox="" run="" moddir="" files="" mods=""
while getopts b:f:r:m:k: o; do
	case $o in
	b) busybox=$OPTARG ;;
	f) files="$files
$OPTARG" ;;
	r) run=$OPTARG ;;
	m) moddir=$OPTARG ;;
	k) mods="$mods $OPTARG" ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# = 1 ] || usage
out=$1
[ -n "$busybox" ] || die "no busybox (-b)"
[ -n "$run" ] || die "no program to run (-r)"

# A dynamic executable names its loader (PT_INTERP); the guest has none.
check_static() {
	[ -f "$1" ] || die "no file $1"
	! readelf -l "$1" 2>/dev/null | grep -q INTERP || die "$1 is not static: the guest has no libraries"
}
check_static "$busybox"
check_static "$run"

root=$out/root
rm -rf "$root"
mkdir -p "$root/bin" "$root/sbin" "$root/usr/bin" "$root/usr/sbin" "$root/proc" \
	"$root/sys" "$root/dev" "$root/tmp" "$root/run" "$root/wpt" "$root/lib/modules/wpt"
cp "$busybox" "$root/bin/busybox"
# The applets are linked at boot (init.sh: busybox --install), by the
# busybox that runs there: this host may not run it.
ln -s busybox "$root/bin/sh"
cp "$here/init.sh" "$root/init"
cp "$here/guest-lib.sh" "$root/wpt/guest-lib.sh"
chmod 755 "$root/init"
cp "$run" "$root/wpt/run"
chmod 755 "$root/wpt/run"
echo "$files" | while IFS= read -r spec; do
	[ -n "$spec" ] || continue
	src=${spec%%:*} dst=${spec#*:}
	[ "$dst" != "$spec" ] || dst=/wpt/$(basename "$src")
	[ -x "$src" ] && head -c 4 "$src" | grep -q ELF && check_static "$src"
	[ -e "$src" ] || die "no file $src"
	mkdir -p "$root$(dirname "$dst")"
	cp -L "$src" "$root$dst"
done

# Modules: the order comes from the host's modprobe on a depmod'ed copy
# of the package's tree (a kernel package ships no modules.dep).
order=$root/lib/modules/wpt/order
: > "$order"
if [ -n "$mods" ]; then
	[ -n "$moddir" ] && [ -d "$moddir" ] || die "-k needs -m MODDIR (a kernel's lib/modules/<version>)"
	kver=$(basename "$moddir")
	base=${moddir%/lib/modules/*}
	[ "$base/lib/modules/$kver" -ef "$moddir" ] || die "$moddir is not BASE/lib/modules/<version>"
	depmod=$(command -v depmod || echo /sbin/depmod)
	modprobe=$(command -v modprobe || echo /sbin/modprobe)
	[ -x "$depmod" ] && [ -x "$modprobe" ] || die "no depmod/modprobe (apt-get install kmod)"
	[ "$moddir/modules.dep" -nt "$moddir/modules.order" ] ||
		"$depmod" -b "$base" "$kver" || die "depmod -b $base $kver failed"
	for m in $mods; do
		"$modprobe" -d "$base" -S "$kver" --show-depends "$m" ||
			die "no module $m in $moddir"
	done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' |
	while IFS= read -r ko; do
		name=$(basename "$ko" | sed 's/\.ko.*//')
		case $ko in
		*.ko.xz)  xz -dc "$ko" ;;
		*.ko.zst) zstd -dcq "$ko" ;;
		*.ko.gz)  gzip -dc "$ko" ;;
		*)        cat "$ko" ;;
		esac > "$root/lib/modules/wpt/$name.ko" || die "cannot decompress $ko"
		echo "$name.ko" >> "$order"
	done
	say "modules in load order: $(tr '\n' ' ' < "$order")"
fi

(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) \
	> "$out/initramfs.cpio.tmp"
mv "$out/initramfs.cpio.tmp" "$out/initramfs.cpio"
