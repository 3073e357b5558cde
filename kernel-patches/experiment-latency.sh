#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The latency workload of the migration experiment (experiment-guest.sh):
# cyclictest's two measuring threads as ordinary CFS tasks (no -p: they
# sleep 1 ms, wake and are balanced like any other task, so the wakeup
# latency includes waiting for a CPU) against three CPU hogs at 60% load
# on the guest's two vCPUs. Fixed work: LOOPS wakeups per thread; the
# hogs stop when cyclictest does.
#
#   experiment-latency.sh LOOPS [HISTOGRAM_FILE]
#
# With HISTOGRAM_FILE, cyclictest's histogram (1 us buckets up to 20 ms,
# then the overflow count) is written there; otherwise it is discarded.
set -euo pipefail

loops=$1
hist=${2:-/dev/null}
[[ "$loops" =~ ^[0-9]+$ ]] || {
	echo "experiment-latency: LOOPS must be a count, got '$loops'" >&2
	exit 2
}

stress-ng --cpu 3 --cpu-load 60 --timeout 600 --quiet &
hogs=$!
trap 'kill "$hogs" 2>/dev/null; wait "$hogs" 2>/dev/null || true' EXIT
cyclictest -q -m -t 2 -i 1000 -l "$loops" -h 20000 >"$hist"
