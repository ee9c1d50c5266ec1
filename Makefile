# wptrack build.  Plain make; objects out of tree under $(BUILD)/.
#   make                  lib/libwpt.a, lib/libwpt.so(.0), tools
#   make check            build and run every test (installs deps if root)
#   make check SAN=1      the same under ASan + UBSan, in build-san/
#   make install PREFIX=/usr/local [DESTDIR=...]
#   make clean

CC      ?= gcc
SAN     ?= 0
PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
VERSION := 0.1.0
SOMAJOR := 0

PKGS    := liburcu-bp liburcu-cds
# Install (as root) or name the missing Debian packages before anything is
# parsed further: pkg-config below needs them.  `make clean` needs nothing.
ifneq ($(MAKECMDGOALS),clean)
DEPS_OK := $(shell scripts/deps.sh 1>&2 && echo yes)
ifneq ($(DEPS_OK),yes)
$(error missing build dependencies; see the deps: lines above)
endif
endif

CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -fPIC \
           -Iinclude -Ilib -D_GNU_SOURCE
ifeq ($(DEPS_OK),yes)
CFLAGS  += $(shell pkg-config --cflags $(PKGS) check)
LIBS    := $(shell pkg-config --libs $(PKGS)) -lpthread
CHECK_LIBS := $(shell pkg-config --libs check)
endif

ifeq ($(SAN),1)
BUILD   := build-san
CFLAGS  += -fsanitize=address,undefined -fno-sanitize-recover=all \
           -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
LIBA    := $(BUILD)/libwpt.a
else
BUILD   := build
LIBA    := lib/libwpt.a
endif
LIBSO   := lib/libwpt.so.$(SOMAJOR)

LIB_SRCS  := $(wildcard lib/*.c lib/*/*.c)
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
SIM_SRCS  := $(wildcard tests/sim/*.c)
SIM_OBJS  := $(SIM_SRCS:%.c=$(BUILD)/%.o)
TEST_SRCS := $(wildcard tests/unit/test_*.c)
TESTS     := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
TOOLS     := tools/wpt-replay tools/wpt-tracegen
ifeq ($(SAN),1)
TOOL_BINS := $(TOOLS:tools/%=$(BUILD)/tools/%)
else
TOOL_BINS := $(TOOLS)
endif

.PHONY: all deps check clean install
all: $(LIBA) $(if $(filter 1,$(SAN)),,$(LIBSO)) $(TOOL_BINS)

deps:
	@scripts/deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -MMD -MP -c $< -o $@

$(LIBA): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIBSO): $(LIB_OBJS) lib/libwpt.map
	$(CC) -shared -Wl,-soname,libwpt.so.$(SOMAJOR) \
	  -Wl,--version-script=lib/libwpt.map $(LDFLAGS) -o $@ $(LIB_OBJS) $(LIBS)
	ln -sf libwpt.so.$(SOMAJOR) lib/libwpt.so

$(BUILD)/tests/%: tests/unit/%.c $(SIM_OBJS) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -MMD -MP $< $(SIM_OBJS) $(LIBA) $(LDFLAGS) \
	  $(CHECK_LIBS) $(LIBS) -o $@

# Tools link their own objects, the simulator (the tracegen's guest model)
# and the static library.
REPLAY_OBJS := $(patsubst %.c,$(BUILD)/%.o,tools/wpt-replay.c \
                 tools/replay_syntax.c tools/replay_verify.c)
TRACEGEN_OBJS := $(BUILD)/tools/wpt-tracegen.o
TOOLDIR := $(if $(filter 1,$(SAN)),$(BUILD)/tools,tools)

$(TOOLDIR)/wpt-replay: $(REPLAY_OBJS) $(LIBA)
$(TOOLDIR)/wpt-tracegen: $(TRACEGEN_OBJS) $(SIM_OBJS) $(LIBA)
$(TOOL_BINS):
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(filter %.o %.a,$^) $(LIBS) -o $@

# Keep objects make would otherwise treat as intermediate.
.SECONDARY:

check: all $(TESTS)
	@scripts/run-tests.sh $(BUILD) $(TESTS)
	@scripts/run-traces.sh $(filter %wpt-replay,$(TOOL_BINS)) \
	  $(filter %wpt-tracegen,$(TOOL_BINS))

wpt.pc: wpt.pc.in Makefile
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCDIR@|$(INCDIR)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

install: all wpt.pc
	install -d $(DESTDIR)$(INCDIR) $(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 644 include/wpt.h $(DESTDIR)$(INCDIR)/
	install -m 644 lib/libwpt.a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(LIBSO) $(DESTDIR)$(LIBDIR)/
	ln -sf libwpt.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/libwpt.so
	install -m 644 wpt.pc $(DESTDIR)$(LIBDIR)/pkgconfig/

clean:
	rm -rf build build-san lib/libwpt.a lib/libwpt.so lib/libwpt.so.* \
	  $(TOOLS) wpt.pc

-include $(shell find build build-san -name '*.d' 2>/dev/null)
