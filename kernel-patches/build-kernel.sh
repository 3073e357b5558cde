#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Builds the kopt VM kernel (Linux 6.12 from Debian's linux-source-6.12) into
# a cache outside the clone and prints the path of its bzImage on stdout.
#
#   kernel-patches/build-kernel.sh [--config-only] [--print-key] [--force]
#
# Steps: extract /usr/src/linux-source-6.12.tar.xz, apply the patches named
# in kernel-patches/series (in order, patch -p1), make tinyconfig, merge
# kernel-patches/config.fragment (merge_config.sh -m), make olddefconfig,
# check that every option of the fragment survived, make bzImage.
#
# Cache: $KOPT_CACHE/kernel/<key>/ (KOPT_CACHE defaults to /var/cache/kopt).
# The key hashes the linux-source-6.12 package version, the series and its
# patches, the fragment, this script, and the gcc and pahole versions, so a
# warm run returns in well under a second. Each stage leaves a stamp, so an
# interrupted build resumes (make is incremental) instead of starting over.
# Only the newest $KOPT_KEEP_KERNELS (default 2) trees are kept.
#
# Environment:
#   KOPT_CACHE               cache root (default /var/cache/kopt)
#   KOPT_KERNEL_TARBALL      source tarball (default /usr/src/linux-source-6.12.tar.xz)
#   KOPT_KERNEL_JOBS         make -j (default: nproc)
#   KOPT_KERNEL_TIMEOUT      limit for the whole make bzImage, seconds (default 3600)
#   KOPT_KEEP_KERNELS        cached kernels to keep (default 2)
#
# Everything but the bzImage path goes to stderr; the build's own output goes
# to <cache>/build.log and its tail is printed on failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self="$here/$(basename "${BASH_SOURCE[0]}")"
fragment="$here/config.fragment"
series="$here/series"
pkg=linux-source-6.12
tarball=${KOPT_KERNEL_TARBALL:-/usr/src/$pkg.tar.xz}
cache_root=${KOPT_CACHE:-/var/cache/kopt}
jobs=${KOPT_KERNEL_JOBS:-$(nproc)}
build_timeout=${KOPT_KERNEL_TIMEOUT:-3600}
keep=${KOPT_KEEP_KERNELS:-2}

config_only=0
print_key=0
force=0
for arg in "$@"; do
	case "$arg" in
	--config-only) config_only=1 ;;
	--print-key) print_key=1 ;;
	--force) force=1 ;;
	-h | --help)
		sed -n '3,29p' "$self" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "build-kernel.sh: unknown argument '$arg'" >&2
		exit 2
		;;
	esac
done

log() { printf '  %-8s %s\n' "$1" "$2" >&2; }
die() {
	echo "build-kernel.sh: error: $*" >&2
	exit 1
}

[ -r "$tarball" ] || die "$tarball missing: install $pkg (make deps)"
[ -r "$fragment" ] || die "$fragment missing"
command -v pahole >/dev/null || die "pahole missing (package dwarves): needed for CONFIG_DEBUG_INFO_BTF"

# The patches of the series, in order: one file name per line, '#' comments.
patches=()
if [ -r "$series" ]; then
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%%#*}
		line=$(echo "$line" | tr -d '[:space:]')
		[ -n "$line" ] || continue
		[ -r "$here/$line" ] || die "series names '$line' but $here/$line does not exist"
		patches+=("$here/$line")
	done <"$series"
fi

# --- cache key ---------------------------------------------------------------
pkg_version=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || echo unknown)
key=$(
	{
		echo "pkg $pkg $pkg_version"
		stat -c 'tarball %n %s %Y' "$tarball"
		echo "gcc $(gcc -dumpfullversion 2>/dev/null || gcc -dumpversion)"
		echo "pahole $(pahole --version)"
		sha256sum "$self" "$fragment"
		[ -r "$series" ] && sha256sum "$series"
		[ "${#patches[@]}" -eq 0 ] || sha256sum "${patches[@]}"
	} | sed "s|$here/||g" | sha256sum | cut -c1-16
)
if [ "$print_key" = 1 ]; then
	echo "$key"
	exit 0
fi

kroot="$cache_root/kernel"
dir="$kroot/$key"
src="$dir/src"
blog="$dir/build.log"
mkdir -p "$dir"
kroot=$(cd "$kroot" && pwd -P)
dir="$kroot/$key"
src="$dir/src"
blog="$dir/build.log"

# One builder per key at a time (another `make vmtest` may be running).
exec 9>"$dir.lock"
if ! flock -n 9; then
	log WAIT "another build of $dir holds its lock"
	flock -w "$build_timeout" 9 || die "timed out waiting for the lock on $dir"
fi

if [ "$force" = 1 ]; then
	rm -f "$dir/.ok" "$src/.kopt-configured"
fi

if [ "$config_only" = 0 ] && [ -e "$dir/.ok" ] && [ -r "$dir/bzImage" ]; then
	touch "$dir/.ok" # for pruning: most recently used
	echo "$dir/bzImage"
	exit 0
fi

fail_log() {
	echo "build-kernel.sh: $1 failed; last lines of $blog:" >&2
	tail -n 40 "$blog" >&2 || true
	exit 1
}

# --- extract and patch ------------------------------------------------------
if [ ! -e "$src/.kopt-patched" ]; then
	rm -rf "$src" "$dir/.ok"
	mkdir -p "$src"
	log EXTRACT "$tarball ($pkg $pkg_version) -> $src"
	: >"$blog"
	tar -xf "$tarball" -C "$src" --strip-components=1 >>"$blog" 2>&1 ||
		fail_log "extracting $tarball"
	for p in "${patches[@]}"; do
		log PATCH "$(basename "$p")"
		(cd "$src" && patch -p1 -N --batch --no-backup-if-mismatch <"$p") >>"$blog" 2>&1 ||
			fail_log "applying $(basename "$p")"
	done
	touch "$src/.kopt-patched"
fi

# --- configure --------------------------------------------------------------
kmake() { make -C "$src" -s "$@"; }

# Every option the fragment asks for must be in the final .config as asked.
verify_config() {
	local cfg="$src/.config" dropped=() line sym want got
	while IFS= read -r line || [ -n "$line" ]; do
		if [[ "$line" =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
			sym=${BASH_REMATCH[1]}
			want=${BASH_REMATCH[2]}
			got=$(grep -m1 "^$sym=" "$cfg" | cut -d= -f2- || true)
			[ "$got" = "$want" ] || dropped+=("$sym=$want (got: ${got:-not set})")
		elif [[ "$line" =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
			sym=${BASH_REMATCH[1]}
			if grep -q "^$sym=" "$cfg"; then
				dropped+=("$sym off (got: $(grep -m1 "^$sym=" "$cfg"))")
			fi
		fi
	done <"$fragment"
	if [ "${#dropped[@]}" -gt 0 ]; then
		echo "build-kernel.sh: error: olddefconfig dropped options of $fragment" \
			"(a dependency is missing; add it to the fragment):" >&2
		printf '  %s\n' "${dropped[@]}" >&2
		return 1
	fi
}

if [ ! -e "$src/.kopt-configured" ]; then
	log CONFIG "tinyconfig + $(basename "$fragment")"
	{
		kmake tinyconfig &&
			(cd "$src" && scripts/kconfig/merge_config.sh -m .config "$fragment") &&
			kmake olddefconfig
	} >>"$blog" 2>&1 || fail_log "configuring"
	verify_config || exit 1
	touch "$src/.kopt-configured"
fi
cp "$src/.config" "$dir/config"

if [ "$config_only" = 1 ]; then
	log CONFIG "verified: $dir/config"
	exit 0
fi

# --- build ------------------------------------------------------------------
log KERNEL "make -j$jobs bzImage (log: $blog; limit ${build_timeout}s)"
start=$(date +%s)
rc=0
KBUILD_BUILD_USER=kopt KBUILD_BUILD_HOST=kopt \
	timeout -k 10 "$build_timeout" make -C "$src" -j"$jobs" bzImage >>"$blog" 2>&1 || rc=$?
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	fail_log "make bzImage (killed at the ${build_timeout}s limit)"
elif [ "$rc" != 0 ]; then
	fail_log "make bzImage (exit $rc)"
fi
[ -s "$src/vmlinux" ] || fail_log "make bzImage (no vmlinux)"
# BTF is what CO-RE and fexit need: refuse a kernel without it. (Not
# `| grep -q`: grep exits at the first match, readelf then dies of
# SIGPIPE, and pipefail fails a good kernel.)
if ! readelf -S "$src/vmlinux" | grep '\.BTF' >/dev/null; then
	fail_log "BTF generation (vmlinux has no .BTF section; is pahole from dwarves working?)"
fi
cp "$src/arch/x86/boot/bzImage" "$dir/bzImage"
cp "$src/System.map" "$dir/System.map"
ln -sfn src/vmlinux "$dir/vmlinux"
touch "$dir/.ok"
log KERNEL "built in $(($(date +%s) - start))s: $dir/bzImage"

# --- prune old kernels --------------------------------------------------------
# Keep the newest $keep finished trees (by last use); remove the others and
# any unfinished ones (a failed or abandoned build), unless a build holds
# their lock.
keepers=$(find "$kroot" -mindepth 2 -maxdepth 2 -name .ok -printf '%T@ %h\n' 2>/dev/null |
	sort -rn | head -n "$keep" | cut -d' ' -f2-)
for olddir in "$kroot"/*/; do
	olddir=${olddir%/}
	[ "$olddir" != "$dir" ] || continue
	grep -qxF "$olddir" <<<"$keepers" && continue
	(
		exec 8>"$olddir.lock"
		if flock -n 8; then
			log PRUNE "$olddir"
			rm -rf "$olddir" "$olddir.lock"
		fi
	)
done

echo "$dir/bzImage"
