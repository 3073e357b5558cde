#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Builds the kopt VM initramfs (busybox-static + guest-init.sh as /init) into
# $KOPT_CACHE/initramfs/<hash>.cpio.gz and prints its path. The hash covers
# busybox, guest-init.sh and this script, so it is rebuilt only when one of
# them changes (it takes well under a second anyway).
#
#   kernel-patches/mkinitramfs.sh
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
busybox=${KOPT_BUSYBOX:-/bin/busybox}
init="$here/guest-init.sh"
cache_root=${KOPT_CACHE:-/var/cache/kopt}

die() {
	echo "mkinitramfs.sh: error: $*" >&2
	exit 1
}

[ -x "$busybox" ] || die "$busybox missing: install busybox-static (make deps)"
if LC_ALL=C ldd "$busybox" >/dev/null 2>&1; then
	die "$busybox is dynamically linked: install busybox-static, not busybox"
fi
command -v cpio >/dev/null || die "cpio missing (make deps)"

key=$(cat "$busybox" "$init" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)
out="$cache_root/initramfs/$key.cpio.gz"
if [ -s "$out" ]; then
	echo "$out"
	exit 0
fi

mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kopt-initramfs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
root="$tmp/root"
mkdir -p "$root"/{bin,dev,proc,sys,newroot,tmp}
cp "$busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
install -m 0755 "$init" "$root/init"
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
	cpio --quiet -o -H newc --owner=0:0) | gzip -9n >"$tmp/initramfs.cpio.gz"
mv "$tmp/initramfs.cpio.gz" "$out"
echo "$out"
