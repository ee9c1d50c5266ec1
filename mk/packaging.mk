# ---- install, uninstall, wpt.pc, man pages, the ABI check (packaging) ----
#   make install   [PREFIX=/usr/local] [LIBDIR=...] [INCDIR=...] [BINDIR=...]
#                  [MANDIR=...] [DESTDIR=/staging]
#   make uninstall (the same variables: removes what install put there)
#   make check-install  install to two prefixes, build and run a program
#                       through pkg-config from each (shared and static)
#   make check-man      man pages render without warnings; every function
#                       of include/wpt.h and every tool option has a page
#   make check-abi      lib/libwpt.so.0 exports exactly wpt.h's functions,
#                       each under a version node of lib/libwpt.map
# wpt.pc is written at install time from the directories of that install,
# so it always names them (a file made once in the tree would name the
# first PREFIX it was made with).  DESTDIR stages: it prefixes every path
# written to, and never appears in wpt.pc.
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
PCDIR   ?= $(LIBDIR)/pkgconfig

MAN1 := $(wildcard man/man1/*.1)
MAN3 := $(wildcard man/man3/*.3)
INSTALL_BINS := tools/wpt-replay tools/wpt-tracegen bench/wpt-bench
# Everything install puts in place, relative to DESTDIR; uninstall removes
# exactly this list (and then those directories left empty).
INSTALLED := $(INCDIR)/wpt.h $(LIBDIR)/libwpt.a $(LIBDIR)/libwpt.so.$(VERSION) \
  $(LIBDIR)/libwpt.so.$(SOMAJOR) $(LIBDIR)/libwpt.so $(PCDIR)/wpt.pc \
  $(addprefix $(BINDIR)/,$(notdir $(INSTALL_BINS))) \
  $(addprefix $(MANDIR)/man1/,$(notdir $(MAN1))) \
  $(addprefix $(MANDIR)/man3/,$(notdir $(MAN3)))
INSTALL_DIRS := $(PCDIR) $(MANDIR)/man1 $(MANDIR)/man3 $(MANDIR) $(BINDIR) \
  $(INCDIR) $(LIBDIR)

# In wpt.pc, a directory under PREFIX is written relative to ${prefix}, so
# `pkg-config --define-prefix` can relocate a copied tree.
pc_rel = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))

.PHONY: install uninstall install-dirs-check check-install check-man check-abi
install-dirs-check:
	@for d in '$(PREFIX)' '$(LIBDIR)' '$(INCDIR)' '$(BINDIR)' '$(MANDIR)'; do \
	  case $$d in /*) ;; *) echo "install: '$$d' is not an absolute path" \
	    "(PREFIX, LIBDIR, INCDIR, BINDIR and MANDIR must be: wpt.pc names them)" >&2; \
	    exit 1 ;; esac; done
	@[ -z '$(SANITIZED)' ] || { echo "install: SAN=1/TSAN=1 builds are" \
	  "not installable; run make install without them" >&2; exit 1; }

install: install-dirs-check $(LIBA) $(LIBSO) $(INSTALL_BINS)
	install -d $(addprefix $(DESTDIR),$(INSTALL_DIRS))
	install -m 644 include/wpt.h $(DESTDIR)$(INCDIR)/
	install -m 644 $(LIBA) $(DESTDIR)$(LIBDIR)/
	install -m 644 $(LIBSO) $(DESTDIR)$(LIBDIR)/libwpt.so.$(VERSION)
	ln -sfn libwpt.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libwpt.so.$(SOMAJOR)
	ln -sfn libwpt.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/libwpt.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(call pc_rel,$(LIBDIR))|' \
	    -e 's|@INCDIR@|$(call pc_rel,$(INCDIR))|' -e 's|@VERSION@|$(VERSION)|' \
	    wpt.pc.in > $(DESTDIR)$(PCDIR)/wpt.pc
	chmod 644 $(DESTDIR)$(PCDIR)/wpt.pc
	install -m 755 $(INSTALL_BINS) $(DESTDIR)$(BINDIR)/
	$(if $(MAN1),install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/)
	$(if $(MAN3),install -m 644 $(MAN3) $(DESTDIR)$(MANDIR)/man3/)

# Then the directories of the layout, and their parents up to PREFIX, that
# are empty now (a directory that holds anything else stays; neither
# DESTDIR nor anything above PREFIX is touched).  An empty directory under
# PREFIX that predates the install goes too: install does not record what
# it created.
uninstall: install-dirs-check
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	@for d in $(INSTALL_DIRS); do \
	  while case $$d in '$(PREFIX)'|'$(PREFIX)'/*) true ;; *) false ;; esac && \
	        rmdir "$(DESTDIR)$$d" 2>/dev/null && [ "$$d" != '$(PREFIX)' ]; do \
	    d=$$(dirname "$$d"); done; done; true

# The packaging checks look at the installable (unsanitized) build only:
# a sanitizer adds nothing to them, and SAN=1 builds no shared library.
ifeq ($(SANITIZED),)
check-install: $(LIBA) $(LIBSO) $(INSTALL_BINS)
	@MAKE="$(MAKE)" CC="$(CC)" scripts/pkg/test-install.sh
check-abi: $(LIBSO)
	@scripts/pkg/check-abi.sh $(LIBSO)
check: check-install check-abi
else
check-install check-abi:
	@echo "SKIP  $@  <<< NOT RUN: checks the unsanitized build (plain make check runs it)"
endif
check-man: $(TOOL_BINS) $(BENCH_BIN)
	@scripts/pkg/check-man.sh $(TOOL_BINS) $(BENCH_BIN)
check: check-man
# ---- end packaging ----
