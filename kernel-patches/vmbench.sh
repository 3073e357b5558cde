#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# `make vmbench`: what the kopt patch series costs per can_migrate_task()
# call. Runs `kopt bench kpatch` (loader/tools/kpatch_bench.c) with the same
# workload in two guests of the same VM: one booted on Linux 6.12 without
# the series, one with it; the second gets the first's result as its
# baseline, so build/vmbench.json holds both and their ratios:
#
#   no_policy_ratio_to_unpatched   the series with no policy registered
#   added_ns_per_call_kfunc        the 7-16-1 policy, kfunc evaluator
#   added_ns_per_call_inline       ... inline BPF evaluator
#   est_native_added_ns_*          the same scaled by how much slower the
#                                  guest runs the model's BPF than this
#                                  host does (an estimate: TCG inflates)
#
#   kernel-patches/vmbench.sh [BUILD_DIR]     (default: build)
#
# With KOPT_VMBENCH_ICOUNT=SHIFT (`make vmbench-icount`: 0) both guests run
# on QEMU's instruction-counting clock (vm-run.sh --icount): every figure
# is then a count of guest instructions, which neither TCG's speed nor the
# host's load moves, and build/vmbench-icount.json reports the added
# instructions per call (added_insns_per_call_*) instead of an estimate
# scaled from time. One host thread runs both vCPUs: slower.
#
# The unpatched kernel is built by a scratch copy of build-kernel.sh with
# this series' lines taken out of `series` and of config.fragment, so it
# shares the cache (and usually the build) of the unpatched VM kernel.
# Environment: KOPT_VM_TIMEOUT, KOPT_BENCH_ARGS (extra `kopt bench kpatch`
# options, e.g. "--rounds 5"), and what vm-run.sh reads.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
build=$(cd "${1:-$top/build}" && pwd -P)
read -r -a extra <<<"${KOPT_BENCH_ARGS:-}"
icount=${KOPT_VMBENCH_ICOUNT:-}
vm_extra=()
out=vmbench
if [ -n "$icount" ]; then
	vm_extra=(--icount "$icount")
	extra+=(--icount "$icount")
	out=vmbench-icount
fi

say() { echo "vmbench: $*" >&2; }
die() {
	say "error: $*"
	exit 1
}

[ -x "$build/kopt" ] || die "$build/kopt missing (make it first)"

# The series' own lines: its patches, and its block of config.fragment.
series_re='^000[1-4]-.*\.patch$'
frag_re='^(# --- kopt patch series.*|CONFIG_SCHED_LB_BPF=y)$'

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kopt-vmbench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cp "$here/build-kernel.sh" "$tmp/"
grep -v -E "$series_re" "$here/series" >"$tmp/series" || true
grep -v -E "$frag_re" "$here/config.fragment" >"$tmp/config.fragment"

# Three kernels may be cached at once here: keep them all.
export KOPT_KEEP_KERNELS=${KOPT_KEEP_KERNELS:-3}
say "building (or finding) the unpatched and the patched kernel"
unpatched=$("$tmp/build-kernel.sh") || die "unpatched kernel build failed"
patched=$("$here/build-kernel.sh") || die "patched kernel build failed"

# The guest sees this tree read-only at the same path, and its work
# directory (results) at /run/kopt.
run_bench() {
	local kernel=$1 work=$2
	shift 2
	rm -rf "$work"
	mkdir -p "$work"
	"$here/vm-run.sh" --kernel "$kernel" --work "$work" --cwd "$top" \
		--timeout "${KOPT_VM_TIMEOUT:-900}" "${vm_extra[@]}" -- \
		"$build/kopt" bench kpatch --json --out /run/kopt/bench.json \
		"${extra[@]}" "$@" >"$work.log" 2>&1 ||
		{
			tail -n 30 "$work.log" >&2
			die "kopt bench kpatch failed in the guest ($kernel); log: $work.log"
		}
	[ -s "$work/bench.json" ] || die "no result from the guest; log: $work.log"
}

host_args=()
if [ -z "$icount" ]; then
	say "host: calibration (the model's BPF evaluator, test-run)"
	"$build/kopt" bench kpatch --json --out "$build/vmbench-host.json" \
		>"$build/vmbench-host.log" 2>&1 ||
		die "kopt bench kpatch failed on the host; log: $build/vmbench-host.log"
	host_args=(--host "$build/vmbench-host.json")
fi
say "unpatched guest: $unpatched"
run_bench "$unpatched" "$build/$out-unpatched"
cp "$build/$out-unpatched/bench.json" "$build/$out-unpatched.json"
say "patched guest: $patched"
run_bench "$patched" "$build/$out-patched" \
	--baseline "$build/$out-unpatched.json" "${host_args[@]}"
cp "$build/$out-patched/bench.json" "$build/$out.json"
cat "$build/$out.json"
say "written: $build/$out.json"
