# ---- bench/: the strategy bench and its tests ----
# One folder per part, each linked only where it is used:
#   bench/vmm/    the KVM VMM (VM, memslots, vCPU loop, single steps, x86
#                 state, the userfaultfd service), with the guest image
#   bench/smmu/   the SMMUv3-style device the guest drives
#   bench/guest/  the freestanding guest (its own flags: no sanitizers, no
#                 SSE since KVM cannot emulate vector stores to a read-only
#                 slot), embedded as a flat image; its driver also builds
#                 hosted, for bench/tests/test_bench_driver.c
#   bench/*.c     the bench program: options, runs, counting, the report
#   bench/tests/  the bench's tests, run by `make check` with the others
BENCH_VMM_OBJS  := $(patsubst %.c,$(BUILD)/%.o,$(wildcard bench/vmm/*.c)) \
                   $(BUILD)/bench/guest_image.o
BENCH_SMMU_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard bench/smmu/*.c))
BENCH_PROG_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard bench/*.c))
# The guest's driver and workloads compiled for the host (the platform
# layer, plat.h, is the test's).
BENCH_DRV_HOSTED := $(patsubst %.c,$(BUILD)/%.o,$(filter-out \
  bench/guest/main.c bench/guest/lib.c bench/guest/plat_guest.c, \
  $(wildcard bench/guest/*.c)))
GUEST_SRCS := $(wildcard bench/guest/*.c bench/guest/*.S)
GUEST_OBJS := $(patsubst %,$(BUILD)/%.o,$(GUEST_SRCS))
GUEST_CFLAGS := -O2 -g -std=gnu11 -Wall -Wextra -Wno-unused-parameter \
  -ffreestanding -fno-builtin -fno-pic -fno-pie -fno-stack-protector \
  -fno-asynchronous-unwind-tables -mno-red-zone -mcmodel=small \
  -mno-mmx -mno-sse -mno-sse2 -mno-avx -fcf-protection=none -Ibench

BENCH_BIN := $(if $(SANITIZED),$(BUILD)/bench/wpt-bench,bench/wpt-bench)

$(BUILD)/bench/guest/%.c.o: bench/guest/%.c bench/abi.h
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/bench/guest/%.S.o: bench/guest/%.S
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/bench/guest.elf: $(GUEST_OBJS) bench/guest/guest.ld
	$(CC) -nostdlib -static -Wl,-T,bench/guest/guest.ld \
	  -Wl,--build-id=none $(GUEST_OBJS) -o $@
$(BUILD)/bench/guest.bin: $(BUILD)/bench/guest.elf
	objcopy -O binary $< $@
# The image goes into the host programs, so they run from anywhere.
$(BUILD)/bench/guest_image.o: $(BUILD)/bench/guest.bin
	printf '\t.section .rodata\n\t.balign 64\n\t.globl bench_guest_image, bench_guest_image_end\nbench_guest_image:\n\t.incbin "%s"\nbench_guest_image_end:\n\t.section .note.GNU-stack,"",@progbits\n' $< > $(BUILD)/bench/guest_image.S
	$(CC) -c $(BUILD)/bench/guest_image.S -o $@

$(BENCH_BIN): $(BENCH_PROG_OBJS) $(BENCH_VMM_OBJS) $(BENCH_SMMU_OBJS) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(LTO) $^ $(LIBS) -lm -o $@

# The bench's tests: binaries beside the others in $(BUILD)/tests/, each
# linked with the parts it tests.
BENCH_TESTS := $(patsubst bench/tests/%.c,$(BUILD)/tests/%,$(wildcard bench/tests/test_*.c))
$(BUILD)/tests/test_bench_report: $(BUILD)/bench/report.o $(BUILD)/bench/sweep.o \
  $(BUILD)/bench/results_read.o
$(BUILD)/tests/test_bench_probe: $(BUILD)/bench/vmm/probe.o
$(BUILD)/tests/test_bench_smmu: $(BENCH_SMMU_OBJS)
$(BUILD)/tests/test_bench_driver: $(BENCH_SMMU_OBJS) $(BENCH_DRV_HOSTED)
$(BUILD)/tests/test_bench_vmm: $(BENCH_VMM_OBJS)
$(BUILD)/tests/test_bench_kick: $(BUILD)/bench/vmm/uffd_service.o
$(BUILD)/tests/test_bench_guest: $(BENCH_VMM_OBJS) $(BENCH_SMMU_OBJS)
$(BENCH_TESTS): $(BUILD)/tests/%: $(BUILD)/bench/tests/%.o $(LIBA)
	@mkdir -p $(dir $@)
	$(TEST_LINK)
# ---- end bench/ ----
