#!/bin/sh
# mkinitramfs.sh OUT INIT MODDIR MODULES FILE...
# A nested-test guest's whole root (check-vfio, check-kvm, the nested
# bench): busybox-static with its applet links, INIT as /init with
# init-lib.sh (beside this script) as /lib/wpt/init-lib.sh for it to
# source (and ../arm64/guest-lib.sh, which that sources, beside it), the MODULES from MODDIR (a kernel's lib/modules/<version>; may be
# empty when the kernel builds them in) with what they depend on, and each
# FILE, given as HOSTPATH=GUESTPATH (an executable must be static: the guest
# has no libraries).  Writes OUT/root/ and the uncompressed
# OUT/initramfs.cpio (the kernel unpacks it at once; no decompressor to run
# under TCG).  MODULES is a space-separated list; a name ending in '?' is
# optional (said and skipped when MODDIR has it not).  The load order is
# written to /lib/modules/wpt/order for init-lib.sh's load_modules.
#
# A kernel package ships no modules.dep, so the load order comes from each
# module's own `depends` and `softdep` (modinfo on the .ko).  A module the
# kernel has built in (modules.builtin) needs nothing; compressed modules
# (.ko.xz, .ko.zst, .ko.gz) are stored decompressed, so busybox's insmod
# needs no decompressor.
set -eu
out=$1 init=$2 moddir=$3 modules=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)

say() { echo "${NESTED_TAG:-nested}: $*" >&2; }
die() { say "$*"; exit 1; }

busybox=/bin/busybox
[ -x "$busybox" ] || die "no $busybox (apt-get install busybox-static)"
# A dynamic executable names its loader (PT_INTERP); the guest has none.
is_static() { ! readelf -l "$1" 2>/dev/null | grep -q INTERP; }
is_static "$busybox" || die "$busybox is not static (apt-get install busybox-static)"
[ -f "$init" ] || die "no init script $init"
for f in "$@"; do
	src=${f%%=*}
	[ "$src" != "$f" ] || die "FILE $f is not HOSTPATH=GUESTPATH"
	[ -f "$src" ] || die "no file $src"
	is_static "$src" || die "$src is not static: the guest has no libraries"
done
modinfo=$(command -v modinfo 2>/dev/null || echo /sbin/modinfo)
[ -z "$moddir" ] || [ -x "$modinfo" ] || die "no modinfo (apt-get install kmod)"

root=$out/root
rm -rf "$root"
mkdir -p "$root/bin" "$root/sbin" "$root/usr/bin" "$root/usr/sbin" \
	"$root/proc" "$root/sys" "$root/dev" "$root/tmp" "$root/run" \
	"$root/lib/modules/wpt" "$root/lib/wpt"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list-full); do
	[ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done
cp "$init" "$root/init"
chmod 755 "$root/init"
cp "$here/init-lib.sh" "$root/lib/wpt/init-lib.sh"
cp "$here/../arm64/guest-lib.sh" "$root/lib/wpt/guest-lib.sh"
for f in "$@"; do
	dst=$root/${f#*=}
	mkdir -p "$(dirname "$dst")"
	cp "${f%%=*}" "$dst"
done

# --- modules -------------------------------------------------------------
# Module names compare with '-' and '_' alike, as the kernel does.
norm() { echo "$1" | tr - _; }
index=$out/modules.index   # "name path" for every module file in moddir
loaded=" "                 # placed (or built in), in order
visiting=" "
order=$root/lib/modules/wpt/order
: > "$order"

lookup() { awk -v n="$1" '$1 == n { print $2; exit }' "$index"; }
builtin() {
	[ -f "$moddir/modules.builtin" ] &&
	sed 's,.*/,,; s,\.ko$,,; s,-,_,g' "$moddir/modules.builtin" | grep -qx "$1"
}
# The file a module is stored as in the initramfs, decompressed.
place() { # name, source path
	dst=$root/lib/modules/wpt/$1.ko
	case $2 in
	*.ko.xz)  xz -dc "$2" > "$dst" ;;
	*.ko.zst) zstd -dcq "$2" > "$dst" ;;
	*.ko.gz)  gzip -dc "$2" > "$dst" ;;
	*)        cp "$2" "$dst" ;;
	esac
}
# Depth first: a module is written to the order after all it depends on
# (depends and softdep pre), and its softdep post modules after it.
# Returns 1 when the module is neither a file nor built in.
visit() {
	visit_n=$(norm "$1")
	case $loaded in *" $visit_n "*) return 0 ;; esac
	case $visiting in *" $visit_n "*) die "module dependency cycle through $visit_n" ;; esac
	visit_src=$(lookup "$visit_n")
	if [ -z "$visit_src" ]; then
		builtin "$visit_n" || return 1
		loaded="$loaded$visit_n "
		return 0
	fi
	place "$visit_n" "$visit_src" || die "cannot decompress $visit_src"
	visit_ko=$root/lib/modules/wpt/$visit_n.ko
	visit_deps=$("$modinfo" -F depends "$visit_ko" | tr , ' ')
	visit_soft=$("$modinfo" -F softdep "$visit_ko" | tr '\n' ' ')
	visit_pre="" visit_post="" visit_kind=""
	for w in $visit_soft; do
		case $w in
		pre:) visit_kind=pre ;;
		post:) visit_kind=post ;;
		*) if [ "$visit_kind" = pre ]; then visit_pre="$visit_pre $w"
		   elif [ "$visit_kind" = post ]; then visit_post="$visit_post $w"; fi ;;
		esac
	done
	visiting="$visiting$visit_n "
	# sh has no local variables and the recursion clobbers the visit_*
	# globals: keep this call's own in its positional parameters.
	set -- "$visit_n" "$visit_post" "$visit_pre" "$visit_deps"
	for d in $4; do
		visit "$d" || die "module $1 depends on $d, which $moddir has not"
	done
	for d in $3; do
		visit "$d" || say "module $1: softdep pre $d not found, skipped"
	done
	visiting=$(echo "$visiting" | sed "s/ $1 / /")
	loaded="$loaded$1 "
	echo "$1.ko" >> "$order"
	for d in $2; do
		visit "$d" || true   # e.g. vfio's softdep on the POWER-only spapr_tce
	done
	return 0
}

if [ -n "$moddir" ]; then
	[ -d "$moddir" ] || die "no module directory $moddir"
	find "$moddir" -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz' |
	awk '{ n = $0; sub(/.*\//, "", n); sub(/\.ko(\.xz|\.zst|\.gz)?$/, "", n);
	       gsub(/-/, "_", n); print n, $0 }' > "$index"
	for m in $modules; do
		case $m in
		*\?) visit "${m%\?}" || say "no ${m%\?} in $moddir (optional, not loaded)" ;;
		*) visit "$m" || die "$moddir has no $m module and the kernel does not build it in" ;;
		esac
	done
	say "modules in load order: $(tr '\n' ' ' < "$order")"
elif [ -n "$modules" ]; then
	say "no module directory given: the kernel must build in $modules"
fi

(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) \
	> "$out/initramfs.cpio.tmp"
mv "$out/initramfs.cpio.tmp" "$out/initramfs.cpio"
