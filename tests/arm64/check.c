/* SPDX-License-Identifier: MIT */
/*
 * wpt-arm64-test: the library on a real arm64 KVM (run inside the nested
 * guest of `make check-arm64`).  One VM, RAM owned by the library's KVM
 * memslot backend, a guest (guest/) that builds and tears down IO page
 * tables the way Linux's io-pgtable-arm does, one class of store per
 * phase; every store exit goes through the library (exits.c) and the
 * shadow is verified after each phase.  Then the fault paths.
 *
 * Output: one line per test, "PASS name (...)", "FAIL name: why" or
 * "SKIP name: why", then "counts: nisv=N emulated=N stepped=N ..."; exit
 * status 1 if any test failed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "a64t.h"
#include "check.h"

extern const uint8_t a64t_guest_image[], a64t_guest_image_end[];

static struct { unsigned int pass, fail, skip; } total;

void a64t_report(int state, const char *name, const char *fmt, ...)
{
	static const char *const word[] = { "PASS", "FAIL", "SKIP" };
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (state == A64T_PASS) {
		total.pass++;
		printf("PASS  %s%s%s%s\n", name, msg[0] ? " (" : "", msg,
		       msg[0] ? ")" : "");
	} else {
		state == A64T_FAIL ? total.fail++ : total.skip++;
		printf("%s  %s: %s\n", word[state], name, msg);
	}
}

static int caps(struct a64t *t)
{
	static const struct { long cap; const char *name; } need[] = {
		{ KVM_CAP_READONLY_MEM, "READONLY_MEM" },
		{ KVM_CAP_ARM_NISV_TO_USER, "ARM_NISV_TO_USER" },
		{ KVM_CAP_ARM_INJECT_EXT_DABT, "ARM_INJECT_EXT_DABT" },
		{ KVM_CAP_SET_GUEST_DEBUG, "SET_GUEST_DEBUG" },
		{ KVM_CAP_ONE_REG, "ONE_REG" },
	};
	char missing[256] = "";

	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (!a64vm_has(&t->vm, need[i].cap))
			snprintf(missing + strlen(missing),
				 sizeof(missing) - strlen(missing), " %s",
				 need[i].name);
	if (missing[0]) {
		a64t_report(A64T_FAIL, "kvm-caps", "missing:%s", missing);
		return -1;
	}
	a64t_report(A64T_PASS, "kvm-caps", "READONLY_MEM ARM_NISV_TO_USER "
		    "ARM_INJECT_EXT_DABT SET_GUEST_DEBUG ONE_REG, %d memslots",
		    ioctl(t->vm.kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS));
	return 0;
}

/* The VM as the library's KVM backend owns it, the domain, the guest. */
static int setup(struct a64t *t, char *why, size_t n)
{
	struct wpt_ram_region r = { .gpa = A64T_RAM_GPA, .size = A64T_RAM_SIZE,
				    .hva = t->vm.ram };
	struct wpt_kvm_cfg kvm = { .vm_fd = t->vm.vm_fd, .slot_budget = 256,
				   .slot_granule = A64T_SLOT_GRANULE };
	struct wpt_vm_cfg cfg = { .size = sizeof(cfg), .regions = &r,
				  .nr_regions = 1, .kvm = &kvm };
	struct wpt_format_cfg fmt = { .size = sizeof(fmt),
				      .format = WPT_FMT_ARM_LPAE_S1,
				      .granule = 4096, .ias = 39, .oas = 40 };
	struct kvm_enable_cap nisv = { .cap = KVM_CAP_ARM_NISV_TO_USER };
	size_t len = a64t_guest_image_end - a64t_guest_image;
	int r2;

	if (len > A64T_IMAGE_MAX + A64T_DATA_MAX) {
		snprintf(why, n, "guest image of %zu bytes", len);
		return -1;
	}
	memcpy(t->vm.ram, a64t_guest_image, len);
	if ((r2 = a64vm_vcpu(&t->vm, 0, &t->cpu))) {
		snprintf(why, n, "vCPU: %s", strerror(-r2));
		return -1;
	}
	if (ioctl(t->vm.vm_fd, KVM_ENABLE_CAP, &nisv) < 0) {
		snprintf(why, n, "KVM_ENABLE_CAP ARM_NISV_TO_USER: %s", strerror(errno));
		return -1;
	}
	if ((r2 = wpt_vm_new(&cfg, &t->wvm)) || (r2 = wpt_sink_record_new(&t->sink)) ||
	    (r2 = wpt_domain_new(t->wvm, &fmt, t->sink, WPT_MODE_TRAP, &t->dom))) {
		snprintf(why, n, "library setup: %s", strerror(-r2));
		return -1;
	}
	if ((r2 = a64_boot(&t->cpu, A64T_IMAGE_GPA, A64T_STACK_TOP, 0))) {
		snprintf(why, n, "vCPU registers: %s", strerror(-r2));
		return -1;
	}
	return 0;
}

int main(void)
{
	static struct a64t_guest g;
	struct a64t *t = &g.t;
	char why[256] = "";
	int r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	t->cpu.fd = -1;
	r = a64vm_open(&t->vm, why, sizeof(why));
	if (r) {
		a64t_report(A64T_SKIP, "all", "no usable KVM: %s", why);
		return 1;
	}
	if (caps(t) || setup(t, why, sizeof(why))) {
		if (why[0])
			a64t_report(A64T_FAIL, "setup", "%s", why);
		return 1;
	}
	a64t_guest_run(&g);
	a64t_vcpu1_join(&g); /* a run that stopped mid-race */
	a64t_memslot_checks(&g);
	a64t_recut_checks();
	printf("counts: nisv=%llu emulated=%llu stepped=%llu faulted=%llu "
	       "mmio=%llu mmio_reads=%llu ext_dabt=%llu delivered=%llu "
	       "monitor_from_ldxr=%llu\n",
	       (unsigned long long)t->n.nisv, (unsigned long long)t->n.emulated,
	       (unsigned long long)t->n.stepped, (unsigned long long)t->n.faulted,
	       (unsigned long long)t->n.mmio, (unsigned long long)t->n.mmio_reads,
	       (unsigned long long)t->n.ext_dabt, (unsigned long long)t->n.delivered,
	       (unsigned long long)t->n.mon_ldxr);
	printf("tests: %u passed, %u failed, %u skipped\n", total.pass,
	       total.fail, total.skip);
	if (t->dom)
		wpt_domain_free(t->dom);
	wpt_vm_free(t->wvm);
	wpt_sink_free(t->sink);
	if (g.t1)
		a64vcpu_close(&g.t1->cpu);
	a64vcpu_close(&t->cpu);
	a64vm_close(&t->vm);
	return total.fail ? 1 : 0;
}
