#!/bin/sh
# Build qemu-system-aarch64 from Debian's source with the vmm-glue/qemu
# series applied: only the aarch64 target and the devices the tests need.
#   scripts/qemu/build.sh SRC TREE BUILDDIR SERIESDIR WPTDIR [SYSROOT]
# SRC stays pristine; TREE is a patched copy, refreshed file by file (a file
# is rewritten only when its patched text changed, so ninja rebuilds only
# what the series touched); BUILDDIR is the meson build, configured once.
# WPTDIR holds libwpt.a and a wpt.pc naming it, found through pkg-config.
# With SYSROOT (Debian's arm64 -dev packages unpacked, scripts/arm64/
# fetch-debs.sh), the build is for an arm64 host instead: cross-compiled
# with aarch64-linux-gnu-gcc, static (the level-1 guest that runs it is a
# busybox initramfs with no libraries), with KVM; libwpt.a in WPTDIR must
# then be an arm64 one.
set -eu
src=$1 tree=$2 bld=$3 series=$4 wpt=$5 sysroot=${6:-}
[ -f "$src/VERSION" ] || { echo "qemu-build: no source in $src (run scripts/qemu/source.sh)" >&2; exit 1; }
if [ ! -f "$tree/VERSION" ]; then
	rm -rf "$tree" && cp -a "$src" "$tree"
fi
scripts/qemu/apply.sh "$src" "$tree" "$series"
wpt=$(cd "$wpt" && pwd)
export PKG_CONFIG_PATH="$wpt${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
# A pyenv python ahead on PATH breaks a system meson: keep to /usr/bin.
export PATH=/usr/bin:/bin:/usr/sbin:/sbin
cross=""
if [ -n "$sysroot" ]; then
	sysroot=$(cd "$sysroot" && pwd)
	mkdir -p "$bld"
	# The sysroot's .pc files say prefix=/usr: copies with the prefix
	# moved into the sysroot, beside wpt.pc, are all pkg-config may see
	# (PKG_CONFIG_SYSROOT_DIR would move wpt.pc's paths too).
	pc=$(cd "$bld" && pwd).pkgconfig
	rm -rf "$pc" && mkdir -p "$pc"
	for f in "$sysroot"/usr/lib/aarch64-linux-gnu/pkgconfig/*.pc \
	         "$sysroot"/usr/share/pkgconfig/*.pc; do
		[ -f "$f" ] || continue
		sed -E "s#=/usr(/| |\$)#=$sysroot/usr\1#" "$f" > "$pc/${f##*/}"
	done
	cp "$wpt/wpt.pc" "$pc/wpt.pc"
	printf '#!/bin/sh\nPKG_CONFIG_LIBDIR=%s PKG_CONFIG_PATH= exec pkg-config "$@"\n' \
		"$pc" > "$pc/pkg-config"
	chmod +x "$pc/pkg-config"
	cross="--cross-prefix=aarch64-linux-gnu- --static"
	export PKG_CONFIG="$pc/pkg-config"
	# libfdt has no .pc in Debian: QEMU finds it by -I and in the
	# compiler's own library path (meson's find_library ignores -L, a
	# cross gcc ignores LIBRARY_PATH): a compiler whose -B adds the
	# sysroot's library directory to that path.
	xcflags="-isystem $sysroot/usr/include"
	xldflags="-L$sysroot/usr/lib/aarch64-linux-gnu"
	printf '#!/bin/sh\nexec aarch64-linux-gnu-gcc -B%s/ "$@"\n' \
		"$sysroot/usr/lib/aarch64-linux-gnu" > "$pc/cc"
	chmod +x "$pc/cc"
	cross="$cross --cc=$pc/cc"
fi
if [ ! -f "$bld/build.ninja" ]; then
	mkdir -p "$bld"
	top=$(cd "$tree" && pwd)
	# shellcheck disable=SC2086
	(cd "$bld" && "$top/configure" --target-list=aarch64-softmmu \
	  --without-default-features --without-default-devices \
	  --with-devices-aarch64=${sysroot:+wpt-kvm}${sysroot:-wpt} --disable-docs --disable-werror \
	  --enable-kvm --enable-tcg --enable-fdt=system \
	  ${cross:+$cross --extra-cflags="$xcflags" --extra-ldflags="$xldflags"} \
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
