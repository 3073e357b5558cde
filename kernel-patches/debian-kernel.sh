#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Fetches Debian's own Linux 6.12 kernel package (linux-image-6.12-amd64,
# the kernel a bookworm server runs from backports/security) into a cache
# and prints the directory that holds:
#
#   vmlinuz          the kernel
#   modules/         the drivers the VM needs that Debian builds as modules
#                    (9p, overlay, e1000e and their dependencies), unpacked,
#                    and modules/kopt.load, their load order
#
# for `vm-run.sh --kernel DIR/vmlinuz --initrd $(mkinitramfs.sh --modules
# DIR/modules)`. Nothing is installed on the host: the package is fetched
# with apt-get download and unpacked with dpkg-deb into the cache; the load
# order comes from depmod and modprobe --show-depends on that copy.
#
# Why: `make demo` needs a 6.12 guest with an e1000e NIC, not the kopt
# patch series, and building a kernel takes 7-8 minutes on two cores; a
# distribution kernel takes seconds to fetch and is what a server runs.
#
#   kernel-patches/debian-kernel.sh [--print-package]
#
# Cache: $KOPT_CACHE/debian-kernel/<package>_<version>/ (KOPT_CACHE defaults
# to /var/cache/kopt); a warm run returns at once. Only the newest
# $KOPT_KEEP_KERNELS (default 2) are kept.
# Environment: KOPT_DEBIAN_KERNEL_PKG (default: what the metapackage
# linux-image-6.12-amd64 depends on).
set -euo pipefail

meta=linux-image-6.12-amd64
cache_root=${KOPT_CACHE:-/var/cache/kopt}
keep=${KOPT_KEEP_KERNELS:-2}
# what the guest mounts and uses before anything else: 9p, overlay, e1000e;
# and what the collector bench in the guest uses (vmbench-collector.sh):
# a virtio disk with ext4 (its interrupts), veth (its network namespaces)
wanted=(9pnet_virtio 9p overlay e1000e virtio_blk ext4 veth)

die() {
	echo "debian-kernel.sh: error: $*" >&2
	exit 1
}

print_package=0
for arg in "$@"; do
	case "$arg" in
	--print-package) print_package=1 ;;
	-h | --help)
		sed -n '3,28p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "debian-kernel.sh: unknown argument '$arg'" >&2
		exit 2
		;;
	esac
done

for t in apt-get apt-cache dpkg-deb depmod modprobe xz; do
	command -v "$t" >/dev/null || die "$t missing (make deps)"
done

pkg=${KOPT_DEBIAN_KERNEL_PKG:-}
if [ -z "$pkg" ]; then
	pkg=$(apt-cache depends --no-recommends --no-suggests "$meta" 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-6\.12/ { print $2; exit }')
	[ -n "$pkg" ] || die "apt knows no $meta: run apt-get update (make deps)"
fi
ver=$(apt-cache policy "$pkg" 2>/dev/null | awk '$1 == "Candidate:" { print $2 }')
[ -n "$ver" ] && [ "$ver" != "(none)" ] || die "apt has no candidate for $pkg"
if [ "$print_package" = 1 ]; then
	echo "$pkg $ver"
	exit 0
fi

root="$cache_root/debian-kernel"
wanted_key=$(echo "${wanted[*]}" | sha256sum | cut -c1-8)
dir="$root/${pkg}_${ver//[^A-Za-z0-9.+_-]/_}_$wanted_key"
if [ -e "$dir/.ok" ]; then
	touch "$dir/.ok" # for pruning: most recently used
	echo "$dir"
	exit 0
fi

mkdir -p "$root"
exec 9>"$dir.lock"
flock -w 600 9 || die "timed out waiting for the lock on $dir"
if [ -e "$dir/.ok" ]; then
	echo "$dir"
	exit 0
fi
tmp=$(mktemp -d "$root/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

echo "  FETCH    $pkg $ver (Debian's kernel package)" >&2
# as root into our own directory: apt's _apt sandbox user cannot write there
(cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$ver") >&2 ||
	die "apt-get download $pkg=$ver failed"
deb=$(echo "$tmp"/*.deb)
[ -r "$deb" ] || die "apt-get download left no .deb"
mkdir -p "$tmp/x" "$tmp/out/modules"
dpkg-deb -x "$deb" "$tmp/x" || die "dpkg-deb -x $deb failed"
kver=$(basename "$(echo "$tmp"/x/lib/modules/*)")
[ -d "$tmp/x/lib/modules/$kver/kernel" ] || die "$pkg holds no modules"
[ -r "$tmp/x/boot/vmlinuz-$kver" ] || die "$pkg holds no /boot/vmlinuz-$kver"
# the package leaves modules.dep to its postinst: make it for this copy
depmod -b "$tmp/x" "$kver" || die "depmod on the unpacked $pkg failed"

: >"$tmp/out/modules/kopt.load"
for m in "${wanted[@]}"; do
	deps=$(modprobe -d "$tmp/x" -S "$kver" --show-depends "$m") ||
		die "modprobe --show-depends $m failed"
	# "insmod /path/x.ko.xz [params]" in load order; "builtin x" needs none
	while read -r verb path _; do
		[ "$verb" = insmod ] || continue
		name=$(basename "$path")
		name=${name%.xz}
		name=${name%.zst}
		grep -qxF "$name" "$tmp/out/modules/kopt.load" && continue
		case "$path" in
		*.xz) xz -dc "$path" >"$tmp/out/modules/$name" ;;
		*.zst) die "$path: zstd modules are not handled" ;;
		*) cp "$path" "$tmp/out/modules/$name" ;;
		esac
		echo "$name" >>"$tmp/out/modules/kopt.load"
	done <<<"$deps"
done
cp "$tmp/x/boot/vmlinuz-$kver" "$tmp/out/vmlinuz"
echo "$pkg $ver $kver" >"$tmp/out/package"
rm -rf "$dir"
mv "$tmp/out" "$dir"
touch "$dir/.ok"
echo "  MODULES  $(tr '\n' ' ' <"$dir/modules/kopt.load")" >&2

# keep the newest $keep
ls -1dt "$root"/*/ 2>/dev/null | tail -n +$((keep + 1)) | while read -r old; do
	rm -rf "$old" "${old%/}.lock"
done
echo "$dir"
