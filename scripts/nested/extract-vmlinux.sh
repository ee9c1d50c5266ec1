#!/bin/sh
# extract-vmlinux.sh IMAGE OUT
# Print the path of the image QEMU should boot: IMAGE itself when it is
# already an ELF vmlinux with the PVH entry note, else the vmlinux found
# inside the bzImage IMAGE, written to OUT (kept, with OUT.src naming the
# IMAGE it came from, so a later run with the same IMAGE reuses it), else
# IMAGE (a bzImage boots too, only slower:
# under TCG its decompressor alone costs seconds).
# The bzImage carries the kernel as one compressed payload after its setup
# code; find it by the compressor's magic and decompress with the
# matching tool.  The result must be an ELF with the PVH note
# (XEN_ELFNOTE_PHYS32_ENTRY, type 18), since that is what QEMU's -kernel
# needs to enter an uncompressed kernel.
set -eu
in=$1 out=$2

say() { echo "${NESTED_TAG:-nested}: $*" >&2; }

is_elf() { [ "$(head -c 4 "$1" | od -An -c | tr -d ' \n')" = '177ELF' ]; }
has_pvh() {
	readelf -n "$1" 2>/dev/null |
	grep -Eq '^ *Xen[[:space:]].*(0x00000012|PHYS32)'
}

if is_elf "$in"; then
	if has_pvh "$in"; then
		echo "$in"
		exit 0
	fi
	say "$in is an ELF without the PVH note; QEMU cannot boot it with -kernel"
	exit 1
fi

src=$(stat -L -c '%n %s %Y' "$in")
if [ -s "$out" ] && [ "$(cat "$out.src" 2>/dev/null)" = "$src" ]; then
	echo "$out"
	exit 0
fi
rm -f "$out" "$out.src"

# magic (grep -P bytes), decompressor.  Errors and trailing data after the
# stream (the kernel appends the payload size) are expected: what counts
# is whether an ELF with the PVH note came out.
try() { # offset, tool...
	off=$1; shift
	command -v "$1" >/dev/null 2>&1 || { say "no $1 to try the payload at $off"; return 1; }
	tail -c "+$((off + 1))" "$in" | "$@" > "$out.tmp" 2>/dev/null || true
	if [ -s "$out.tmp" ] && is_elf "$out.tmp" && has_pvh "$out.tmp"; then
		mv "$out.tmp" "$out"
		echo "$src" > "$out.src"
		return 0
	fi
	rm -f "$out.tmp"
	return 1
}
for spec in \
	'\xfd7zXZ\x00|xz -dc --single-stream' \
	'\x28\xb5\x2f\xfd|zstd -dcq' \
	'\x1f\x8b\x08|gzip -dc' \
	'\x02\x21\x4c\x18|lz4 -dc' \
	'BZh91AY&SY|bzip2 -dc' \
	'\x89\x4c\x5a\x4f\x00\x0d\x0a\x1a\x0a|lzop -dc' \
	'\x5d\x00\x00\x00|xz --format=lzma -dc'
do
	magic=${spec%%|*} tool=${spec#*|}
	# Only the first few hits: the payload follows the small setup code.
	for off in $(LC_ALL=C grep -obUaP "$magic" "$in" 2>/dev/null |
	             cut -d: -f1 | head -n 3); do
		# $tool is split into the command and its options on purpose.
		# shellcheck disable=SC2086
		if try "$off" $tool; then
			say "extracted vmlinux from $(basename "$in") (${tool%% *} payload at byte $off)"
			echo "$out"
			exit 0
		fi
	done
done
say "no PVH vmlinux found inside $in; booting the bzImage (slower: its decompressor runs under TCG)"
echo "$in"
