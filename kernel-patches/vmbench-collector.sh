#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# `make vmbench-collector`: the NIC collector's cost per event counted in
# instructions, which neither this host's load nor its neighbours move.
#
# `kopt bench collector` on this host gives ns per event, and the same
# program's median moved over 141 to 213 ns between runs of one day here
# (the sandbox shares its machine). This runs the same bench in a Linux
# 6.12 guest (Debian's kernel package, debian-kernel.sh) on QEMU's
# instruction-counting clock (vm-run.sh --icount 0): guest time advances
# 1 ns per guest instruction, so every ns_per_event in the JSON is a count
# of instructions per event, the empty program's included. The guest gets
# a scratch virtio disk with ext4 at /var/tmp, whose interrupts drive the
# irq programs as the host's disk does.
#
#   kernel-patches/vmbench-collector.sh [BUILD_DIR]      (default: build)
#
# Writes BUILD_DIR/vmbench-collector-icount.json: the bench's JSON with
# "unit": "guest instructions" and the guest kernel added.
# Environment: KOPT_BENCH_ARGS (default "--rounds 3 --round-trips 2000
# --repeat 1000"), KOPT_VM_TIMEOUT (default 900), and what vm-run.sh reads.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
build=$(cd "${1:-$top/build}" && pwd -P)
read -r -a args <<<"${KOPT_BENCH_ARGS:---rounds 3 --round-trips 2000 --repeat 1000}"
out="$build/vmbench-collector-icount.json"

die() {
	echo "vmbench-collector.sh: error: $*" >&2
	exit 1
}

[ -x "$build/kopt" ] || die "$build/kopt missing (run make first)"
command -v jq >/dev/null || die "jq missing (make deps)"
kdir=$("$here/debian-kernel.sh") || die "fetching Debian's 6.12 kernel failed"
initrd=$("$here/mkinitramfs.sh" --modules "$kdir/modules") || die "initramfs failed"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kopt-vmbc.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

echo "  VMBENCH  kopt bench collector ${args[*]} (icount guest: instructions)" >&2
"$here/vm-run.sh" --kernel "$kdir/vmlinuz" --initrd "$initrd" \
	--scratch-disk 256 --icount 0 --timeout "${KOPT_VM_TIMEOUT:-900}" \
	--work "$tmp" -- /bin/sh -c \
	"mkfs.ext4 -q /dev/vda && mount /dev/vda /var/tmp &&
	 $(printf '%q ' "$build/kopt" bench collector --json "${args[@]}") >/run/kopt/bench.json" ||
	die "the bench in the guest failed (status $?)"
jq --arg kernel "$(cut -d' ' -f1,2 "$kdir/package")" \
	'{unit: "guest instructions (QEMU icount, shift 0): every ns figure below counts instructions",
	  guest_kernel: $kernel} + .' "$tmp/bench.json" >"$out.tmp" ||
	die "the guest's output is not the bench's JSON"
mv "$out.tmp" "$out"
jq -r '"  irq exit: \(.programs.nic_irq_exit.ns_per_event | floor) instructions/event with records, \(.window_only.programs.nic_irq_exit.ns_per_event | floor) window-only; empty program \(.programs.nic_irq_exit.baseline_ns_per_event | floor)"' "$out" >&2
echo "$out"
