/* SPDX-License-Identifier: MIT */
/*
 * The KVM memslot backend against the real /dev/kvm: a real-mode guest
 * stores to and loads from pages the backend protected or left alone, and
 * the exits it takes (or does not take) are the test.  Slot counts come from
 * the backend's stats, checked against the layout each step must produce.
 *
 * Guest: 16-bit real mode, code at GPA 0x1000, ds based at the target page
 * through KVM_SET_SREGS, bx the offset in it.  One store or load, then hlt:
 * a handful of instructions per run (the nested kvm_pvm backend interprets
 * them at ~300 ns each).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "protect/protect.h"
#include "kvm/minivm.h"
#include "kvm/skip.h"

#define RAM_SIZE (4ull << 20)
#define CODE_GPA 0x1000ull
#define STORE_CODE CODE_GPA           /* mov [bx], eax ; hlt */
#define LOAD_CODE (CODE_GPA + 0x10)   /* mov ecx, [bx] ; hlt */
#define PAGE 0x1000ull
#define P 0x10000ull                  /* the page a test protects */
#define MB2 (2ull << 20)
#define RAM_BYTE 0x5a                 /* what RAM holds until a store */

static struct minivm vm;
static uint8_t *ram; /* guest RAM: GPA 0 .. RAM_SIZE */
static struct wpt_guestmem gm;
static struct wpt_protect prot;

static void setup(void)
{
	static const uint8_t code[] = {
		0x66, 0x89, 0x07, 0xf4, /* mov [bx], eax ; hlt */
	};
	static const uint8_t load[] = {
		0x66, 0x8b, 0x0f, 0xf4, /* mov ecx, [bx] ; hlt */
	};
	struct wpt_ram_region r;

	ck_assert_int_eq(minivm_open(&vm), 0);
	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(ram, MAP_FAILED);
	memset(ram, RAM_BYTE, RAM_SIZE);
	memcpy(ram + STORE_CODE, code, sizeof(code));
	memcpy(ram + LOAD_CODE, load, sizeof(load));
	r = (struct wpt_ram_region){ .gpa = 0, .size = RAM_SIZE, .hva = ram };
	ck_assert_int_eq(guestmem_init(&gm, &r, 1), 0);
	memset(&prot, 0, sizeof(prot));
}

static void teardown(void)
{
	if (prot.ops)
		prot.ops->free(prot.be);
	minivm_close(&vm);
	guestmem_fini(&gm);
	munmap(ram, RAM_SIZE);
}

static struct wpt_kvm_cfg cfg_of(uint64_t granule, uint32_t budget)
{
	return (struct wpt_kvm_cfg){ .vm_fd = vm.vm_fd, .slot_base = 0,
				     .slot_budget = budget,
				     .slot_granule = granule };
}

static void backend_new_layout(uint64_t granule, uint32_t budget,
			       uint16_t layout)
{
	struct wpt_kvm_cfg cfg = cfg_of(granule, budget);

	cfg.layout = layout;
	ck_assert_int_eq(wpt_protect_kvm_new(&cfg, &gm, &prot), 0);
	ck_assert_str_eq(prot.ops->name, "kvm");
}

/* The default layout: a read-only slot per protected page. */
static void backend_new(uint64_t granule, uint32_t budget)
{
	backend_new_layout(granule, budget, WPT_KVM_LAYOUT_PER_PAGE);
}

static struct wpt_protect_stats stats(void)
{
	struct wpt_protect_stats st;

	prot.ops->stats(prot.be, &st);
	return st;
}

static void assert_slots(uint64_t slot_ops, uint64_t in_use, uint64_t pages)
{
	struct wpt_protect_stats st = stats();

	ck_assert_uint_eq(st.slot_ops, slot_ops);
	ck_assert_uint_eq(st.slots_in_use, in_use);
	ck_assert_uint_eq(st.protected_pages, pages);
}

/* Run the vCPU at entry with ds at gpa's page and bx its offset. */
static int guest_run(uint16_t entry, uint64_t gpa, uint32_t eax)
{
	struct kvm_regs regs = { .rax = eax, .rbx = gpa & (PAGE - 1) };

	ck_assert_int_eq(minivm_real_mode(&vm, entry, gpa & ~(PAGE - 1),
					  &regs), 0);
	return minivm_run(&vm);
}

/* The guest stores value to gpa.  Returns 1 if that exited as MMIO (then
 * checked to be exactly this store), 0 if it went straight to RAM. */
static int guest_store(uint64_t gpa, uint32_t value)
{
	int exit = guest_run(STORE_CODE, gpa, value);
	uint32_t data;

	if (exit == KVM_EXIT_HLT)
		return 0;
	ck_assert_int_eq(exit, KVM_EXIT_MMIO);
	ck_assert_uint_eq(vm.run->mmio.is_write, 1);
	ck_assert_uint_eq(vm.run->mmio.phys_addr, gpa);
	ck_assert_uint_eq(vm.run->mmio.len, 4);
	memcpy(&data, vm.run->mmio.data, 4);
	ck_assert_uint_eq(data, value);
	/* Re-entering completes the store (as a VMM that emulated it would)
	 * and reaches the hlt. */
	ck_assert_int_eq(minivm_run(&vm), KVM_EXIT_HLT);
	return 1;
}

/* The guest loads from gpa: must not exit; returns what it read. */
static uint32_t guest_load(uint64_t gpa)
{
	struct kvm_regs regs;

	ck_assert_int_eq(guest_run(LOAD_CODE, gpa, 0), KVM_EXIT_HLT);
	ck_assert_int_eq(minivm_get_regs(&vm, &regs), 0);
	return (uint32_t)regs.rcx;
}

static uint32_t ram32(uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, ram + gpa, 4);
	return v;
}

#define RAM_WORD 0x5a5a5a5au

/* A store the guest makes to gpa goes straight into RAM. */
static void assert_writable(uint64_t gpa, uint32_t value)
{
	ck_assert_int_eq(guest_store(gpa, value), 0);
	ck_assert_uint_eq(ram32(gpa), value);
}

/* A store to gpa exits with its data, and RAM keeps what it had. */
static void assert_trapped(uint64_t gpa, uint32_t value)
{
	uint32_t before = ram32(gpa);

	ck_assert_int_eq(guest_store(gpa, value), 1);
	ck_assert_uint_eq(ram32(gpa), before);
}

/* (1) + (2) + (3): the basic contract of one protected page. */
START_TEST(store_traps_load_does_not)
{
	backend_new(0, 8);
	assert_slots(1, 1, 0);
	ck_assert_int_eq(prot.ops->protect(prot.be, P, PAGE), 0);
	/* [RW][RO][RW]: one delete, three creates. */
	assert_slots(1 + 4, 3, 1);

	assert_trapped(P + 0x10, 0x11223344);
	assert_trapped(P, 0xa1b2c3d4);
	assert_trapped(P + PAGE - 4, 0x01020304);
	ck_assert_uint_eq(ram32(P + 0x10), RAM_WORD);

	memcpy(ram + P + 0x20, &(uint32_t){ 0xcafef00d }, 4);
	ck_assert_uint_eq(guest_load(P + 0x20), 0xcafef00d);

	/* The pages on either side of the protected one stay writable. */
	assert_writable(P - 4, 0x55667788);
	assert_writable(P + PAGE, 0x99aabbcc);
	assert_writable(MB2 + 0x40, 0x13572468);
	/* Loads and writable stores made no slot change. */
	assert_slots(5, 3, 1);
}
END_TEST

/* (4): unprotect gives the page back to the guest and merges the slots. */
START_TEST(unprotect_restores_direct_stores)
{
	backend_new(0, 8);
	ck_assert_int_eq(prot.ops->protect(prot.be, P, PAGE), 0);
	assert_trapped(P + 8, 0xdeadbeef);
	ck_assert_int_eq(prot.ops->unprotect(prot.be, P, PAGE), 0);
	/* Slots are plentiful: the page's read-only slot becomes a
	 * read-write one of its own, one delete and one create. */
	assert_slots(5 + 2, 3, 0);
	assert_writable(P + 8, 0xdeadbeef);
	/* Unprotecting a page that is not protected changes nothing. */
	ck_assert_int_eq(prot.ops->unprotect(prot.be, P, PAGE), 0);
	assert_slots(7, 3, 0);
	/* Protecting it again is one delete and one create too. */
	ck_assert_int_eq(prot.ops->protect(prot.be, P, PAGE), 0);
	assert_slots(7 + 2, 3, 1);
	assert_trapped(P + 16, 0xfeedface);
	ck_assert_uint_gt(stats().slot_ns, 0);
}
END_TEST

/* Past half the budget a re-cut merges read-write neighbours again, so
 * the layout shrinks back. */
START_TEST(unprotect_merges_under_budget_pressure)
{
	backend_new(0, 4);
	ck_assert_int_eq(prot.ops->protect(prot.be, P, PAGE), 0);
	assert_slots(1 + 4, 3, 1);
	ck_assert_int_eq(prot.ops->unprotect(prot.be, P, PAGE), 0);
	/* Three pieces go, one read-write slot for the region comes back. */
	assert_slots(5 + 4, 1, 0);
	assert_writable(P + 8, 0xdeadbeef);
}
END_TEST

/* (5): merged, adjacent protected pages share one read-only slot. */
START_TEST(adjacent_pages_share_a_slot)
{
	backend_new_layout(0, 16, WPT_KVM_LAYOUT_MERGED);
	ck_assert_int_eq(prot.ops->protect(prot.be, P, PAGE), 0);
	ck_assert_int_eq(prot.ops->protect(prot.be, P + PAGE, PAGE), 0);
	/* Second: the RO and the RW after it go, RO x2 and RW come: 4 ops. */
	assert_slots(1 + 4 + 4, 3, 2);
	/* One page apart: a piece of its own; the RW after the pair splits
	 * into RW, RO, RW. */
	ck_assert_int_eq(prot.ops->protect(prot.be, P + 3 * PAGE, PAGE), 0);
	assert_slots(9 + 4, 5, 3);
	/* Filling the hole joins all four pages in one read-only slot:
	 * RO, RW hole, RO go; RO x4 comes. */
	ck_assert_int_eq(prot.ops->protect(prot.be, P + 2 * PAGE, PAGE), 0);
	assert_slots(13 + 4, 3, 4);
	assert_trapped(P, 1);
	assert_trapped(P + PAGE, 2);
	assert_trapped(P + 2 * PAGE, 3);
	assert_trapped(P + 3 * PAGE + 0xffc, 4);
	assert_writable(P + 4 * PAGE, 5);
	/* Unprotecting the middle splits it again. */
	ck_assert_int_eq(prot.ops->unprotect(prot.be, P + PAGE, 2 * PAGE), 0);
	assert_slots(17 + 4, 5, 2);
	assert_writable(P + PAGE, 6);
	assert_writable(P + 2 * PAGE + 0x80, 7);
	assert_trapped(P + 3 * PAGE, 8);
}
END_TEST

/* The default layout: each protected page has a read-only slot of its
 * own, so protecting or releasing a page next to another costs two
 * ioctls once it has been cut out, and its neighbours' stores still
 * exit. */
START_TEST(per_page_slots_cost_two_ioctls)
{
	backend_new(0, 16);
	ck_assert_int_eq(prot.ops->protect(prot.be, P, PAGE), 0);
	assert_slots(1 + 4, 3, 1);
	/* Next to it: the RW piece after P goes, RO and RW come. */
	ck_assert_int_eq(prot.ops->protect(prot.be, P + PAGE, PAGE), 0);
	assert_slots(5 + 3, 4, 2);
	assert_trapped(P + 0xffc, 1);
	assert_trapped(P + PAGE, 2);
	assert_writable(P + 2 * PAGE, 3);
	/* Released: a read-write slot of its own; P stays trapped. */
	ck_assert_int_eq(prot.ops->unprotect(prot.be, P, PAGE), 0);
	assert_slots(8 + 2, 4, 1);
	assert_writable(P + 0x10, 4);
	assert_trapped(P + PAGE + 0x10, 5);
	/* And again, twice: two ioctls each. */
	ck_assert_int_eq(prot.ops->protect(prot.be, P, PAGE), 0);
	ck_assert_int_eq(prot.ops->unprotect(prot.be, P + PAGE, PAGE), 0);
	assert_slots(10 + 2 + 2, 4, 1);
	assert_trapped(P + 0x20, 6);
	assert_writable(P + PAGE + 0x20, 7);
}
END_TEST

/* Past the budget the pieces merge: three pages protected one by one
 * take a read-only slot each while slots last, then share one. */
START_TEST(per_page_merges_when_the_budget_runs_out)
{
	backend_new(0, 4);
	ck_assert_int_eq(prot.ops->protect(prot.be, P, PAGE), 0);
	ck_assert_int_eq(prot.ops->protect(prot.be, P + PAGE, PAGE), 0);
	/* [RW][RO][RO][RW]: all four slots. */
	assert_slots(1 + 4 + 3, 4, 2);
	/* A fifth slot is not there: [RW][RO x3][RW]. */
	ck_assert_int_eq(prot.ops->protect(prot.be, P + 2 * PAGE, PAGE), 0);
	assert_slots(8 + 5, 3, 3);
	ck_assert_uint_eq(stats().slot_fallbacks, 3);
	assert_trapped(P, 1);
	assert_trapped(P + PAGE, 2);
	assert_trapped(P + 2 * PAGE + 0xffc, 3);
	assert_writable(P + 3 * PAGE, 4);
}
END_TEST

/* (5): with a 2 MiB granule a re-cut touches only the chunk it is in. */
START_TEST(granule_recuts_one_chunk)
{
	backend_new(MB2, 16);
	assert_slots(2, 2, 0);
	ck_assert_int_eq(prot.ops->protect(prot.be, MB2 + PAGE, PAGE), 0);
	/* Only the second chunk: one delete, three creates. */
	assert_slots(2 + 4, 4, 1);
	assert_trapped(MB2 + PAGE + 0x100, 0x0badf00d);
	assert_writable(MB2, 0x600dcafe);
	assert_writable(P, 0x12345678);
	/* A page at the start of a chunk: [RO][RW], one delete, two creates. */
	ck_assert_int_eq(prot.ops->protect(prot.be, 0, PAGE), 0);
	assert_slots(6 + 3, 5, 2);
	/* Next to it the code page, in a read-only slot of its own: the
	 * first chunk is [RO][RO][RW] now (the RW piece goes, RO and RW
	 * come), and instruction fetches from a read-only slot still work. */
	ck_assert_int_eq(prot.ops->protect(prot.be, CODE_GPA, PAGE), 0);
	assert_slots(9 + 3, 6, 3);
	assert_writable(P, 0x12345679);
	assert_trapped(CODE_GPA + 0x800, 0x12345679);
	/* Released lazily: the page gets a read-write slot of its own. */
	ck_assert_int_eq(prot.ops->unprotect(prot.be, MB2 + PAGE, PAGE), 0);
	assert_slots(12 + 2, 6, 2);
	assert_writable(MB2 + PAGE + 0x100, 0x0badf00d);
}
END_TEST

/* A range over a chunk boundary re-cuts both chunks; a slot never spans
 * two chunks, so the two pages sit in one read-only slot each. */
START_TEST(range_over_chunk_boundary)
{
	backend_new(MB2, 16);
	ck_assert_int_eq(prot.ops->protect(prot.be, MB2 - PAGE, 2 * PAGE), 0);
	assert_slots(2 + 3 + 3, 4, 2);
	assert_trapped(MB2 - 4, 0x11111111);
	assert_trapped(MB2, 0x22222222);
	assert_writable(MB2 - PAGE - 4, 0x33333333);
	assert_writable(MB2 + PAGE, 0x44444444);
	/* Each chunk: its read-only slot goes, a read-write one comes. */
	ck_assert_int_eq(prot.ops->unprotect(prot.be, MB2 - PAGE, 2 * PAGE), 0);
	assert_slots(8 + 2 + 2, 4, 0);
	assert_writable(MB2 - 4, 0x11111111);
	assert_writable(MB2, 0x22222222);
}
END_TEST

/* (6): a layout the budget cannot hold is refused whole, nothing moves. */
START_TEST(budget_refuses_and_changes_nothing)
{
	backend_new(0, 3);
	ck_assert_int_eq(prot.ops->protect(prot.be, P, PAGE), 0);
	assert_slots(5, 3, 1);
	/* A page apart would need five slots. */
	ck_assert_int_eq(prot.ops->protect(prot.be, P + 2 * PAGE, PAGE),
			 -ENOSPC);
	assert_slots(5, 3, 1);
	assert_writable(P + 2 * PAGE, 0x77777777);
	ck_assert_uint_eq(ram32(P + 2 * PAGE + 4), RAM_WORD);
	assert_trapped(P, 0x88888888);
	/* An adjacent page shares the read-only slot: it fits. */
	ck_assert_int_eq(prot.ops->protect(prot.be, P + PAGE, PAGE), 0);
	assert_slots(5 + 4, 3, 2);
	assert_trapped(P + PAGE, 0x99999999);
}
END_TEST

/*
 * A range over two chunks where one frees slots and the other needs more:
 * the budget holds the end state, and the freeing chunk goes first so no
 * step in between passes it.
 */
START_TEST(budget_counts_chunks_in_order)
{
	const uint64_t Q = MB2 + P; /* in the second chunk */

	backend_new(MB2, 6);
	ck_assert_int_eq(prot.ops->protect(prot.be, Q, PAGE), 0);
	ck_assert_int_eq(prot.ops->protect(prot.be, Q + 2 * PAGE, PAGE), 0);
	/* First chunk [RW], second [RW][RO][RW][RO][RW]: all six slots. */
	assert_slots(2 + 4 + 4, 6, 2);
	/* From the first chunk's last page to the hole: the first chunk
	 * becomes [RW][RO] (1 -> 2: one delete, two creates), the second
	 * [RO][RW] keeping its last RW piece (5 -> 2: four deletes, one
	 * create).  In address order the first would need a seventh slot. */
	ck_assert_int_eq(prot.ops->protect(prot.be, MB2 - PAGE,
					   Q + 3 * PAGE - (MB2 - PAGE)), 0);
	assert_slots(10 + (4 + 1) + (1 + 2), 4, (Q + 3 * PAGE - MB2) / PAGE + 1);
	assert_trapped(MB2 - 4, 0x21212121);
	assert_trapped(MB2, 0x12121212);
	assert_trapped(Q + PAGE, 0x56565656);
	assert_writable(MB2 - PAGE - 4, 0x34343434);
	assert_writable(Q + 3 * PAGE, 0x43434343);
}
END_TEST

/* (6): the initial layout alone may not fit the budget. */
START_TEST(budget_too_small_for_ram)
{
	struct wpt_kvm_cfg cfg = cfg_of(MB2, 1);

	ck_assert_int_eq(wpt_protect_kvm_new(&cfg, &gm, &prot), -ENOSPC);
	ck_assert_ptr_null(prot.ops);
	/* Nothing was registered: the whole RAM still fits one new slot. */
	cfg = cfg_of(0, 1);
	ck_assert_int_eq(wpt_protect_kvm_new(&cfg, &gm, &prot), 0);
	assert_writable(P, 0x10203040);
}
END_TEST

/*
 * A creation that KVM refuses midway: the VMM (wrongly) registered a slot
 * whose id lies in the backend's range, so re-using that id for a
 * read-only piece fails (KVM cannot change a slot's READONLY flag).  The
 * old layout comes back and the page stays writable.
 */
START_TEST(failed_create_restores_layout)
{
	static uint8_t foreign[4096] __attribute__((aligned(4096)));
	struct kvm_userspace_memory_region r = {
		.slot = 1, .guest_phys_addr = 0x10000000,
		.memory_size = sizeof(foreign),
		.userspace_addr = (uintptr_t)foreign,
	};
	int ret;

	ck_assert_int_eq(ioctl(vm.vm_fd, KVM_SET_USER_MEMORY_REGION, &r), 0);
	backend_new(0, 4); /* the region takes id 0 */
	ret = prot.ops->protect(prot.be, P, PAGE);
	ck_assert_int_lt(ret, 0);
	ck_assert_int_ne(ret, -ENOSPC);
	ck_assert_uint_eq(stats().slots_in_use, 1);
	ck_assert_uint_eq(stats().protected_pages, 0);
	assert_writable(P, 0xabcdef01);
	assert_writable(MB2, 0xabcdef02);
	memcpy(foreign + 0x40, &(uint32_t){ 0x0f0f0f0f }, 4);
	ck_assert_uint_eq(guest_load(0x10000040), 0x0f0f0f0f);
}
END_TEST

/* Ranges the tracker never sends; still refused, nothing changed. */
static const struct {
	uint64_t gpa, size;
} bad_ranges[] = {
	{ P, 0 },
	{ P + 0x800, PAGE },
	{ P, 0x800 },
	{ RAM_SIZE, PAGE },             /* outside RAM */
	{ RAM_SIZE - PAGE, 2 * PAGE },  /* runs off the end of RAM */
};

START_TEST(bad_range_refused)
{
	backend_new(0, 8);
	ck_assert_int_eq(prot.ops->protect(prot.be, bad_ranges[_i].gpa,
					   bad_ranges[_i].size), -EINVAL);
	ck_assert_int_eq(prot.ops->unprotect(prot.be, bad_ranges[_i].gpa,
					     bad_ranges[_i].size), -EINVAL);
	assert_slots(1, 1, 0);
}
END_TEST

/* (7): configurations the backend must refuse. */
enum { FD_VM, FD_NONE, FD_NOT_KVM };

static const struct bad_cfg {
	const char *what;
	int fd;
	uint32_t base, budget;
	uint64_t granule;
	uint16_t as_id;
	int err;
} bad_cfgs[] = {
	{ "no vm fd", FD_NONE, 0, 8, 0, 0, -EINVAL },
	{ "not a KVM fd", FD_NOT_KVM, 0, 8, 0, 0, -ENOTTY },
	{ "empty budget", FD_VM, 0, 0, 0, 0, -EINVAL },
	{ "granule not 4K", FD_VM, 0, 8, 0x800, 0, -EINVAL },
	{ "past NR_MEMSLOTS", FD_VM, 0, 0xfff0, 0, 0, -EINVAL },
	{ "past slot id bits", FD_VM, 0xffff, 2, 0, 0, -EINVAL },
	{ "no such address space", FD_VM, 0, 8, 0, 9, -EINVAL },
};

START_TEST(bad_cfg_refused)
{
	const struct bad_cfg *b = &bad_cfgs[_i];
	int null_fd = open("/dev/null", O_RDWR);
	struct wpt_kvm_cfg cfg = {
		.vm_fd = b->fd == FD_VM ? vm.vm_fd
			 : b->fd == FD_NOT_KVM ? null_fd : -1,
		.slot_base = b->base, .slot_budget = b->budget,
		.slot_granule = b->granule, .as_id = b->as_id,
	};

	ck_assert_int_ge(null_fd, 0);
	ck_assert_msg(wpt_protect_kvm_new(&cfg, &gm, &prot) == b->err,
		      "%s not refused with %d", b->what, b->err);
	ck_assert_ptr_null(prot.ops);
	ck_assert_int_eq(wpt_protect_kvm_new(NULL, &gm, &prot), -EINVAL);
	close(null_fd);
	/* Nothing was registered: a good cfg takes the same RAM. */
	backend_new(0, 8);
	assert_writable(P, 0x5150);
}
END_TEST

/* The backend turns KVM_X86_QUIRK_SLOT_ZAP_ALL off exactly where the
 * kernel offers it, and says so. */
START_TEST(zap_quirk_reported)
{
	int offered = ioctl(vm.vm_fd, KVM_CHECK_EXTENSION,
			    KVM_CAP_DISABLE_QUIRKS2);

	backend_new(0, 8);
	printf("KVM_CAP_DISABLE_QUIRKS2 offers %#x; zap_quirk_off %llu\n",
	       offered, (unsigned long long)stats().zap_quirk_off);
	ck_assert_uint_eq(stats().zap_quirk_off,
			  offered > 0 && (offered & (1 << 7)));
}
END_TEST

/* Free leaves every page read-write: the guest keeps running. */
START_TEST(free_leaves_ram_writable)
{
	backend_new(MB2, 8);
	ck_assert_int_eq(prot.ops->protect(prot.be, P, 2 * PAGE), 0);
	ck_assert_int_eq(prot.ops->protect(prot.be, MB2 + P, PAGE), 0);
	assert_trapped(P, 1);
	prot.ops->free(prot.be);
	prot.ops = NULL;
	assert_writable(P, 0x0a0b0c0d);
	assert_writable(P + PAGE, 0x0a0b0c0e);
	assert_writable(MB2 + P, 0x0a0b0c0f);
	assert_writable(P - PAGE, 0x0a0b0c10);
}
END_TEST

/* Two regions, each its own slots; a range in one region only. */
START_TEST(two_regions)
{
	struct wpt_ram_region r[2] = {
		{ .gpa = 0, .size = MB2, .hva = ram },
		{ .gpa = 3 * MB2, .size = MB2, .hva = ram + MB2 },
	};
	int exit;

	guestmem_fini(&gm);
	ck_assert_int_eq(guestmem_init(&gm, r, 2), 0);
	backend_new(0, 8);
	assert_slots(2, 2, 0);
	ck_assert_int_eq(prot.ops->protect(prot.be, 3 * MB2 + P, PAGE), 0);
	assert_slots(2 + 4, 4, 1);
	ck_assert_int_eq(prot.ops->protect(prot.be, MB2 - PAGE, 2 * PAGE),
			 -EINVAL);
	ck_assert_int_eq(guest_store(3 * MB2 + P, 0x31415926), 1);
	ck_assert_uint_eq(ram32(MB2 + P), RAM_WORD);
	assert_writable(P, 0x27182818);
	/* Between the regions there is no RAM at all: a plain MMIO exit. */
	exit = guest_run(STORE_CODE, MB2 + P, 1);
	ck_assert_int_eq(exit, KVM_EXIT_MMIO);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("protect_kvm");
	TCase *tc = tcase_create("kvm");
	SRunner *sr;
	int failed;

	kvm_require();
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, store_traps_load_does_not);
	tcase_add_test(tc, unprotect_restores_direct_stores);
	tcase_add_test(tc, unprotect_merges_under_budget_pressure);
	tcase_add_test(tc, adjacent_pages_share_a_slot);
	tcase_add_test(tc, per_page_slots_cost_two_ioctls);
	tcase_add_test(tc, per_page_merges_when_the_budget_runs_out);
	tcase_add_test(tc, granule_recuts_one_chunk);
	tcase_add_test(tc, range_over_chunk_boundary);
	tcase_add_test(tc, budget_refuses_and_changes_nothing);
	tcase_add_test(tc, budget_counts_chunks_in_order);
	tcase_add_test(tc, budget_too_small_for_ram);
	tcase_add_test(tc, failed_create_restores_layout);
	tcase_add_loop_test(tc, bad_range_refused, 0,
			    sizeof(bad_ranges) / sizeof(bad_ranges[0]));
	tcase_add_loop_test(tc, bad_cfg_refused, 0,
			    sizeof(bad_cfgs) / sizeof(bad_cfgs[0]));
	tcase_add_test(tc, zap_quirk_reported);
	tcase_add_test(tc, free_leaves_ram_writable);
	tcase_add_test(tc, two_regions);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
