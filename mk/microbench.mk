# ---- make microbench (microbench helper's block) ----
# make microbench [QUICK=1] [MICROBENCH_ARGS="--scales 1k,1m --batches 50"]
# The engine's own cost without KVM (bench/microbench/, linked with
# lib/libwpt.a only): per trapped leaf store, per descriptor walked, and
# resident memory per mapped page from 1K to 16M mapped 4K pages; the
# goals of issue 11 met or MISSED beside each figure.  Writes
# bench/results/microbench.json and .png.  About 40 s here; QUICK=1 (1K
# and 64K pages) a few seconds.  Never sanitized: timing is the point
# (SAN=1 or TSAN=1 builds it in build/ as usual).
MB_SRCS := $(wildcard bench/microbench/*.c)
MB_BIN  := bench/microbench/wpt-microbench

.PHONY: microbench
ifneq ($(SANITIZED),)
microbench:
	@$(MAKE) --no-print-directory SAN=0 TSAN=0 microbench
else
$(MB_BIN): $(MB_SRCS:%.c=build/%.o) build/bench/output.o lib/libwpt.a
	$(CC) $(LDFLAGS) $^ $(LIBS) -lm -o $@
microbench: $(MB_BIN)
	@scripts/deps.sh --bench
	$(MB_BIN) $(if $(filter 1,$(QUICK)),--quick) $(MICROBENCH_ARGS)
endif
all: $(if $(SANITIZED),,$(MB_BIN))

# The microbench's own unit test (options, goals, JSON, chart data): with
# the other tests in make check, under SAN=1 too.
MB_TEST := $(BUILD)/tests/test_microbench
TESTS += $(MB_TEST)
check: $(MB_TEST)
$(MB_TEST): bench/tests/test_microbench.c $(BUILD)/bench/microbench/mb_report.o \
    $(BUILD)/bench/output.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP $(filter %.c %.o,$^) $(LDFLAGS) $(CHECK_LIBS) \
	  -lm -o $@

clean: microbench-clean
.PHONY: microbench-clean
microbench-clean:
	rm -f $(MB_BIN)
# ---- end make microbench ----
