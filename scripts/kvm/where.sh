#!/bin/sh
# where.sh PROBE
# Where the KVM tests and the bench run: print "host <module>" and exit 0
# when PROBE (tests/kvm/usable.c) finds a /dev/kvm that makes VMs and
# NESTED is not 1; else print why not and exit 1 (the nested guest, then).
probe=$1
if [ "${NESTED:-0}" = 1 ]; then
	echo "NESTED=1 asks for the nested guest"
	exit 1
fi
out=$("$probe" 2>&1)
rc=$?
if [ $rc = 0 ]; then
	echo "$out"
	exit 0
fi
echo "${out#SKIP: }"
exit 1
