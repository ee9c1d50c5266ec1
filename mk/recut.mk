# ---- the re-cut window (wpt_quiesce_ops) ----
# tests/unit/test_recut.c: the protocol with a fake VMM (make check).
# tests/unit/test_recut_kvm.c: a vCPU fetching and walking its page tables
# in the slot being re-cut, on real x86 KVM (make check-kvm; SKIP in make
# check without /dev/kvm).  Its minimal guest comes from tests/kvm/.
# -Wl,--wrap=ioctl: both runs hold a deleted slot's gap open
# (tests/kvm/widen.h), so the control meets it every run.
$(BUILD)/tests/test_recut_kvm: $(BUILD)/tests/kvm/minivm.o
$(BUILD)/tests/test_recut_kvm $(KVM_DIR)/test_recut_kvm: \
  LDFLAGS += -Wl,--wrap=ioctl
# ---- end re-cut window ----
