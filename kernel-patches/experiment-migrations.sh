#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# `make experiment-migrations`: the end-to-end forced-migration experiment
# (issue #10) in the patched Linux 6.12 VM. The guest side,
# experiment-guest.sh, collects, trains, scores the model live in the
# kernel and times the workloads; this side boots it, then turns its JSON
# into build/experiment-migrations/results.json and results.md (the table
# the README quotes, next to the published figures).
#
#   kernel-patches/experiment-migrations.sh [BUILD_DIR]   (default: build)
#
# Environment: REPS (run-time repetitions per mode, 5), COLLECT_S (seconds
# of collection per workload, 60), COST_NS (cache-hot window for the whole
# experiment, 5 ms: TCG runs the guest some 10x slower than hardware, so
# the default 0.5 ms would make almost nothing hot), KOPT_VM_TIMEOUT, and
# what vm-run.sh reads.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
build=$(cd "${1:-$top/build}" && pwd -P)
out=$build/experiment-migrations

say() { echo "experiment-migrations: $*" >&2; }
die() {
	say "error: $*"
	exit 1
}

[ -x "$build/kopt" ] || die "$build/kopt missing (make it first)"
command -v jq >/dev/null || die "jq missing (make deps)"

rm -rf "$out"
mkdir -p "$out"
say "booting the patched guest; results in $out (log: $out.log)"
"$here/vm-run.sh" --work "$out" --cwd "$top" \
	--timeout "${KOPT_VM_TIMEOUT:-5400}" \
	--env "KOPT=$build/kopt" --env "REPS=${REPS:-5}" \
	--env "COLLECT_S=${COLLECT_S:-60}" --env "COST_NS=${COST_NS:-5000000}" \
	-- bash "$here/experiment-guest.sh" >"$out.log" 2>&1 || {
	tail -n 30 "$out.log" >&2
	die "the guest side failed; log: $out.log"
}

# ---- results ---------------------------------------------------------------

cd "$out"
names=(hackbench stress-mix stress-load)

# mean and sample standard deviation of run_time over the repetitions
times() { # NAME MODE
	jq -s '[.[].runtime_s] | {n: length, mean: (add / length),
		sd: (if length > 1 then ((map(. * .) | add) - (add * add / length))
		     / (length - 1) | sqrt else 0 end), runs: .}' \
		time-"$1"-"$2"-*.json
}

{
	echo '{'
	echo '"setup":'
	cat setup.json
	for n in "${names[@]}" all; do
		echo ", \"train_$n\":"
		cat "train-$n.json"
	done
	for n in "${names[@]}"; do
		echo ", \"live_$n\":"
		cat "live-$n.json"
		echo ", \"score_$n\":"
		cat "score-$n.json"
		echo ", \"time_${n}_off\":"
		times "$n" off
		echo ", \"time_${n}_enforce\":"
		times "$n" enforce
	done
	echo '}'
} | jq . >results.json || die "results.json: a step's JSON is malformed"

pct() { jq -r "$1 * 100 | . * 10 | round / 10" results.json; }
num() { jq -r "$1" results.json; }

{
	echo "| figure | published | kopt |"
	echo "|---|---|---|"
	for n in "${names[@]}" all; do
		if [ "$(num ".train_$n.error // empty")" ]; then
			echo "| trained on $n | - | not trained:" \
				"$(num ".train_$n.error" | tr '\n' ' ') |"
			continue
		fi
		echo "| trained on $n: test accuracy, fixed point (float) |" \
			"97.4% (user space) |" \
			"$(pct ".train_$n.test_metrics.fixed.accuracy")%" \
			"($(pct ".train_$n.test_metrics.float.accuracy")%); balanced" \
			"$(pct ".train_$n.test_metrics.fixed.balanced_accuracy")%; majority" \
			"baseline $(pct ".train_$n.test_metrics.baseline.accuracy")%;" \
			"$(num ".train_$n.splits.test.positives")" \
			"forced of $(num ".train_$n.splits.test.rows") |"
	done
	for n in "${names[@]}"; do
		echo "| $n, live in kernel (all-workload model): accuracy |" \
			"96.1% (kernel) |" \
			"$(pct ".live_$n.kernel.accuracy")% kernel," \
			"$(pct ".live_$n.userspace.accuracy")% userspace on the" \
			"same $(num ".live_$n.evaluations") calls" \
			"($(num ".live_$n.logit_mismatches") logits differ;" \
			"kopt model score: $(pct ".score_$n.fixed.accuracy")%);" \
			"balanced $(pct ".live_$n.kernel.balanced_accuracy")%," \
			"majority $(pct ".live_$n.majority_baseline.accuracy")% |"
		off=$(num ".time_${n}_off.mean")
		enf=$(num ".time_${n}_enforce.mean")
		echo "| $n run time, enforce vs stock CFS |" \
			"~2% |" \
			"$(printf '%.2f' "$off") s ± $(num ".time_${n}_off.sd | . * 100 | round / 100")" \
			"-> $(printf '%.2f' "$enf") s ± $(num ".time_${n}_enforce.sd | . * 100 | round / 100")" \
			"($(jq -rn "($enf / $off - 1) * 1000 | round / 10")%," \
			"$(num ".time_${n}_off.n") runs each) |"
	done
} >results.md
cat results.md
say "written: $out/results.json, $out/results.md"
