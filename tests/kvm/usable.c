/* SPDX-License-Identifier: MIT */
/*
 * kvm-usable: when /dev/kvm can make a VM, print where the KVM tests run
 * ("host kvm_pvm", bench_kvm_where) and exit 0; else print the SKIP
 * reason the tests would give and exit 77.  scripts/kvm/where.sh runs it
 * to choose the host or the nested guest.
 */
#include <stdio.h>

#include "kvm/skip.h"
#include "../../bench/vmm/probe.h"

int main(void)
{
	char where[128];

	kvm_require();
	printf("%s\n", bench_kvm_where(where, sizeof(where)));
	return 0;
}
