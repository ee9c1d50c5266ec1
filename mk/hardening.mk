# ---- hardening: fault injection by link-time wrapping ----
# test_error_paths fails the library's allocations one at a time: its
# malloc, calloc and realloc wrappers replace the calls of the objects it
# links statically (the library's), never those of shared libraries.
$(BUILD)/tests/test_error_paths: LDFLAGS += -Wl,--wrap=malloc \
  -Wl,--wrap=calloc -Wl,--wrap=realloc
# ---- end hardening ----
