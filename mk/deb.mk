# ---- make deb, make check-deb (packaging) ----
#   make deb        Debian packages (libwpt0, libwpt-dev, wptrack-tools) in
#                   build-deb/, built by dpkg-buildpackage from a clean clone
#                   of the committed HEAD: uncommitted changes are not in
#                   them (a warning says so).  Source and binary packages;
#                   DEB_BUILD_OPTIONS passes through (nocheck skips
#                   debian/rules' quick checks: ABI, man pages, installs).
#   make check-deb  make deb, then lintian (no errors), dpkg -i on this
#                   machine (root), programs linked against the installed
#                   library through pkg-config, shared and static, the tools
#                   and man pages found; dpkg -r at the end, whatever happened.
DEB_DIR := build-deb

.PHONY: deb check-deb deb-clean
deb:
	@scripts/deps.sh --deb
	@git diff --quiet HEAD 2>/dev/null || echo "deb: warning: uncommitted" \
	  "changes are not in the packages (they are built from HEAD)" >&2
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)
	git clone -q --no-checkout . $(DEB_DIR)/wptrack
	git -C $(DEB_DIR)/wptrack checkout -q $$(git rev-parse HEAD)
	cd $(DEB_DIR)/wptrack && \
	  DEB_BUILD_OPTIONS="parallel=$$(nproc) $(DEB_BUILD_OPTIONS)" \
	  dpkg-buildpackage -us -uc > ../dpkg-buildpackage.log 2>&1 || \
	  { tail -n 40 ../dpkg-buildpackage.log; exit 1; }
	@ls $(DEB_DIR)/*.deb

# The build's own quick checks (debian/rules' dh_auto_test) are make
# check's: skipped here, where make check runs beside it.
check-deb:
	@$(MAKE) --no-print-directory deb DEB_BUILD_OPTIONS="nocheck $(DEB_BUILD_OPTIONS)"
	@scripts/pkg/check-deb.sh $(DEB_DIR)

deb-clean:
	rm -rf $(DEB_DIR)
clean: deb-clean
# ---- end make deb ----
