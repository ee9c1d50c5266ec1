# ---- tests/unit/test_fault_inject: every fallible call fails in turn ----
# The property test's guest (sim/) with the library's malloc, calloc and
# realloc wrapped: the wrappers take the calls of the objects linked
# statically (the library's), never those of shared libraries (libcheck,
# liburcu).  WPT_FAULT_OPS and WPT_FAULT_SEEDS make a run longer.
$(BUILD)/tests/test_fault_inject: $(SIM_LIB)
$(BUILD)/tests/test_fault_inject: LDFLAGS += -Wl,--wrap=malloc \
  -Wl,--wrap=calloc -Wl,--wrap=realloc
# ---- end test_fault_inject ----
