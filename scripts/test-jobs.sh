# Sourced by run-tests.sh and run-traces.sh: sets $jobs, how many tests run
# at a time (TEST_JOBS, default one per online CPU), or exits 2 naming
# TEST_JOBS if it is not a positive number.
jobs=${TEST_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)}
case $jobs in
''|*[!0-9]*|0)
	echo "$0: TEST_JOBS must be a positive number, not '$jobs'" >&2
	exit 2 ;;
esac
