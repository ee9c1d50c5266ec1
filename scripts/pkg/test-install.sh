#!/bin/sh
# make check-install: what a VMM engineer does with the source tree.
# Installs into two prefixes in turn (the second with its own LIBDIR and
# INCDIR) and into a DESTDIR staging tree, and from each builds and runs
# tests/install/consumer.c through `pkg-config --cflags --libs wpt`, shared
# and `--static`; then uninstalls each and checks nothing is left.  The
# shared build must load the library of its own prefix (ldd), the static
# one none at all.
# Environment: MAKE, CC (as make passes them).  Exit 0 or 1.
set -u
MAKE=${MAKE:-make}
CC=${CC:-cc}
tmp=$(mktemp -d /tmp/wpt-install.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0

pass() { passes=$((passes + 1)); echo "PASS  check-install: $*"; }
fail() { fails=$((fails + 1)); echo "FAIL  check-install: $*"; }
# Run quietly; on failure show the log.
run() { # log, command...
	log=$1; shift
	"$@" > "$log" 2>&1 && return 0
	echo "# $* failed:"; tail -n 20 "$log" | sed 's/^/#   /'
	return 1
}

# Build the consumer through pkg-config and run it.  $1: name, $2: the
# pkg-config dir, $3: the library dir the shared build must load from,
# $4: extra flags for the link (a sysroot for the staged tree).
link_and_run() {
	name=$1 pcdir=$2 libdir=$3
	export PKG_CONFIG_PATH="$pcdir"
	flags=$(pkg-config --cflags --libs wpt) || { fail "$name: pkg-config --libs wpt"; return; }
	if run "$tmp/$name.cc.log" $CC tests/install/consumer.c $flags -o "$tmp/$name-shared"; then
		loaded=$(LD_LIBRARY_PATH="$libdir" ldd "$tmp/$name-shared" | awk '/libwpt\.so/ { print $3 }')
		if [ "$loaded" != "$libdir/libwpt.so.0" ]; then
			fail "$name: shared build loads '$loaded', not $libdir/libwpt.so.0"
		elif run "$tmp/$name.run.log" env LD_LIBRARY_PATH="$libdir" "$tmp/$name-shared"; then
			pass "$name: shared, built with: $flags"
		else fail "$name: shared build does not run"; fi
	else fail "$name: shared build through pkg-config"; fi
	flags=$(pkg-config --static --cflags --libs wpt) || { fail "$name: pkg-config --static"; return; }
	if run "$tmp/$name.cs.log" $CC -static tests/install/consumer.c $flags -o "$tmp/$name-static" &&
	   ! readelf -d "$tmp/$name-static" | grep -q NEEDED &&
	   run "$tmp/$name.rs.log" "$tmp/$name-static"; then
		pass "$name: static, built with: $flags"
	else fail "$name: static build through pkg-config --static (or it is not static)"; fi
	unset PKG_CONFIG_PATH
}

# $1: name, $2: the pkg-config dir, $3: PREFIX wpt.pc must name, $4: its
# includedir.
check_pc() {
	pc=$2/wpt.pc
	[ -f "$pc" ] || { fail "$1: no $pc"; return; }
	p=$(PKG_CONFIG_PATH=$2 pkg-config --variable=prefix wpt)
	i=$(PKG_CONFIG_PATH=$2 pkg-config --variable=includedir wpt)
	if [ "$p" = "$3" ] && [ "$i" = "$4" ] && ! grep -q "$tmp/stage" "$pc"; then
		pass "$1: wpt.pc names prefix=$p includedir=$i"
	else fail "$1: wpt.pc names prefix=$p includedir=$i, expected $3 and $4"; fi
}

# $1: name, $2: the tree that must be gone or empty again, then the make variables.
uninstall_leaves_nothing() {
	name=$1 tree=$2; shift 2
	run "$tmp/$name.un.log" $MAKE --no-print-directory uninstall "$@" || { fail "$name: make uninstall"; return; }
	left=$(find "$tree" -mindepth 1 2>/dev/null | head -n 5)
	if [ -z "$left" ]; then pass "$name: make uninstall removed everything under $tree"
	else fail "$name: make uninstall left:" $left; fi
}

# Two prefixes in turn: the second install must not name the first.
a=$tmp/a b=$tmp/b
for v in "a PREFIX=$a" "b PREFIX=$b LIBDIR=$b/lib64 INCDIR=$b/include/wptrack"; do
	set -- $v; name=$1; shift
	if ! run "$tmp/$name.in.log" $MAKE --no-print-directory install "$@"; then
		fail "$name: make install $*"; continue
	fi
	case $name in
	a) check_pc a "$a/lib/pkgconfig" "$a" "$a/include"
	   link_and_run a "$a/lib/pkgconfig" "$a/lib" ;;
	b) check_pc b "$b/lib64/pkgconfig" "$b" "$b/include/wptrack"
	   link_and_run b "$b/lib64/pkgconfig" "$b/lib64" ;;
	esac
	root=$a; [ $name = b ] && root=$b
	uninstall_leaves_nothing "$name" "$root" "$@"
done

# DESTDIR staging: wpt.pc names the final prefix, never the staging tree;
# pkg-config's sysroot finds the staged files through it.
st=$tmp/stage
if run "$tmp/st.in.log" $MAKE --no-print-directory install PREFIX=/opt/wpt DESTDIR="$st"; then
	check_pc staged "$st/opt/wpt/lib/pkgconfig" /opt/wpt /opt/wpt/include
	PKG_CONFIG_SYSROOT_DIR=$st link_and_run staged "$st/opt/wpt/lib/pkgconfig" "$st/opt/wpt/lib"
	uninstall_leaves_nothing staged "$st/opt/wpt" PREFIX=/opt/wpt DESTDIR="$st"
else fail "staged: make install PREFIX=/opt/wpt DESTDIR=$st"; fi

# A relative PREFIX would make a wpt.pc that names nothing: refused.
if $MAKE --no-print-directory install PREFIX=relative DESTDIR="$tmp/rel" > "$tmp/rel.log" 2>&1 ||
   ! grep -q 'not an absolute path' "$tmp/rel.log" || [ -e "$tmp/rel" ]; then
	fail "relative PREFIX was not refused before anything was written"
else pass "relative PREFIX refused"; fi

echo "check-install: $passes passed, $fails failed"
[ $fails = 0 ]
