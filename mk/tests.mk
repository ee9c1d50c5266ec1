# ---- tests/unit/: the library's tests, each linking what it tests ----
# Every test links the library; a few link more: the simulated guest
# (sim/), the minimal KVM guest (tests/kvm/) or the bench's VMM and SMMU
# (the KVM tests that boot the bench guest).
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
TESTS      := $(UNIT_TESTS) $(BENCH_TESTS)

$(addprefix $(BUILD)/tests/,test_guest_model test_hostile_catalog \
  test_property): $(SIM_LIB)
$(BUILD)/tests/test_protect_kvm: $(BUILD)/tests/kvm/minivm.o
$(addprefix $(BUILD)/tests/,test_singlestep_kvm test_stress_kvm): \
  $(BENCH_VMM_OBJS) $(BENCH_SMMU_OBJS)

# Test sources find the simulator (sim/...), the KVM guest (kvm/...) and
# the unit fixture (unit/fixture.h) from the top and from tests/.
$(BUILD)/tests/%.o $(BUILD)/bench/tests/%.o: CFLAGS += -I. -Itests

# The objects, then any archive besides the library, then the library.
TEST_LINK = $(CC) $(LDFLAGS) $(filter %.o,$^) \
  $(filter-out $(LIBA),$(filter %.a,$^)) $(LIBA) $(CHECK_LIBS) $(LIBS) -o $@

$(UNIT_TESTS): $(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIBA)
	@mkdir -p $(dir $@)
	$(TEST_LINK)
# ---- end tests/unit/ ----
