# ---- vmm-glue/qemu: QEMU's SMMUv3 with wptrack (qemu-glue helper's block) ----
# make qemu         Debian bookworm's QEMU source (apt-get source, once, as
#                   root) with vmm-glue/qemu/patches applied, built for
#                   aarch64-softmmu only, in build/qemu-build; a change of the
#                   series or of libwpt rebuilds in seconds.
# make check-qemu   boots Debian's arm64 kernel under TCG behind the SMMUv3
#                   with wpt=on and x-wpt-verify=on (scripts/qemu/check.sh).
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
# ---- end vmm-glue/qemu ----
