# ---- the KVM memslot layouts without KVM ----
# test_protect_kvm_layout runs the memslot backend against a fake
# KVM_SET_USER_MEMORY_REGION: its ioctl calls (the library's, linked
# statically) reach the test's __wrap_ioctl.
$(BUILD)/tests/test_protect_kvm_layout: LDFLAGS += -Wl,--wrap=ioctl
# ---- end the KVM memslot layouts ----
