#!/bin/sh
# build-arm64.sh KVMTOOL_SRC OUT SYSROOT: the arm64 programs of the
# three-level run, cross-built with Debian's gcc-aarch64-linux-gnu:
#   OUT/libwpt-arm64.a    the library (lib/), against SYSROOT's liburcu, libbsd
#   OUT/kvmtool/          a copy of KVMTOOL_SRC, patched (patches/*.patch),
#                         the glue in wpt/ and include/kvm/wpt-glue.h
#   OUT/kvmtool/lkvm-static
#   OUT/l2-dma            the level-2 DMA program (static)
# Incremental: objects are rebuilt when their sources change; the kvmtool
# copy is made again when KVMTOOL_SRC or a patch is newer than it.
set -eu
src=$1 out=$2 sysroot=$3
top=$(cd "$(dirname "$0")/../.." && pwd)
cc=aarch64-linux-gnu-gcc
glue=$top/vmm-glue/kvmtool
die() { echo "build-arm64: $*" >&2; exit 1; }

mkdir -p "$out/wpt-arm64"
# Absolute: kvmtool's make runs in another directory.
out=$(cd "$out" && pwd) sysroot=$(cd "$sysroot" && pwd)
lib=$sysroot/usr/lib/aarch64-linux-gnu
objs=""
for f in "$top"/lib/*.c "$top"/lib/*/*.c; do
	o=$out/wpt-arm64/$(echo "${f#"$top"/}" | tr / _).o
	objs="$objs $o"
	[ "$o" -nt "$f" ] && [ "$o" -nt "$top/include/wpt.h" ] && continue
	$cc -O2 -g -std=gnu11 -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE \
		-I"$top/include" -I"$top/lib" -isystem "$sysroot/usr/include" \
		-isystem "$sysroot/usr/include/aarch64-linux-gnu" \
		-c "$f" -o "$o" || die "compiling $f"
done
rm -f "$out/libwpt-arm64.a"
# shellcheck disable=SC2086
aarch64-linux-gnu-ar rcs "$out/libwpt-arm64.a" $objs

k=$out/kvmtool
stamp=$k/.wpt-patched
if [ ! -f "$stamp" ] || [ -n "$(find "$src" "$glue/patches" -newer "$stamp" \
	-type f ! -path '*/.git/*' ! -name '*.o' ! -name '*.d' -print -quit)" ]; then
	rm -rf "$k"
	mkdir -p "$k"
	(cd "$src" && tar cf - --exclude=.git --exclude='*.o' .) | tar xf - -C "$k"
	for p in "$glue"/patches/*.patch; do
		patch -d "$k" -p1 -s < "$p" || die "$p does not apply to $src"
	done
	: > "$stamp"
fi
mkdir -p "$k/wpt"
for f in "$glue"/smmuv3*.[ch] "$glue"/kvm/*.c "$glue"/kvm/wpt-glue-internal.h; do
	cmp -s "$f" "$k/wpt/${f##*/}" || cp "$f" "$k/wpt/"
done
cmp -s "$glue/kvm/wpt-glue.h" "$k/include/kvm/wpt-glue.h" ||
	cp "$glue/kvm/wpt-glue.h" "$k/include/kvm/"
# kvmtool's LIBFDT_DIR wants the static library and its headers together.
mkdir -p "$out/libfdt"
cp "$lib/libfdt.a" "$sysroot"/usr/include/fdt.h "$sysroot"/usr/include/libfdt.h \
	"$sysroot"/usr/include/libfdt_env.h "$out/libfdt/"
make -s -C "$k" -j2 ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- \
	WPT_DIR="$top" LIBFDT_DIR="$out/libfdt" \
	CPPFLAGS="-isystem $sysroot/usr/include" \
	WPT_LIBS="$out/libwpt-arm64.a $lib/liburcu-bp.a $lib/liburcu-cds.a $lib/liburcu-common.a -lpthread" \
	lkvm-static >/dev/null || die "building lkvm-static failed"

$cc -static -O2 -Wall -Wextra -I"$top/tests/vfio" "$glue/tests/l2-dma.c" \
	"$top/tests/vfio/vfio_setup.c" "$top/tests/vfio/edu.c" -o "$out/l2-dma" ||
	die "building l2-dma failed"
echo "build-arm64: $k/lkvm-static, $out/l2-dma"
