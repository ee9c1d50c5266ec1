#!/bin/sh
# make check-deb: the packages make deb built, used as a VMM engineer would.
#   lintian on the .changes: no error (warnings and info are listed);
#   dpkg -i of libwpt0, libwpt-dev and wptrack-tools on this machine (root);
#   tests/install/consumer.c built through `pkg-config --cflags --libs wpt`
#   (shared: it must load the packaged /usr/lib/<triplet>/libwpt.so.0) and
#   `pkg-config --static` (-static: no shared object at all), and run;
#   the tools run and the man pages are found by name (man -w);
#   dpkg -r at the end, whatever happened, and nothing of them is left.
# $1: the directory of the .changes and .debs.  Exit 0 or 1.
set -u
dir=${1:-build-deb}
pkgs="wptrack-tools libwpt-dev libwpt0"
fails=0 passes=0
pass() { passes=$((passes + 1)); echo "PASS  check-deb: $*"; }
fail() { fails=$((fails + 1)); echo "FAIL  check-deb: $*"; }
finish() { echo "check-deb: $passes passed, $fails failed"; [ $fails = 0 ]; exit; }

[ "$(id -u)" = 0 ] || { echo "FAIL  check-deb: dpkg -i needs root"; exit 1; }
changes=$(ls "$dir"/*.changes 2>/dev/null | head -n 1)
[ -n "$changes" ] || { echo "FAIL  check-deb: no .changes in $dir (make deb)"; exit 1; }
for p in $pkgs; do
	if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		echo "FAIL  check-deb: $p is installed already; this test installs and"
		echo "      then removes its own build: dpkg -r $pkgs first"
		exit 1
	fi
done

# Lintian warns that it runs as root; only its tags count.
lintian --pedantic -I -E --fail-on error "$changes" > "$dir/lintian.log" 2>&1
rc=$?
tags=$(grep -c '^[EWIPX]: ' "$dir/lintian.log")
if [ $rc = 0 ]; then pass "lintian: no errors ($tags tags in all, pedantic)"
else fail "lintian (exit $rc):"; fi
grep '^[EWIPX]: ' "$dir/lintian.log" | sed 's/^/#   /'

tmp=$(mktemp -d /tmp/wpt-deb.XXXXXX) || exit 1
trap 'dpkg -r $pkgs > "$tmp/remove.log" 2>&1; rm -rf "$tmp"' EXIT
debs=$(for p in $pkgs; do ls "$dir/${p}_"*.deb; done)
if dpkg -i $debs > "$tmp/install.log" 2>&1; then pass "dpkg -i $(echo $debs | xargs -n1 basename | tr '\n' ' ')"
else fail "dpkg -i:"; sed 's/^/#   /' "$tmp/install.log"; finish; fi

flags=$(pkg-config --cflags --libs wpt)
libdir=$(pkg-config --variable=libdir wpt)
if cc tests/install/consumer.c $flags -o "$tmp/shared" > "$tmp/cc.log" 2>&1 &&
   [ "$(readlink -f "$(ldd "$tmp/shared" | awk '/libwpt\.so/ { print $3 }')")" = \
     "$(readlink -f "$libdir/libwpt.so.0")" ] &&
   "$tmp/shared" > "$tmp/run.log" 2>&1; then
	pass "shared link through pkg-config ($flags) loads $libdir/libwpt.so.0 and runs"
else fail "shared link through pkg-config ($flags)"; cat "$tmp/cc.log" "$tmp/run.log" 2>/dev/null; fi
flags=$(pkg-config --static --cflags --libs wpt)
if cc -static tests/install/consumer.c $flags -o "$tmp/static" > "$tmp/cc.log" 2>&1 &&
   ! readelf -d "$tmp/static" | grep -q NEEDED && "$tmp/static" > "$tmp/run.log" 2>&1; then
	pass "static link through pkg-config --static ($flags) runs"
else fail "static link through pkg-config --static ($flags)"; cat "$tmp/cc.log" "$tmp/run.log" 2>/dev/null; fi

if wpt-tracegen --seed 3 --ops 100 > "$tmp/t.trace" && wpt-replay --verify "$tmp/t.trace" > /dev/null &&
   wpt-bench --help > /dev/null; then
	pass "wpt-tracegen | wpt-replay --verify ran; wpt-bench --help"
else fail "the installed tools"; fi
missing=""
for n in libwpt wpt_vm_new wpt_vm_free wpt_domain_invalidate wpt_a64_emulate wpt-replay wpt-tracegen wpt-bench; do
	man -w "$n" > /dev/null 2>&1 || missing="$missing $n"
done
if [ -z "$missing" ]; then pass "man finds the pages of the library, its functions and the tools"
else fail "man -w does not find:$missing"; fi

if dpkg -r $pkgs > "$tmp/remove.log" 2>&1 && [ ! -e /usr/include/wpt.h ] &&
   [ ! -e "$libdir/libwpt.so.0" ] && [ ! -e /usr/bin/wpt-replay ]; then
	pass "dpkg -r $pkgs: nothing left"
else fail "dpkg -r:"; cat "$tmp/remove.log"; fi
finish
