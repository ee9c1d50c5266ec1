#!/bin/sh
# Make sure the build's Debian packages are present: install them with
# apt-get when running as root, else stop naming what is missing.
# --quiet: only report through the exit status.
# --bench: also what `make bench` needs (gnuplot draws its chart).
quiet=0 bench=0
for a in "$@"; do
	case $a in
	--quiet) quiet=1 ;;
	--bench) bench=1 ;;
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

[ -z "$missing" ] && exit 0
[ $quiet = 1 ] && exit 1

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
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
