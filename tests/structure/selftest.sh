#!/bin/sh
# The structure check must fail when the rule is broken: two files that
# call each other, a file too long, a function too long; and pass on a
# tree that keeps the rules.  CC compiles the small trees it makes.
set -eu
check=$(cd "$(dirname "$0")/../../scripts" && pwd)/check-structure.sh
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

# make_tree NAME A_BODY B_BODY: lib/a.c and lib/b.c compiled to build/lib.
make_tree() {
	mkdir -p "$tmp/$1/lib" "$tmp/$1/build/lib"
	printf '%s\n' "$2" > "$tmp/$1/lib/a.c"
	printf '%s\n' "$3" > "$tmp/$1/lib/b.c"
	for f in a b; do
		$cc -c "$tmp/$1/lib/$f.c" -o "$tmp/$1/build/lib/$f.o"
	done
}

# expect NAME WANT(0|1) WHAT
expect() {
	if (cd "$tmp/$1" && "$check" build lib 20 5) > "$tmp/$1.out" 2>&1; then
		got=0
	else
		got=1
	fi
	if [ "$got" = "$2" ] && grep -q "$3" "$tmp/$1.out"; then
		echo "PASS  structure-selftest: $1"
	else
		echo "FAIL  structure-selftest: $1 (exit $got, wanted $2 and \"$3\")"
		sed 's/^/      /' "$tmp/$1.out"
		fails=$((fails + 1))
	fi
}

make_tree ok 'int b(void); int a(void) { return b(); }' 'int b(void) { return 1; }'
expect ok 0 'no cycle'
make_tree cycle 'int b(void); int a(void) { return b(); }' \
	'int a(void); int b(void) { return a(); }'
expect cycle 1 'form a cycle'
make_tree longfn 'int a(int x)
{
	x++;
	x++;
	x++;
	x++;
	return x;
}' 'int b(void) { return 1; }'
expect longfn 1 'a(int x): 7 lines'
make_tree longfile "$(printf 'int v%d;\n' $(seq 1 25))" 'int b(void) { return 1; }'
expect longfile 1 'a.c: 25 lines'
[ "$fails" = 0 ]
