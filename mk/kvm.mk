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
KVM_TESTS := $(sort $(patsubst tests/unit/%.c,%,\
  $(shell grep -l 'kvm_require()' tests/unit/test_*.c)) test_protect_uffd)
KVM_DIR   := build/kvm
KVM_BINS  := $(KVM_TESTS:%=$(KVM_DIR)/%)
KVM_PROBE := $(KVM_DIR)/kvm-usable
KVM_BENCH := $(KVM_DIR)/wpt-bench
# Static: the nested guest has no libraries.  (Deferred: URCU_STATIC is
# set further down the Makefile.)  check's static library and
# its subunit dependency come with Debian's check package.
KVM_STATIC_LIBS = lib/libwpt.a $(URCU_STATIC) \
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
$(KVM_DIR)/%: tests/unit/%.c $(SIM_OBJS) $(BENCH_OBJS) lib/libwpt.a | kvm-deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -static $< $(SIM_OBJS) $(BENCH_OBJS) \
	  $(LDFLAGS) $(KVM_STATIC_LIBS) -o $@
$(KVM_PROBE): tests/kvm/usable.c tests/kvm/skip.h build/bench/probe.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -static $< build/bench/probe.o -o $@
$(KVM_BENCH): $(BUILD)/bench/wpt-bench.o $(BENCH_OBJS) lib/libwpt.a | kvm-deps
	@mkdir -p $(dir $@)
	$(CC) -static $(LDFLAGS) $(filter %.o %.a,$^) $(URCU_STATIC) -lpthread -lm -o $@
check-kvm: $(KVM_BINS) $(KVM_PROBE)
	@NESTED='$(NESTED)' KERNEL='$(KERNEL)' MODULES='$(MODULES)' \
	  scripts/kvm/check.sh $(KVM_DIR) $(KVM_PROBE) $(KVM_BINS)
endif
# The bench in the nested guest (make bench chooses it): the table on
# stdout, bench/results/latest.json copied out; no chart (the guest has
# no gnuplot).  BENCH_TIMEOUT bounds the guest (seconds).
.PHONY: bench-nested
bench-nested: $(KVM_BENCH) | kvm-deps
	@KERNEL='$(KERNEL)' MODULES='$(MODULES)' scripts/kvm/bench.sh \
	  $(KVM_DIR)/bench $(KVM_BENCH) $(if $(filter 1,$(QUICK)),--quick) \
	  $(BENCH_ARGS)
# ---- end check-kvm ----
