# ---- make microbench ----
# make microbench [QUICK=1] [MICROBENCH_ARGS="--scales 1k,1m --batches 50"]
# The engine's own cost without KVM (bench/microbench/, linked with
# lib/libwpt.a only): per trapped leaf store, per descriptor walked, and
# resident memory per mapped page from 1K to 16M mapped 4K pages; the
# goals met or MISSED beside each figure.  Writes
# bench/results/microbench.json and .png.  About 32 s here (three runs,
# 16M included; a scale estimated past the 60 s budget is skipped,
# loudly; --budget 0 runs it anyway); QUICK=1 (1K and 64K pages, once) a
# few seconds.  Never sanitized: timing is the point
# (SAN=1 or TSAN=1 builds it in build/ as usual).
MB_SRCS := $(wildcard bench/microbench/*.c)
MB_BIN  := bench/microbench/wpt-microbench

.PHONY: microbench
ifneq ($(SANITIZED),)
microbench:
	@$(MAKE) --no-print-directory SAN=0 TSAN=0 microbench
else
$(MB_BIN): $(MB_SRCS:%.c=build/%.o) build/bench/output.o lib/libwpt.a
	$(CC) $(LDFLAGS) $(LTO) $^ $(LIBS) -lm -o $@
microbench: $(MB_BIN)
	@scripts/deps.sh --bench
	$(MB_BIN) $(if $(filter 1,$(QUICK)),--quick) $(MICROBENCH_ARGS)
endif
all: $(if $(SANITIZED),,$(MB_BIN))

# Its unit test (options, goals, JSON, chart data) is one of the bench's
# tests (bench/tests/, in make check, under SAN=1 too): the pure half and
# the output helpers are what it links besides.  The strategy bench's
# report test needs those helpers too.
$(BUILD)/tests/test_microbench: $(BUILD)/bench/microbench/mb_report.o \
  $(BUILD)/bench/microbench/mb_args.o $(BUILD)/bench/output.o
$(BUILD)/tests/test_bench_report: $(BUILD)/bench/output.o

clean: microbench-clean
.PHONY: microbench-clean
microbench-clean:
	rm -f $(MB_BIN)
# ---- end make microbench ----
