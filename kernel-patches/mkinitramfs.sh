#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Builds the kopt VM initramfs (busybox-static + guest-init.sh as /init) into
# $KOPT_CACHE/initramfs/<hash>.cpio.gz and prints its path. The hash covers
# busybox, guest-init.sh, this script and the modules, so it is rebuilt
# only when one of them changes (it takes well under a second anyway).
#
#   kernel-patches/mkinitramfs.sh [--modules DIR]
#
# --modules DIR: kernel modules for a kernel that builds the guest's
# drivers as modules (debian-kernel.sh's output): DIR/*.ko and
# DIR/kopt.load, their load order, go to /lib/modules, and guest-init.sh
# loads them before it mounts anything. The kopt kernel needs none.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
busybox=${KOPT_BUSYBOX:-/bin/busybox}
init="$here/guest-init.sh"
cache_root=${KOPT_CACHE:-/var/cache/kopt}
modules=
case "${1:-}" in
--modules) modules=${2:?--modules needs a directory} ;;
"") ;;
-h | --help) sed -n '3,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
*) echo "mkinitramfs.sh: unknown argument '$1'" >&2; exit 2 ;;
esac

die() {
	echo "mkinitramfs.sh: error: $*" >&2
	exit 1
}

[ -x "$busybox" ] || die "$busybox missing: install busybox-static (make deps)"
if LC_ALL=C ldd "$busybox" >/dev/null 2>&1; then
	die "$busybox is dynamically linked: install busybox-static, not busybox"
fi
command -v cpio >/dev/null || die "cpio missing (make deps)"
mods=()
if [ -n "$modules" ]; then
	[ -r "$modules/kopt.load" ] || die "$modules/kopt.load missing"
	while read -r m; do
		[ -r "$modules/$m" ] || die "$modules/kopt.load names $m, which is not there"
		mods+=("$modules/$m")
	done <"$modules/kopt.load"
fi

key=$(cat "$busybox" "$init" "${BASH_SOURCE[0]}" ${modules:+"$modules/kopt.load"} \
	"${mods[@]}" | sha256sum | cut -c1-16)
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
if [ -n "$modules" ]; then
	mkdir -p "$root/lib/modules"
	cp "${mods[@]}" "$modules/kopt.load" "$root/lib/modules/"
fi
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
	cpio --quiet -o -H newc --owner=0:0) | gzip -9n >"$tmp/initramfs.cpio.gz"
mv "$tmp/initramfs.cpio.gz" "$out"
echo "$out"
