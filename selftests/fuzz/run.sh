#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Runs the libFuzzer harnesses `make fuzz` built and prints, per target,
# the inputs tried (libFuzzer's executed units) and the crashes found
# (crash-, leak-, timeout- and oom- artifacts: inputs that made the
# harness abort, a sanitizer report, or exceed the limits below).
#
#   selftests/fuzz/run.sh BUILD_FUZZ_DIR SECONDS TARGET...
#
# Each target starts from its seed corpus (selftests/fuzz/corpus/T,
# committed) and a working copy in BUILD_FUZZ_DIR/work/T, where the
# inputs it finds stay between runs; crashing inputs go to
# BUILD_FUZZ_DIR/artifacts/T/. Exit status 1 if any target crashed.
set -u

dir=$1 secs=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
fail=0
for t in "$@"; do
	bin=$dir/fuzz_$t
	work=$dir/work/$t
	art=$dir/artifacts/$t
	log=$dir/$t.log
	mkdir -p "$work" "$art"
	rm -f "$art"/crash-* "$art"/leak-* "$art"/timeout-* "$art"/oom-*
	"$bin" -max_total_time="$secs" -print_final_stats=1 -timeout=10 \
		-rss_limit_mb=2048 -max_len=65536 \
		-artifact_prefix="$art/" "$work" "$here/corpus/$t" \
		>"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
		tail -1)
	crashes=$(find "$art" -type f \( -name 'crash-*' -o -name 'leak-*' \
		-o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
	corpus=$(find "$work" -type f | wc -l)
	echo "fuzz $t: ${execs:-?} inputs tried, $crashes crashes," \
		"$corpus inputs in the working corpus (${secs} s; log $log)"
	if [ "$crashes" -gt 0 ] || [ "$rc" -ne 0 ]; then
		fail=1
		find "$art" -type f | sed 's/^/  found: /'
		grep -m1 -E 'ERROR: |FUZZ_CHECK|runtime error' "$log" |
			sed 's/^/  /'
	fi
done
exit $fail
