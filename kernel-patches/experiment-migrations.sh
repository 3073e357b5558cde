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
# what vm-run.sh reads. KOPT_EXP_REPORT_ONLY=1 redoes only the tables from
# the results already in build/experiment-migrations.
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

if [ "${KOPT_EXP_REPORT_ONLY:-0}" = 1 ]; then
	[ -s "$out/train-all.json" ] || die "no experiment results in $out"
	say "KOPT_EXP_REPORT_ONLY=1: tables from the results in $out"
else
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
fi

# ---- results ---------------------------------------------------------------

cd "$out"
names=(hackbench stress-mix stress-load)

# run times of NAME in MODE: mean, sample sd, the runs, decisions changed
times() { # NAME MODE
	jq -s '{n: length, runs: map(.runtime_s),
		overrides: (map(.stats.overrides // 0) | add)} |
		.mean = (.runs | add / length) |
		.sd = (if .n > 1 then ((.runs | map(. * .) | add) -
			(.runs | add) * (.runs | add) / .n) / (.n - 1) | sqrt
			else 0 end)' time-"$1"-"$2"-*.json
}

{
	echo '{"setup":'
	cat setup.json
	echo ', "train_all":'
	cat train-all.json
	echo ', "workloads": {'
	sep=
	for n in "${names[@]}"; do
		echo "$sep\"$n\": {\"train\":"
		cat "train-$n.json"
		echo ', "live":'
		cat "live-$n.json"
		echo ', "score":'
		cat "score-$n.json"
		echo ', "time_off":'
		times "$n" off
		echo ', "time_enforce":'
		times "$n" enforce
		echo '}'
		sep=,
	done
	echo '}}'
} | jq . >results.json || die "results.json: a step's JSON is malformed"

# The three tables the README quotes, from results.json alone.
jq -r '
def pct: if . == null then "n/a" else (. * 1000 | round / 10 | tostring) + "%" end;
def s2: . * 100 | round / 100 | tostring;
def offline($name; $t):
	if $t.error then "| \($name) | not trained: \($t.error | gsub("\n"; " ")) ||||||"
	else "| \($name) | \($t.splits.test.rows) (\($t.splits.test.positives)) | \($t.test_metrics.fixed.accuracy | pct) | \($t.test_metrics.float.accuracy | pct) | \($t.test_metrics.fixed.balanced_accuracy | pct) | \($t.test_metrics.baseline.accuracy | pct) | \($t.frac_bits) |" end;
"Offline, held-out test split (the last 15% of each dataset, by time):",
"",
"| trained on | test rows (forced) | fixed point | float | balanced (fixed) | majority baseline | frac bits |",
"|---|---|---|---|---|---|---|",
(.workloads | to_entries[] | offline(.key; .value.train)),
offline("all three"; .train_all),
"",
"Live in the kernel, the all-workload model in shadow mode on a fresh run:",
"",
"| workload | calls evaluated (forced) | in-kernel accuracy | userspace, same records | kopt model score | logits differ | balanced (kernel) | majority baseline |",
"|---|---|---|---|---|---|---|---|",
(.workloads | to_entries[] | .key as $n | .value.live as $l |
	"| \($n) | \($l.evaluations) (\($l.kernel.tp + $l.kernel.fn)) | \($l.kernel.accuracy | pct) | \($l.userspace.accuracy | pct) | \(.value.score.fixed.accuracy | pct) | \($l.logit_mismatches) | \($l.kernel.balanced_accuracy | pct) | \($l.majority_baseline.accuracy | pct) |"),
"",
"Run time, the all-workload model enforcing vs stock CFS (alternated, wall clock):",
"",
"| workload | stock CFS (s) | enforce (s) | change | decisions the model changed |",
"|---|---|---|---|---|",
(.workloads | to_entries[] | .key as $n | .value.time_off as $o | .value.time_enforce as $e |
	"| \($n) | \($o.mean | s2) ± \($o.sd | s2) (n=\($o.n)) | \($e.mean | s2) ± \($e.sd | s2) (n=\($e.n)) | \(($e.mean / $o.mean - 1) | pct) | \($e.overrides) |")
' results.json >results.md || die "results.md: jq failed"
cat results.md
say "written: $out/results.json, $out/results.md"
