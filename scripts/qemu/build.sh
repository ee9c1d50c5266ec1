#!/bin/sh
# Build qemu-system-aarch64 from Debian's source with the vmm-glue/qemu
# series applied: only the aarch64 target and the devices the tests need.
#   scripts/qemu/build.sh SRC TREE BUILDDIR SERIESDIR WPTDIR
# SRC stays pristine; TREE is a patched copy, refreshed file by file (a file
# is rewritten only when its patched text changed, so ninja rebuilds only
# what the series touched); BUILDDIR is the meson build, configured once.
# WPTDIR holds libwpt.a and a wpt.pc naming it, found through pkg-config.
set -eu
src=$1 tree=$2 bld=$3 series=$4 wpt=$5
[ -f "$src/VERSION" ] || { echo "qemu-build: no source in $src (run scripts/qemu/source.sh)" >&2; exit 1; }
if [ ! -f "$tree/VERSION" ]; then
	rm -rf "$tree" && cp -a "$src" "$tree"
fi
scripts/qemu/apply.sh "$src" "$tree" "$series"
wpt=$(cd "$wpt" && pwd)
export PKG_CONFIG_PATH="$wpt${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
# A pyenv python ahead on PATH breaks a system meson: keep to /usr/bin.
export PATH=/usr/bin:/bin:/usr/sbin:/sbin
if [ ! -f "$bld/build.ninja" ]; then
	mkdir -p "$bld"
	top=$(cd "$tree" && pwd)
	(cd "$bld" && "$top/configure" --target-list=aarch64-softmmu \
	  --without-default-features --without-default-devices \
	  --with-devices-aarch64=wpt --disable-docs --disable-werror \
	  --enable-kvm --enable-tcg --enable-fdt=system \
	  --meson=/usr/bin/meson) > "$bld.configure.log" 2>&1 ||
	{ tail -n 30 "$bld.configure.log" >&2; rm -f "$bld/build.ninja"; exit 1; }
fi
# meson links libwpt.a by path, which ninja does not track: relink on change.
if [ "$wpt/libwpt.a" -nt "$bld/qemu-system-aarch64" ]; then
	rm -f "$bld/qemu-system-aarch64"
fi
ninja -C "$bld" qemu-system-aarch64 > "$bld.ninja.log" 2>&1 ||
{ grep -B2 -A12 -m5 'error' "$bld.ninja.log" >&2 || tail -n 40 "$bld.ninja.log" >&2; exit 1; }
echo "qemu-build: $bld/qemu-system-aarch64"
