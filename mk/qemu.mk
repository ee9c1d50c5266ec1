# ---- vmm-glue/qemu: QEMU's SMMUv3 with wptrack ----
# make qemu         Debian bookworm's QEMU source (apt-get source, once, as
#                   root) with vmm-glue/qemu/patches applied, built for
#                   aarch64-softmmu only, in build/qemu-build; a change of the
#                   series or of libwpt rebuilds in seconds.
# make check-qemu   boots Debian's arm64 kernel under TCG behind the SMMUv3
#                   with wpt=on and x-wpt-verify=on (scripts/qemu/check.sh).
# make qemu-arm64   the same tree cross-built static for an arm64 host (KVM),
#                   in build/qemu-build-arm64.
# make check-qemu-kvm  that QEMU with KVM three levels deep, edu passed
#                   through with vfio-pci (scripts/qemu/kvm.sh); not in CI.
QEMU_SRC    := build/qemu-src
QEMU_TREE   := build/qemu-tree
QEMU_BUILD  := build/qemu-build
QEMU_WPT    := build/qemu-wpt
QEMU_SERIES := vmm-glue/qemu/patches
QEMU_BIN    := $(QEMU_BUILD)/qemu-system-aarch64

.PHONY: qemu check-qemu qemu-refresh
# libwpt for QEMU's meson, through pkg-config: the static library (built
# with -fPIC) and the liburcu it needs, nothing installed.
$(QEMU_WPT)/wpt.pc: lib/libwpt.a mk/qemu.mk
	@mkdir -p $(QEMU_WPT)
	cp lib/libwpt.a $(QEMU_WPT)/libwpt.a
	printf 'Name: wpt\nDescription: wptrack (this tree)\nVersion: $(VERSION)\nCflags: -I%s\nLibs: %s %s -lpthread\n' \
	  '$(CURDIR)/include' '$(CURDIR)/$(QEMU_WPT)/libwpt.a' \
	  '$(shell pkg-config --libs $(PKGS))' > $@

qemu: $(QEMU_WPT)/wpt.pc
	@scripts/deps.sh --qemu
	@scripts/qemu/source.sh $(QEMU_SRC)
	@scripts/qemu/build.sh $(QEMU_SRC) $(QEMU_TREE) $(QEMU_BUILD) \
	  $(QEMU_SERIES) $(QEMU_WPT)

# The glue's developer loop: edit $(QEMU_TREE), then this, then make qemu.
qemu-refresh:
	scripts/qemu/refresh.sh $(QEMU_SRC) $(QEMU_TREE) $(QEMU_SERIES)

check-qemu: qemu
	@scripts/qemu/check.sh $(QEMU_BIN) build/qemu-check

# make qemu-arm64: the same tree cross-built for an arm64 host (static,
# with KVM) against Debian's arm64 -dev packages unpacked in
# $(ARM64_SYSROOT) (scripts/arm64/, nothing installed), and libwpt
# cross-built by mk/arm64.mk's rules.
QEMU_A64_BUILD := build/qemu-build-arm64
QEMU_A64_WPT   := $(ARM64_OUT)/qemu-wpt
QEMU_A64_BIN   := $(QEMU_A64_BUILD)/qemu-system-aarch64
QEMU_A64_DEBS  := libglib2.0-dev libpcre2-dev libpixman-1-dev libfdt-dev zlib1g-dev
.PHONY: qemu-arm64 check-qemu-kvm
$(QEMU_A64_WPT)/wpt.pc: $(ARM64_LIB_OBJS) mk/qemu.mk
	@mkdir -p $(QEMU_A64_WPT)
	rm -f $(QEMU_A64_WPT)/libwpt.a
	aarch64-linux-gnu-ar rcs $(QEMU_A64_WPT)/libwpt.a $(ARM64_LIB_OBJS)
	printf 'Name: wpt\nDescription: wptrack (this tree, arm64)\nVersion: $(VERSION)\nCflags: -I%s\nLibs: %s %s -lpthread\n' \
	  '$(CURDIR)/include' '$(CURDIR)/$(QEMU_A64_WPT)/libwpt.a' \
	  '$(addprefix $(CURDIR)/,$(ARM64_URCU))' > $@

qemu-arm64: $(QEMU_A64_WPT)/wpt.pc
	@scripts/deps.sh --qemu
	@scripts/qemu/source.sh $(QEMU_SRC)
	@scripts/arm64/fetch-debs.sh $(ARM64_OUT) $(ARM64_SYSROOT) $(QEMU_A64_DEBS) >/dev/null
	@scripts/qemu/build.sh $(QEMU_SRC) $(QEMU_TREE) $(QEMU_A64_BUILD) \
	  $(QEMU_SERIES) $(QEMU_A64_WPT) $(ARM64_SYSROOT)

# make check-qemu-kvm: that QEMU with KVM inside a nested arm64 KVM host,
# edu passed through with vfio-pci to a stock Debian guest behind its
# SMMUv3 (scripts/qemu/kvm.sh).  The level-2 DMA program is check-kvmtool's.
QEMU_KVM_OUT := build/qemu-kvm
$(QEMU_KVM_OUT)/l2-dma: vmm-glue/kvmtool/tests/l2-dma.c tests/vfio/vfio_setup.c \
    tests/vfio/edu.c | arm64-deps
	@mkdir -p $(dir $@)
	$(ARM64_CC) -static -O2 -Wall -Wextra -Itests/vfio $^ -o $@

check-qemu-kvm: qemu-arm64 $(QEMU_KVM_OUT)/l2-dma
	@scripts/qemu/kvm.sh $(QEMU_A64_BIN) $(QEMU_KVM_OUT)/l2-dma $(QEMU_KVM_OUT)
# ---- end vmm-glue/qemu ----
