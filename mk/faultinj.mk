# ---- tests/unit/test_fault_inject: every fallible call fails in turn ----
# The property test's guest (sim/) with the library's malloc, calloc,
# realloc and mmap (the block pool's slabs) wrapped: the wrappers take the
# calls of everything linked statically, and count only those the library
# makes (see the test).
$(BUILD)/tests/test_fault_inject: $(SIM_LIB)
$(BUILD)/tests/test_fault_inject: LDFLAGS += -Wl,--wrap=malloc \
  -Wl,--wrap=calloc -Wl,--wrap=realloc -Wl,--wrap=mmap

# make check-faultinj [FAULT_OPS=20 FAULT_CALLS=800 FAULT_SEEDS=2]: the
# same test with longer runs and more seeds than make check's (10
# operations, at most 300 calls, one seed: about a minute on 2 idle
# cores); the default here is about five times that, so each
# configuration's Check timeout (300 s) is multiplied by 10 (on a loaded
# machine one took more than 300 s; every replay stays bounded at 60 s).
FAULT_OPS   ?= 20
FAULT_CALLS ?= 800
FAULT_SEEDS ?= 2
.PHONY: check-faultinj
check-faultinj: $(BUILD)/tests/test_fault_inject
	@WPT_FAULT_OPS=$(FAULT_OPS) WPT_FAULT_CALLS=$(FAULT_CALLS) \
	  WPT_FAULT_SEEDS=$(FAULT_SEEDS) CK_TIMEOUT_MULTIPLIER=10 \
	  scripts/run-tests.sh $(BUILD) $(BUILD)/tests/test_fault_inject
# ---- end test_fault_inject ----
