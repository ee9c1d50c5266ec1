#!/bin/sh
# Make sure the build's Debian packages are present: install them with
# apt-get when running as root, else stop naming what is missing.
# --quiet: only report through the exit status.
# --bench: also what `make bench` needs (gnuplot draws its chart).
# --vfio: also what `make check-vfio` needs: QEMU (TCG, q35, intel-iommu,
#   edu), busybox-static and cpio for the initramfs, kmod's modinfo for the
#   module order, the decompressors for the kernel image and its modules,
#   and the static C and liburcu libraries for the in-guest test binary.
# --arm64: also what `make check-arm64` needs: QEMU for arm64 (TCG, virt
#   with EL2), the arm64 cross compiler and C library (static test
#   programs), cpio and kmod (depmod, modprobe) for the initramfs.  The
#   guest's kernel, busybox and liburcu are arm64 .debs scripts/arm64/
#   downloads and unpacks, never installs.
# --fuzz: also what `make fuzz` needs: clang and its fuzzer runtime
#   (libclang-rt-N-dev, which clang-N only recommends).
# --man: also what `make check-man` needs: man-db (man, lexgrog) and groff.
# --deb: also what `make deb` and `make check-deb` need: debhelper, dpkg-dev,
#   fakeroot, lintian, git (the clean clone) and the static libc for the
#   static link test.
# --kvmtool: also what `make check-kvmtool KVMTOOL_SRC=...` needs: what
#   --arm64 needs, and the module decompressors for the initramfs.
# --qemu: also what `make qemu` and `make check-qemu` need: QEMU's build
#   tools and libraries for its aarch64 target (its source comes from
#   scripts/qemu/source.sh), dpkg-dev for apt-get source, and what --arm64
#   and --kvmtool need for the check's guest.
# --check: name what is missing but never install it, even as root.
quiet=0 bench=0 vfio=0 fuzz=0 man=0 deb=0 arm64=0 kvmtool=0 qemu=0 install=1
for a in "$@"; do
	case $a in
	--quiet) quiet=1 ;;
	--bench) bench=1 ;;
	--vfio) vfio=1 ;;
	--fuzz) fuzz=1 ;;
	--man) man=1 ;;
	--deb) deb=1 ;;
	--arm64) arm64=1 ;;
	--kvmtool) arm64=1 kvmtool=1 ;;
	--qemu) arm64=1 kvmtool=1 qemu=1 ;;
	--check) install=0 ;;
	esac
done

missing=""
need() { # package, test command...
	pkg=$1; shift
	"$@" >/dev/null 2>&1 || missing="$missing $pkg"
}
need pkg-config   command -v pkg-config
need liburcu-dev  pkg-config --exists liburcu-bp liburcu-cds
need check        pkg-config --exists check
need libbsd-dev   test -f /usr/include/bsd/sys/tree.h
need linux-libc-dev test -f /usr/include/linux/kvm.h
[ $bench = 1 ] && need gnuplot-nox command -v gnuplot
if [ $vfio = 1 ]; then
	need qemu-system-x86 command -v qemu-system-x86_64
	need busybox-static  sh -c "dpkg-query -W -f='\${Status}' busybox-static | grep -q 'ok installed'"
	need cpio            command -v cpio
	need kmod            sh -c 'command -v modinfo || test -x /sbin/modinfo'
	need xz-utils        command -v xz
	need zstd            command -v zstd
	need libc6-dev       test -f /usr/lib/x86_64-linux-gnu/libc.a
	need liburcu-dev     test -f /usr/lib/x86_64-linux-gnu/liburcu-bp.a
fi
if [ $man = 1 ] || [ $deb = 1 ]; then
	need man-db     command -v lexgrog
	need groff-base command -v groff
	need bsdextrautils command -v col
fi
if [ $deb = 1 ]; then
	need debhelper  command -v dh
	need dpkg-dev   command -v dpkg-buildpackage
	need fakeroot   command -v fakeroot
	need lintian    command -v lintian
	need git        command -v git
	need libc6-dev  test -f /usr/lib/x86_64-linux-gnu/libc.a
fi
if [ $arm64 = 1 ]; then
	need qemu-system-arm       command -v qemu-system-aarch64
	need gcc-aarch64-linux-gnu command -v aarch64-linux-gnu-gcc
	need libc6-dev-arm64-cross test -f /usr/aarch64-linux-gnu/lib/libc.a
	need cpio                  command -v cpio
	need kmod                  sh -c 'command -v depmod || test -x /sbin/depmod'
fi
if [ $kvmtool = 1 ]; then
	need xz-utils command -v xz
	need zstd     command -v zstd
fi
if [ $qemu = 1 ]; then
	need dpkg-dev        command -v dpkg-source
	need meson           test -x /usr/bin/meson
	need ninja-build     command -v ninja
	need libglib2.0-dev  pkg-config --exists glib-2.0
	need libpixman-1-dev pkg-config --exists pixman-1
	need libfdt-dev      test -f /usr/include/libfdt.h
	need flex            command -v flex
	need bison           command -v bison
	need python3-venv    /usr/bin/python3 -c 'import ensurepip'
fi
if [ $fuzz = 1 ]; then
	# Debian's clang is clang-N; its runtime package carries the same N.
	clang_major=$(clang -dumpversion 2>/dev/null | cut -d. -f1)
	need clang   command -v clang
	need "libclang-rt-${clang_major:-14}-dev" sh -c \
	  'printf "int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n" |
	   clang -fsanitize=fuzzer -x c - -o /dev/null'
fi

[ -z "$missing" ] && exit 0
[ $quiet = 1 ] && exit 1

if [ $install = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	echo "deps: installing$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends $missing >&2 ||
	{ apt-get update >&2 && apt-get install -y --no-install-recommends $missing >&2; } ||
	{ echo "deps: apt-get failed; install:$missing" >&2; exit 1; }
	exit 0
fi
echo "deps: missing Debian packages:$missing" >&2
echo "deps: run: sudo apt-get install$missing" >&2
exit 1
