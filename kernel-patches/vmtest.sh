#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# `make vmtest`: runs the VM test selection (selftests/vm_tests.list, or
# TESTS=substr[,substr]) of the sanitized test build inside the kopt VM, as
#
#   KOPT_IN_VM=1 KOPT_BIN=<build>/test/kopt KOPT_BUILD=<build> \
#       <build>/test/test_progs -t <selection>
#
# prints the guest's output as it comes and then its summary line again as
# "vmtest: N passed, N failed, N skipped". Exits non-zero if a test failed,
# the guest hung or crashed (vm-run.sh's 124/125), or no summary came back.
#
#   kernel-patches/vmtest.sh [BUILD_DIR]     (default: build)
#
# Environment: TESTS, KOPT_VM_TIMEOUT (default 900 s here), and everything
# vm-run.sh reads (KOPT_VM_ACCEL, KOPT_VM_KERNEL, ...).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
build=$(cd "${1:-$top/build}" && pwd -P)
list="$top/selftests/vm_tests.list"

for f in "$build/test/test_progs" "$build/test/kopt" "$build/kopt"; do
	[ -x "$f" ] || { echo "vmtest: $f missing (make it first)" >&2; exit 1; }
done

tests=${TESTS:-}
if [ -z "$tests" ]; then
	tests=$(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$list" | grep -v '^$' | paste -sd, -)
fi
[ -n "$tests" ] || { echo "vmtest: empty selection in $list" >&2; exit 1; }

out=$(mktemp "${TMPDIR:-/tmp}/kopt-vmtest.XXXXXX")
trap 'exit 130' INT
trap 'exit 143' TERM

# A memcached on the host's loopback, which the guest reaches through its
# e1000e at 10.0.2.2 (QEMU user networking): traffic that crosses the NIC,
# for the ITR test. It lives as long as this script.
mc_pid=
mc_port=
if command -v memcached >/dev/null; then
	for _ in $(seq 20); do
		p=$((20000 + RANDOM % 20000))
		ss -Htln "sport = :$p" | grep -q . && continue
		memcached -u nobody -l 127.0.0.1 -p "$p" -t 1 &
		mc_pid=$!
		mc_port=$p
		break
	done
fi
trap 'rm -f "$out"; [ -z "$mc_pid" ] || kill "$mc_pid" 2>/dev/null' EXIT

echo "vmtest: running test_progs -t $tests in the kopt VM" >&2
rc=0
# Leak checking needs ptrace-free LSan: works in the guest (see README).
# One TCG thread for both vCPUs (KOPT_VM_TCG_THREAD=multi for one each):
# multi-threaded TCG guests die now and then when the collector's
# cpu_idle program is attached and detached (kernel-patches/README.md);
# with one thread the whole run took 3.4 min instead of 2.7, and its
# 60 s hackbench still made 19k can_migrate_task calls.
"$here/vm-run.sh" --timeout "${KOPT_VM_TIMEOUT:-900}" --cwd "$top" \
	--tcg-thread "${KOPT_VM_TCG_THREAD:-single}" \
	${mc_port:+--env KOPT_VM_HOST_MEMCACHED=10.0.2.2:$mc_port} \
	--env KOPT_BIN="$build/test/kopt" --env KOPT_BUILD="$build" \
	--env ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" \
	-- "$build/test/test_progs" -t "$tests" | tee "$out" || rc=${PIPESTATUS[0]}

summary=$(grep -E '^([[:alnum:]_-]+: )?[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1 || true)
summary=${summary#*: }
if [ -z "$summary" ]; then
	echo "vmtest: FAIL: no summary line came back from the guest (vm-run.sh exit $rc)" >&2
	[ "$rc" != 0 ] && exit "$rc"
	exit 1
fi
echo "vmtest: $summary"
if [ "$rc" != 0 ]; then
	exit "$rc"
fi
failed=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$summary")
[ "$failed" = 0 ] || exit 1
