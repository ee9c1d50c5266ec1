# ---- make check-kvm, and make bench without a usable /dev/kvm ----
# make check-kvm [NESTED=1] [KERNEL=... [MODULES=...]]
# Every test program that needs KVM (those calling kvm_require(), and
# test_protect_uffd, whose userfaultfd needs a privileged, standard
# kernel), linked statically, run on the host's /dev/kvm when it is
# usable, else (and always with NESTED=1) inside a TCG x86-64 guest whose
# Debian kernel has a standard KVM (SVM with nested paging): see
# scripts/kvm/check.sh.  Each program is bounded (KVM_PROG_TIMEOUT
# seconds); the closing line says where they ran.
# make bench on a machine without a usable /dev/kvm runs the same static
# wpt-bench inside that guest (scripts/kvm/bench.sh).
KVM_TESTS := $(sort $(basename $(notdir \
  $(shell grep -l 'kvm_require()' tests/unit/test_*.c bench/tests/test_*.c))) \
  test_protect_uffd)
KVM_DIR   := build/kvm
KVM_BINS  := $(KVM_TESTS:%=$(KVM_DIR)/%)
KVM_PROBE := $(KVM_DIR)/kvm-usable
KVM_BENCH := $(KVM_DIR)/wpt-bench
# Static: the nested guest has no libraries.  (Deferred: URCU_STATIC is
# set further down the Makefile.)  check's static library and
# its subunit dependency come with Debian's check package.  What the tests
# link besides the library (the simulator, the bench's VMM and SMMU, the
# minimal KVM guest) goes in through one archive, so each takes only the
# objects it uses.
KVM_PARTS := $(KVM_DIR)/libkvmparts.a
KVM_PART_OBJS = $(SIM_OBJS) $(BENCH_VMM_OBJS) $(BENCH_SMMU_OBJS) \
  $(BUILD)/tests/kvm/minivm.o
KVM_STATIC_LIBS = $(KVM_PARTS) lib/libwpt.a $(URCU_STATIC) \
  $(addprefix /usr/lib/x86_64-linux-gnu/,libcheck.a libsubunit.a) \
  -lpthread -lrt -lm
NESTED ?= 0

.PHONY: check-kvm kvm-deps
ifneq ($(SANITIZED),)
check-kvm:
	@$(MAKE) --no-print-directory SAN=0 TSAN=0 check-kvm
else
kvm-deps:
	@scripts/deps.sh --vfio
$(KVM_PARTS): $(KVM_PART_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
KVM_TEST_LINK = $(CC) $(CFLAGS) -I. -Itests -static $< $(LDFLAGS) \
  $(KVM_STATIC_LIBS) -o $@
$(KVM_DIR)/%: tests/unit/%.c $(KVM_PARTS) lib/libwpt.a | kvm-deps
	@mkdir -p $(dir $@)
	$(KVM_TEST_LINK)
$(KVM_DIR)/%: bench/tests/%.c $(KVM_PARTS) lib/libwpt.a | kvm-deps
	@mkdir -p $(dir $@)
	$(KVM_TEST_LINK)
$(KVM_PROBE): tests/kvm/usable.c tests/kvm/skip.h $(BUILD)/bench/vmm/probe.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -static $< $(BUILD)/bench/vmm/probe.o -o $@
$(KVM_BENCH): $(BENCH_PROG_OBJS) $(BENCH_VMM_OBJS) $(BENCH_SMMU_OBJS) \
    lib/libwpt.a | kvm-deps
	@mkdir -p $(dir $@)
	$(CC) -static $(LDFLAGS) $(filter %.o %.a,$^) $(URCU_STATIC) -lpthread -lm -o $@
check-kvm: $(KVM_BINS) $(KVM_PROBE)
	@NESTED='$(NESTED)' KERNEL='$(KERNEL)' MODULES='$(MODULES)' \
	  scripts/kvm/check.sh $(KVM_DIR) $(KVM_PROBE) $(KVM_BINS)
endif
# The bench in the nested guest (make bench chooses it): the table on
# stdout, bench/results/latest.json copied out and its chart drawn here
# (the guest has no gnuplot).  BENCH_TIMEOUT bounds the guest (seconds).
.PHONY: bench-nested
# The probe only says why the host's KVM was not used.
bench-nested: $(KVM_BENCH) $(KVM_PROBE) | kvm-deps
	@KERNEL='$(KERNEL)' MODULES='$(MODULES)' KVM_PROBE='$(KVM_PROBE)' \
	  scripts/kvm/bench.sh \
	  $(KVM_DIR)/bench $(KVM_BENCH) $(if $(filter 1,$(QUICK)),--quick) \
	  $(BENCH_ARGS)
# ---- end check-kvm ----
