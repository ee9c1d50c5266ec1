# wptrack build.  Plain make; objects out of tree under $(BUILD)/.
#   make                  lib/libwpt.a, lib/libwpt.so(.0), tools
#   make check            build and run every test (installs deps if root)
#   make check SAN=1      the same under ASan + UBSan, in build-san/
#   make check TSAN=1     the same under ThreadSanitizer, in build-tsan/
#   make install PREFIX=/usr/local [DESTDIR=...], make uninstall
#   make clean

CC      ?= gcc
SAN     ?= 0
PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
VERSION := 0.1.0
SOMAJOR := 0

PKGS    := liburcu-bp liburcu-cds
# Install (as root) or name the missing Debian packages before anything is
# parsed further: pkg-config below needs them.  `make clean` needs nothing.
ifneq ($(MAKECMDGOALS),clean)
DEPS_OK := $(shell scripts/deps.sh 1>&2 && echo yes)
ifneq ($(DEPS_OK),yes)
$(error missing build dependencies; see the deps: lines above)
endif
endif

CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -fPIC \
           -Iinclude -Ilib -D_GNU_SOURCE
ifeq ($(DEPS_OK),yes)
CFLAGS  += $(shell pkg-config --cflags $(PKGS) check)
LIBS    := $(shell pkg-config --libs $(PKGS)) -lpthread
CHECK_LIBS := $(shell pkg-config --libs check)
endif

ifeq ($(SAN),1)
BUILD   := build-san
CFLAGS  += -fsanitize=address,undefined -fno-sanitize-recover=all \
           -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
LIBA    := $(BUILD)/libwpt.a
else
BUILD   := build
LIBA    := lib/libwpt.a
endif

# ---- TSAN=1: ThreadSanitizer ----
# Objects, library, tests and tools in build-tsan/, like SAN=1.  liburcu
# is not instrumented, so TSan cannot see its grace periods: the
# suppressions in tests/tsan.supp say which of its internals are excused
# (never a frame of lib/).  halt_on_error: the first report fails the test.
TSAN    ?= 0
SANITIZED := $(filter 1,$(SAN) $(TSAN))
ifeq ($(TSAN),1)
ifeq ($(SAN),1)
$(error SAN=1 and TSAN=1 cannot be combined)
endif
BUILD   := build-tsan
CFLAGS  += -fsanitize=thread -fno-omit-frame-pointer
# gcc warns that TSan does not model lib/vm.c's fences (-Wtsan, which clang
# lacks): the accesses those fences order are all atomic, so TSan has
# nothing to misreport there; it only cannot check the fences themselves.
CFLAGS  += $(if $(findstring clang,$(shell $(CC) --version 2>/dev/null)),,-Wno-tsan)
LDFLAGS += -fsanitize=thread
LIBA    := $(BUILD)/libwpt.a
export TSAN_OPTIONS := suppressions=$(CURDIR)/tests/tsan.supp halt_on_error=1 \
  second_deadlock_stack=1 $(TSAN_OPTIONS)
endif
# ---- end TSAN=1 ----
LIBSO   := lib/libwpt.so.$(SOMAJOR)

LIB_SRCS  := $(wildcard lib/*.c lib/*/*.c)
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)

# The library's objects carry GCC's LTO code beside the plain code (fat
# objects): the shared library and the benches link with -flto, so a
# trapped store's path inlines across lib/'s files (its stages are one
# file each, and calls between them were a fifth of its instructions);
# everything else (tests, tools, a user's static link without -flto)
# links the plain code.  Not under the sanitizers, nor with clang.
ifeq ($(SANITIZED)$(findstring clang,$(shell $(CC) --version 2>/dev/null)),)
LTO       := -flto=auto
$(LIB_OBJS): CFLAGS += $(LTO) -ffat-lto-objects
endif
# And at -O3 (unless sanitized: the sanitizers' builds keep their own
# level): against -O2, in three microbench runs side by side, a trapped
# store cost about 10% less CPU and a walk up to 15% less.  Functions
# start on a cache line: without, where a change happened to move code
# decided a store's cost by up to 12% (a 1K store that unmaps through the
# record sink read 88 or 99 ns side by side, the change off its path).
# Loops start on 32 bytes, for the same reason: with the page caches'
# second way (fibhash.h), the record sink's store that maps read 103-112
# ns at 64K and 1M pages against 87-89 with it, built either way in turn.
ifeq ($(SANITIZED),)
LIB_OPT   ?= -O3 -falign-functions=64 -falign-loops=32
$(LIB_OBJS): CFLAGS += $(LIB_OPT)
endif
TOOLS     := tools/wpt-replay tools/wpt-tracegen
ifneq ($(SANITIZED),)
TOOL_BINS := $(TOOLS:tools/%=$(BUILD)/tools/%)
else
TOOL_BINS := $(TOOLS)
endif

.DEFAULT_GOAL := all
include mk/sim.mk
include mk/bench.mk
include mk/tests.mk
include mk/slots.mk

.PHONY: all deps check clean install bench check-vfio vfio-deps
all: $(BENCH_BIN) $(LIBA) $(if $(SANITIZED),,$(LIBSO)) $(TOOL_BINS)

deps:
	@scripts/deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIBA): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && gcc-ar rcs $@ $^

$(LIBSO): $(LIB_OBJS) lib/libwpt.map
	$(CC) -shared -Wl,-soname,libwpt.so.$(SOMAJOR) \
	  -Wl,--version-script=lib/libwpt.map $(LDFLAGS) $(LTO) -o $@ \
	  $(LIB_OBJS) $(LIBS)
	ln -sf libwpt.so.$(SOMAJOR) lib/libwpt.so

# Tools link their own objects, the simulator archive (the tracegen's guest
# model) and the static library.
REPLAY_OBJS := $(patsubst %.c,$(BUILD)/%.o,tools/wpt-replay.c tools/replay_commands.c \
                 tools/replay_syntax.c tools/replay_verify.c)
TRACEGEN_OBJS := $(BUILD)/tools/wpt-tracegen.o
TOOLDIR := $(if $(SANITIZED),$(BUILD)/tools,tools)

$(TOOLDIR)/wpt-replay: $(REPLAY_OBJS) $(LIBA)
$(TOOLDIR)/wpt-tracegen: $(TRACEGEN_OBJS) $(SIM_LIB) $(LIBA)
$(TRACEGEN_OBJS): CFLAGS += -I.
$(TOOL_BINS):
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(filter %.o %.a,$^) $(LIBS) -o $@

# Keep objects make would otherwise treat as intermediate.
.SECONDARY:

# make check-kvm, and the nested guest the bench uses without /dev/kvm
include mk/kvm.mk

# make bench [QUICK=1] [NESTED=1] [BENCH_ARGS="--workloads ... --strategies ..."]
# The microbench (no KVM) first; then the strategy bench on the host's
# KVM, or without a usable /dev/kvm (or with NESTED=1) in check-kvm's
# nested guest: bench-nested in mk/kvm.mk.
bench: $(BENCH_BIN) $(KVM_PROBE)
	@scripts/deps.sh --bench
	@$(MAKE) --no-print-directory microbench
	@if NESTED='$(NESTED)' scripts/kvm/where.sh $(KVM_PROBE) >/dev/null; then \
	  echo $(BENCH_BIN) $(if $(filter 1,$(QUICK)),--quick) $(BENCH_ARGS); \
	  $(BENCH_BIN) $(if $(filter 1,$(QUICK)),--quick) $(BENCH_ARGS); \
	else $(MAKE) --no-print-directory bench-nested; fi

check: all $(TESTS) check-structure
	@scripts/run-tests.sh $(BUILD) $(TESTS)
	@scripts/run-traces.sh $(filter %wpt-replay,$(TOOL_BINS)) \
	  $(filter %wpt-tracegen,$(TOOL_BINS))

# The shape of lib/: files of at most 500 lines, functions of at most 60
# (bench/: 600 and 80), and calls between its files that flow one way (no
# cycle in the graph of which object uses which one's symbols).
.PHONY: check-structure
check-structure: $(LIB_OBJS)
	@CC=$(CC) tests/structure/selftest.sh
	@scripts/check-structure.sh $(BUILD) lib 500 60 bench 600 80

# ---- make check-threads: the tests where threads meet ----
# The tests where library calls run on several threads at once: the stress
# tests (threads; two real vCPUs with a verifying thread), the exit path,
# the tracker, the single-step path on KVM and the bench guest (two vCPUs
# among its runs).  CI runs them under ThreadSanitizer,
# `make check-threads TSAN=1` (about 3 minutes here with the build).  All
# of `make check TSAN=1` builds, but runs far longer (the property and
# guest-model tests are slow under TSan, and single-threaded), and
# test_hostile_catalog's malloc wrapper clashes with TSan's.
THREAD_TESTS := $(addprefix $(BUILD)/tests/,test_stress test_stress_kvm \
  test_vm test_wp_tracker test_singlestep_kvm test_bench_guest \
  test_bench_vmm test_recut)
.PHONY: check-threads
check-threads: $(THREAD_TESTS)
	@scripts/run-tests.sh $(BUILD) $(THREAD_TESTS)
# ---- end check-threads ----

# make check-vfio [KERNEL=vmlinux-or-bzImage [MODULES=.../lib/modules/VER]]
# Boots Debian's kernel (or KERNEL) under QEMU/TCG on q35 with an emulated
# Intel IOMMU and QEMU's edu DMA device, binds edu to vfio-pci there and
# runs tests/vfio/ in the guest (scripts/vfio/check.sh; VFIO_TIMEOUT=240
# seconds and VFIO_SMP=2 vCPUs by default).  The guest's test is one static
# binary and never sanitized: SAN=1 builds it in build/ too.
VFIO_SRCS := $(wildcard tests/vfio/*.c)
VFIO_BIN  := build/vfio/wpt-vfio-test
URCU_STATIC := $(addprefix /usr/lib/x86_64-linux-gnu/liburcu-,bp.a cds.a common.a)
ifneq ($(SANITIZED),)
check-vfio:
	@$(MAKE) --no-print-directory SAN=0 TSAN=0 check-vfio
else
vfio-deps:
	@scripts/deps.sh --vfio
	@[ -n "$(VFIO_SRCS)" ] || { echo "check-vfio: no test program: tests/vfio/*.c is missing" >&2; \
	  echo "check-vfio: 0 passed, 1 failed"; exit 1; }
$(VFIO_BIN): $(VFIO_SRCS:%.c=build/%.o) lib/libwpt.a | vfio-deps
	@mkdir -p $(dir $@)
	$(CC) -static $(LDFLAGS) $(filter %.o,$^) lib/libwpt.a $(URCU_STATIC) \
	  -lpthread -o $@
check-vfio: vfio-deps $(VFIO_BIN)
	@KERNEL='$(KERNEL)' MODULES='$(MODULES)' scripts/vfio/check.sh \
	  build/vfio $(VFIO_BIN)
endif

include mk/arm64.mk

# ---- tests/vfio/sim: the VFIO test on the host ----
# The in-guest test program (tests/vfio/*.c, its main included) linked with
# a fake kernel (VFIO type1, iommufd, the device cdev, edu's DMA behind an
# IOMMU) that takes its system calls through -Wl,--wrap, so `make check`
# runs the type1 and iommufd paths here.  The guest's binary never links
# tests/vfio/sim/.
VFIO_SIM      := $(BUILD)/tests/vfio-sim
VFIO_SIM_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/vfio/*.c tests/vfio/sim/*.c))
VFIO_SIM_WRAP := main open close access ioctl mmap munmap pread pwrite read \
                 write fopen opendir uname nanosleep edu_probe
ifneq ($(wildcard tests/vfio/sim/*.c),)
TESTS += $(VFIO_SIM)
check: $(VFIO_SIM)
endif
$(VFIO_SIM): $(VFIO_SIM_OBJS) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(VFIO_SIM_OBJS) $(LIBA) \
	  $(foreach f,$(VFIO_SIM_WRAP),-Wl,--wrap=$(f)) $(LIBS) -o $@
# ---- end tests/vfio/sim ----

# ---- make fuzz: the libFuzzer harness ----
# make fuzz [FUZZ_TIME=600] [FUZZ_ARGS=...]: tests/fuzz/fuzz_replay.c (every
# input a trace, replayed with every --verify invariant checked after each
# command) under clang's libFuzzer with ASan + UBSan, built in build-fuzz/,
# for FUZZ_TIME seconds (10 minutes by default).  Seeds: tests/traces/,
# tests/fuzz/seeds/, tests/fuzz/regress/ and a few wpt-tracegen traces,
# mutated with the words of tests/fuzz/trace.dict; what it learns stays
# in build-fuzz/corpus/ for the next run; a finding is written to
# build-fuzz/crash-* (or timeout-*, oom-*, leak-*) and fails the run.
# Needs clang's fuzzer runtime (Debian: libclang-rt-14-dev, which clang-14
# only recommends; `scripts/deps.sh --fuzz` installs it as root): without
# it `make fuzz` names the package and fails; `make check` never needs it.
# make check replays tests/fuzz/regress/ (inputs the fuzzer once broke),
# the seeds and tests/traces/ through the same harness and bounds, built
# with $(CC) and a plain main (tests/fuzz/standalone.c).
FUZZ_CC    ?= clang
FUZZ_TIME  ?= 600
FUZZ_ARGS  ?=
FUZZ_DIR   := build-fuzz
FUZZ_BIN   := $(FUZZ_DIR)/fuzz-replay
FUZZ_SAN   := -fsanitize=address,undefined -fno-sanitize-recover=all \
              -fno-omit-frame-pointer
FUZZ_CFLAGS := $(filter-out -O% -fsanitize=% -fno-sanitize-recover=%,$(CFLAGS)) \
               -O2 -Itools $(FUZZ_SAN)
REPLAY_ENGINE := tools/replay_commands.c tools/replay_syntax.c \
                 tools/replay_verify.c
FUZZ_OBJS  := $(patsubst %.c,$(FUZZ_DIR)/%.o,$(LIB_SRCS) $(REPLAY_ENGINE) \
                tests/fuzz/fuzz_replay.c)
FUZZ_TRACEGEN := $(filter %wpt-tracegen,$(TOOL_BINS))
FUZZ_REGRESS  := $(BUILD)/tests/fuzz-replay-regress

.PHONY: fuzz fuzz-deps fuzz-regress fuzz-clean
fuzz-deps:
	@scripts/deps.sh --fuzz --check || { echo "make fuzz: clang's fuzzer" \
	  "runtime is missing (install the package named above, or run" \
	  "scripts/deps.sh --fuzz as root)" >&2; exit 1; }

$(FUZZ_DIR)/%.o: %.c | fuzz-deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_EXTRA) -fsanitize=fuzzer-no-link \
	  -MMD -MP -c $< -o $@

$(FUZZ_BIN): $(FUZZ_OBJS)
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) $^ $(LIBS) -o $@

# Seeds: the shipped traces and generated ones over the formats, granules
# and modes (short: every command of an input is verified, so a long input
# is a slow one).
fuzz: fuzz-deps $(FUZZ_BIN) $(FUZZ_TRACEGEN)
	@rm -rf $(FUZZ_DIR)/seeds && mkdir -p $(FUZZ_DIR)/seeds $(FUZZ_DIR)/corpus
	@cp tests/traces/*.trace tests/fuzz/seeds/*.trace $(FUZZ_DIR)/seeds/
	@n=0; for a in "--fmt s1 --granule 4k" \
	  "--fmt s1 --granule 16k --mode hybrid" \
	  "--fmt s1 --granule 64k --mode inval --hpd 1" \
	  "--fmt s2 --granule 4k --mode trap,inval" \
	  "--fmt s2 --granule 64k --mode hybrid,trap" \
	  "--fmt s1 --granule 4k --mode trap,hybrid,inval --domains 3"; do \
	  n=$$((n + 1)); $(FUZZ_TRACEGEN) --seed $$n --ops 8 $$a \
	    > $(FUZZ_DIR)/seeds/gen-$$n.trace || exit 1; done
	$(FUZZ_BIN) -max_total_time=$(FUZZ_TIME) -max_len=8192 -timeout=10 \
	  -dict=tests/fuzz/trace.dict \
	  -rss_limit_mb=2048 -print_final_stats=1 \
	  -artifact_prefix=$(FUZZ_DIR)/ $(FUZZ_ARGS) \
	  $(FUZZ_DIR)/corpus $(FUZZ_DIR)/seeds $(wildcard tests/fuzz/regress)

$(FUZZ_REGRESS): tests/fuzz/fuzz_replay.c tests/fuzz/standalone.c \
    $(REPLAY_ENGINE:%.c=$(BUILD)/%.o) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itools $(filter %.c %.o %.a,$^) $(LDFLAGS) $(LIBS) -o $@

fuzz-regress: $(FUZZ_REGRESS)
	@$(FUZZ_REGRESS) $(wildcard tests/fuzz/regress/*) tests/fuzz/seeds \
	  tests/traces/*.trace \
	  > $(BUILD)/fuzz-replay-regress.log 2>&1 && \
	  echo "PASS  fuzz-replay-regress ($$(grep -c ^PASS \
	    $(BUILD)/fuzz-replay-regress.log) inputs)" || \
	  { echo "FAIL  fuzz-replay-regress"; \
	    tail -n 30 $(BUILD)/fuzz-replay-regress.log; exit 1; }
check: fuzz-regress

fuzz-clean:
	rm -rf $(FUZZ_DIR)
clean: fuzz-clean
-include $(shell find $(FUZZ_DIR) -name '*.d' 2>/dev/null)
# ---- end make fuzz ----

include mk/packaging.mk mk/deb.mk
include mk/kvmtool.mk

clean:
	rm -rf build build-san build-tsan lib/libwpt.a lib/libwpt.so lib/libwpt.so.* \
	  $(TOOLS) bench/wpt-bench wpt.pc

include mk/microbench.mk
include mk/recut.mk
include mk/qemu.mk

# Dependency files, but not: QEMU's trees (build/qemu-*, with directories
# named *.d), nor the dependencies of tests once compiled and linked in one
# step ($(BUILD)/tests/test_*.d), which name sources that have moved since,
# so a tree built before still builds.
-include $(shell find build build-san build-tsan -path 'build/qemu-*' -prune \
  -o -name '*.d' -type f ! -regex '[^/]*/tests/test_[^/]*\.d' -print \
  2>/dev/null)
-include mk/hardening.mk
include mk/faultinj.mk
