#!/bin/sh
# apt.sh CACHE apt-get|apt-cache ARGS...
# Run apt-get or apt-cache on a private APT setup for another Debian
# architecture (ARCH, default arm64) kept under CACHE/apt/: its own
# configuration, package lists, dpkg status (empty) and archive cache, so
# the host's dpkg never gains a foreign architecture and nothing is ever
# installed.  The sources are the host's own Debian "deb" entries
# (/etc/apt/sources.list and /etc/apt/sources.list.d/*.sources|*.list
# naming a debian URI), or APT_SOURCES (a .sources or .list file).
# The lists are fetched on first use and again when older than a day
# (APT_MAX_AGE seconds); if that fails, older lists are used.
#   scripts/arm64/apt.sh build/arm64 apt-cache depends linux-image-arm64
#   (cd dir && scripts/arm64/apt.sh build/arm64 apt-get download busybox-static)
set -eu
[ $# -ge 2 ] || { echo "usage: apt.sh CACHE apt-get|apt-cache ARGS..." >&2; exit 2; }
cache=$1; shift
arch=${ARCH:-arm64}
max_age=${APT_MAX_AGE:-86400}
say() { echo "apt($arch): $*" >&2; }

mkdir -p "$cache/apt"
a=$(cd "$cache/apt" && pwd)/$arch
mkdir -p "$a/state/lists/partial" "$a/cache/archives/partial" "$a/sources.list.d" \
	"$a/none.pref.d"
[ -f "$a/state/status" ] || : > "$a/state/status"

# Only the Debian archive's binary entries: a deb-src or third-party
# repository (amd64 only, say) has nothing for another architecture.
if [ ! -s "$a/sources.list.d/debian.sources" ] && [ ! -s "$a/sources.list.d/debian.list" ]; then
	if [ -n "${APT_SOURCES:-}" ]; then
		case $APT_SOURCES in
		*.sources) cp "$APT_SOURCES" "$a/sources.list.d/debian.sources" ;;
		*) cp "$APT_SOURCES" "$a/sources.list.d/debian.list" ;;
		esac
	else
		for f in /etc/apt/sources.list.d/*.sources; do
			[ -f "$f" ] || continue
			# deb822 stanzas are separated by blank lines.
			awk 'BEGIN { RS = ""; ORS = "\n\n" }
			     /(^|\n)Types:[^\n]*(^|[ \t])deb([ \t]|\n|$)/ &&
			     /URIs:[^\n]*debian/' "$f"
		done > "$a/sources.list.d/debian.sources"
		cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
			grep -E '^deb[[:space:]].*debian' > "$a/sources.list.d/debian.list" || true
	fi
	[ -s "$a/sources.list.d/debian.sources" ] || rm -f "$a/sources.list.d/debian.sources"
	[ -s "$a/sources.list.d/debian.list" ] || rm -f "$a/sources.list.d/debian.list"
	ls "$a/sources.list.d/"* >/dev/null 2>&1 ||
		{ say "no Debian 'deb' source in /etc/apt (set APT_SOURCES)"; exit 1; }
fi

cat > "$a/apt.conf" <<CONF
APT::Architecture "$arch";
APT::Architectures { "$arch"; };
Dir::State "$a/state";
Dir::State::status "$a/state/status";
Dir::Cache "$a/cache";
Dir::Etc::SourceList "$a/none.list";
Dir::Etc::SourceParts "$a/sources.list.d";
Dir::Etc::Preferences "$a/none.pref";
Dir::Etc::PreferencesParts "$a/none.pref.d";
Acquire::Languages "none";
APT::Sandbox::User "$(id -un)";
Debug::NoLocking "true";
CONF
export APT_CONFIG="$a/apt.conf"

stamp=$a/state/updated
age=$max_age
[ -f "$stamp" ] && age=$(( $(date +%s) - $(stat -c %Y "$stamp") ))
if [ "$age" -ge "$max_age" ]; then
	say "fetching the package lists (apt-get update, private)"
	if apt-get -q update >&2; then
		touch "$stamp"
	elif [ -f "$stamp" ]; then
		say "apt-get update failed; using the lists of $(date -r "$stamp")"
	else
		say "apt-get update failed and there are no lists yet"
		exit 1
	fi
fi
exec "$@"
