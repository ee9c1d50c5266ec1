# ---- make check-arm64: the library on a real arm64 KVM (its own block) ----
# make check-arm64 [ARM64_TIMEOUT=300]
# Downloads (once, kept in build/arm64/) Debian's arm64 kernel, busybox
# and liburcu as .debs through a private APT setup (scripts/arm64/: the
# host's dpkg never gains the architecture), cross-builds the library
# and tests/arm64/ (a VMM and its freestanding A64 guest) statically with
# aarch64-linux-gnu-gcc, and runs them inside qemu-system-aarch64 (TCG,
# virt with EL2): there /dev/kvm is a real VHE KVM.  scripts/arm64/check.sh
# prints a line per test and "check-arm64: N passed, N failed, N skipped".
# Never sanitized: SAN=1/TSAN=1 only change the host build.
ARM64_OUT     := build/arm64
ARM64_CC      := aarch64-linux-gnu-gcc
ARM64_OBJCOPY := aarch64-linux-gnu-objcopy
ARM64_SYSROOT := $(ARM64_OUT)/sysroot
ARM64_ENV     := $(ARM64_OUT)/env.sh
ARM64_BIN     := $(ARM64_OUT)/wpt-arm64-test
ARM64_TIMEOUT ?= 300
ARM64_CFLAGS  := -O2 -g -std=gnu11 -Wall -Wextra -Wno-unused-parameter \
  -Iinclude -Ilib -D_GNU_SOURCE \
  -isystem $(ARM64_SYSROOT)/usr/include/aarch64-linux-gnu \
  -isystem $(ARM64_SYSROOT)/usr/include
# The guest: no FP/SIMD from the compiler (its SIMD stores are written by
# hand), no outline atomics (each store class is the instruction named).
ARM64_GUEST_CFLAGS := -O2 -g -std=gnu11 -Wall -Wextra -ffreestanding \
  -fno-builtin -nostdlib -fno-pic -fno-pie -fno-stack-protector \
  -fno-asynchronous-unwind-tables -mgeneral-regs-only -mno-outline-atomics \
  -march=armv8.1-a
ARM64_URCU    := $(addprefix $(ARM64_SYSROOT)/usr/lib/aarch64-linux-gnu/liburcu-,bp.a cds.a common.a)
ARM64_LIB_OBJS := $(LIB_SRCS:%.c=$(ARM64_OUT)/obj/%.o)
ARM64_TEST_OBJS := $(patsubst %.c,$(ARM64_OUT)/obj/%.o,$(wildcard tests/arm64/*.c)) \
  $(ARM64_OUT)/obj/tests/arm64/image.o
ARM64_GUEST_OBJS := $(patsubst %,$(ARM64_OUT)/%.o,$(wildcard tests/arm64/guest/*.c tests/arm64/guest/*.S))

.PHONY: check-arm64 arm64-deps
arm64-deps:
	@scripts/deps.sh --arm64
# Kernel, busybox, liburcu: what fetch.sh prints, for check.sh to eval.
$(ARM64_ENV): scripts/arm64/fetch.sh scripts/arm64/fetch-kernel.sh \
    scripts/arm64/fetch-debs.sh scripts/arm64/apt.sh | arm64-deps
	@mkdir -p $(dir $@)
	scripts/arm64/fetch.sh $(ARM64_OUT) > $@.tmp && mv $@.tmp $@

$(ARM64_OUT)/obj/%.o: %.c | $(ARM64_ENV)
	@mkdir -p $(dir $@)
	$(ARM64_CC) $(ARM64_CFLAGS) -MMD -MP -c $< -o $@
$(ARM64_OUT)/tests/arm64/guest/%.c.o: tests/arm64/guest/%.c | arm64-deps
	@mkdir -p $(dir $@)
	$(ARM64_CC) $(ARM64_GUEST_CFLAGS) -MMD -MP -c $< -o $@
$(ARM64_OUT)/tests/arm64/guest/%.S.o: tests/arm64/guest/%.S | arm64-deps
	@mkdir -p $(dir $@)
	$(ARM64_CC) $(ARM64_GUEST_CFLAGS) -MMD -MP -c $< -o $@
$(ARM64_OUT)/guest.bin: $(ARM64_GUEST_OBJS) tests/arm64/guest/guest.ld
	$(ARM64_CC) -nostdlib -static -Wl,-T,tests/arm64/guest/guest.ld \
	  -Wl,--build-id=none $(ARM64_GUEST_OBJS) -o $(ARM64_OUT)/guest.elf
	$(ARM64_OBJCOPY) -O binary $(ARM64_OUT)/guest.elf $@
$(ARM64_OUT)/obj/tests/arm64/image.o: tests/arm64/image.S $(ARM64_OUT)/guest.bin
	@mkdir -p $(dir $@)
	$(ARM64_CC) -DA64T_GUEST_BIN='"$(ARM64_OUT)/guest.bin"' -c $< -o $@
# -Wl,--wrap=ioctl: the re-cut runs hold a deleted slot's gap open
# (tests/kvm/widen.h, included by tests/arm64/recut.c).
$(ARM64_BIN): $(ARM64_TEST_OBJS) $(ARM64_LIB_OBJS)
	$(ARM64_CC) -static -Wl,--wrap=ioctl $^ $(ARM64_URCU) -lpthread -o $@

check-arm64: arm64-deps $(ARM64_BIN)
	@ARM64_TIMEOUT=$(ARM64_TIMEOUT) scripts/arm64/check.sh $(ARM64_OUT) $(ARM64_BIN)
# ---- end make check-arm64 ----
