# ---- vmm-glue/kvmtool: the SMMUv3 model and `make check-kvmtool` ----
# The model (vmm-glue/kvmtool/smmuv3-*.c) depends on libwpt alone, so its
# unit tests (vmm-glue/kvmtool/tests/) build here and run in `make check`.
# The kvmtool side (kvmtool-*.c, patches/) builds only inside a kvmtool
# tree: `make check-kvmtool KVMTOOL_SRC=DIR` (scripts/kvmtool/check.sh)
# patches and cross-builds lkvm for arm64 and runs it three levels deep;
# without KVMTOOL_SRC it runs the model's tests and says the run was
# skipped.
KT_DIR    := vmm-glue/kvmtool
KT_SRCS   := $(wildcard $(KT_DIR)/smmuv3-*.c)
KT_OBJS   := $(KT_SRCS:%.c=$(BUILD)/%.o)
KT_TESTS  := $(patsubst $(KT_DIR)/tests/%.c,$(BUILD)/tests/%,\
               $(wildcard $(KT_DIR)/tests/test_*.c))
KVMTOOL_SRC ?=

TESTS += $(KT_TESTS)
check: $(KT_TESTS)

$(KT_TESTS): $(BUILD)/tests/%: $(KT_DIR)/tests/%.c $(KT_OBJS) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -I$(KT_DIR) -MMD -MP $< $(KT_OBJS) $(LIBA) \
	  $(LDFLAGS) $(CHECK_LIBS) $(LIBS) -o $@

.PHONY: check-kvmtool
check-kvmtool: $(KT_TESTS)
	@KVMTOOL_SRC='$(KVMTOOL_SRC)' BUILD='$(BUILD)' \
	  scripts/kvmtool/check.sh $(KT_TESTS)

# The three-level run's downloads and arm64 builds live outside build/:
# the Makefile includes every *.d below build/, and kvmtool's dependency
# files (and APT's sources.list.d) would be read as rules.
clean: kvmtool-clean
.PHONY: kvmtool-clean
kvmtool-clean:
	rm -rf build-kvmtool
# ---- end vmm-glue/kvmtool ----
