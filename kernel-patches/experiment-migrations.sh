#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# `make experiment-migrations`: the end-to-end migration experiment
# (issues #10 and #21) in the patched Linux 6.12 VM, in two guests, both
# running experiment-guest.sh:
#
#   learn    a TCG guest: collect on three workloads, train every target
#            (forced, decision, lookahead:K) per workload and on all,
#            score the forced model live in the kernel (shadow);
#   enforce  a guest on QEMU's instruction-counting clock (vm-run.sh
#            --icount), so that run times count guest instructions and
#            host load does not move them: the all-workload model of
#            ENFORCE_TARGET enforcing vs stock CFS, alternated, REPS runs
#            per arm per workload, with the schedstat counters per run.
#
# This side boots them, then turns their JSON into
# build/experiment-migrations/results.json and results.md (the tables the
# README quotes).
#
#   kernel-patches/experiment-migrations.sh [BUILD_DIR]   (default: build)
#
# Environment (defaults: about 60 minutes on a 2-core host):
#   REPS            runs per arm per workload in the enforce guest (20)
#   COLLECT_S       seconds of collection per workload (60)
#   COST_NS         cache-hot window for both guests, 5 ms: TCG runs the
#                   guest some 10x slower than hardware, so the default
#                   0.5 ms would make almost nothing hot
#   TARGETS         what to train ("forced decision lookahead:4
#                   lookahead:16")
#   ENFORCE_TARGET  whose all-workload model enforces (lookahead:4)
#   ICOUNT_SHIFT    the enforce guest's clock: 2^SHIFT ns per guest
#                   instruction (3)
#   KOPT_VM_TIMEOUT limit of each guest (3600 s), and what vm-run.sh reads
#   KOPT_EXP_REPORT_ONLY=1   only the tables, from the results already in
#                   build/experiment-migrations
#   KOPT_EXP_SKIP_LEARN=1    keep the learn results, rerun enforce
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
build=$(cd "${1:-$top/build}" && pwd -P)
out=$build/experiment-migrations
reps=${REPS:-20}
targets=${TARGETS:-forced decision lookahead:4 lookahead:16}
enforce_target=${ENFORCE_TARGET:-lookahead:4}
shift_=${ICOUNT_SHIFT:-3}

say() { echo "experiment-migrations: $*" >&2; }
die() {
	say "error: $*"
	exit 1
}

[ -x "$build/kopt" ] || die "$build/kopt missing (make it first)"
command -v jq >/dev/null || die "jq missing (make deps)"
[[ "$enforce_target" =~ ^(forced|decision|lookahead:[0-9]+)$ ]] ||
	die "ENFORCE_TARGET '$enforce_target': forced, decision or lookahead:K"
[[ " $targets " == *" $enforce_target "* ]] ||
	die "ENFORCE_TARGET $enforce_target is not among TARGETS ($targets)"

# PHASE WORKDIR [vm-run.sh options]: one guest
guest() {
	local phase=$1 work=$2
	shift 2
	say "$phase: booting the patched guest; results in $work" \
		"(log: $work.log)"
	"$here/vm-run.sh" --work "$work" --cwd "$top" "$@" \
		--timeout "${KOPT_VM_TIMEOUT:-3600}" \
		--env "KOPT=$build/kopt" --env "PHASE=$phase" \
		--env "REPS=$reps" --env "COLLECT_S=${COLLECT_S:-60}" \
		--env "COST_NS=${COST_NS:-5000000}" --env "TARGETS=$targets" \
		--env "MODEL=$out/model-${enforce_target//:/}-all.kmlp" \
		-- bash "$here/experiment-guest.sh" >"$work.log" 2>&1 || {
		tail -n 30 "$work.log" >&2
		die "the $phase guest failed; log: $work.log"
	}
}

t0=$(date +%s)
if [ "${KOPT_EXP_REPORT_ONLY:-0}" = 1 ]; then
	[ -s "$out/enforce/setup.json" ] || die "no experiment results in $out"
	say "KOPT_EXP_REPORT_ONLY=1: tables from the results in $out"
else
	if [ "${KOPT_EXP_SKIP_LEARN:-0}" = 1 ]; then
		[ -s "$out/setup.json" ] || die "KOPT_EXP_SKIP_LEARN=1: no $out"
		rm -rf "$out/enforce"
	else
		rm -rf "$out"
		mkdir -p "$out"
		guest learn "$out"
	fi
	t1=$(date +%s)
	mkdir -p "$out/enforce"
	guest enforce "$out/enforce" --icount "$shift_"
	t2=$(date +%s)
	learn_s=$((t1 - t0))
	[ "${KOPT_EXP_SKIP_LEARN:-0}" != 1 ] || learn_s=null
	jq -n --argjson l "$learn_s" --argjson e "$((t2 - t1))" \
		--argjson shift "$shift_" \
		'{learn_s: $l, enforce_s: $e, icount_shift: $shift}' \
		>"$out/wall.json"
fi

# ---- results ---------------------------------------------------------------

cd "$out"
names=(hackbench stress-mix latency)

# cyclictest's histogram (1 us buckets, summed over its threads) as
# percentiles; a percentile past the last bucket is the overflow bound
latency() { # FILE
	awk '
	/^# Histogram Overflows:/ { for (i = 4; i <= NF; i++) ov += $i; next }
	/^# Max Latencies:/ { for (i = 4; i <= NF; i++) if ($i + 0 > mx) mx = $i + 0; next }
	/^#/ { next }
	NF >= 2 {
		b = $1 + 0; c = 0
		for (i = 2; i <= NF; i++) c += $i
		cnt[b] += c; tot += c; if (b > top) top = b
	}
	function pct(q,   b, cum) {
		for (b = 0; b <= top; b++) { cum += cnt[b]; if (cum >= q * (tot + ov)) return b }
		return top + 1
	}
	END {
		printf "{\"samples\": %d, \"overflows\": %d, \"p50_us\": %d, " \
			"\"p99_us\": %d, \"p999_us\": %d, \"max_us\": %d}\n",
			tot + ov, ov, pct(0.5), pct(0.99), pct(0.999), mx
	}' "$1"
}

# one enforce-guest run: the policy's JSON, the counter deltas, latency
run_row() { # NAME MODE R
	local b=enforce/time-$1-$2-$3 lat=null

	[ ! -s "$b.hist" ] || lat=$(latency "$b.hist")
	jq -n --slurpfile l "$b.json" --slurpfile x "$b.before" \
		--slurpfile y "$b.after" --argjson lat "$lat" --argjson r "$3" \
		'$l[0] as $l | $x[0] as $x | $y[0] as $y |
		{rep: $r, runtime_s: $l.runtime_s,
		 workload_status: $l.workload_status,
		 overrides: ($l.stats.overrides // 0),
		 calls: ($l.stats.calls // null),
		 cfs_migrate: ($l.stats.cfs_migrate // null),
		 cfs_forced: ($l.stats.cfs_forced // null)} +
		($y | with_entries(.value -= $x[.key])) +
		(if $lat then $lat else {} end)'
}

# the trainer's report without the per-feature ranking and quantization
train_json() { # FILE
	jq '{error, dataset, splits, inputs, frac_bits, test_metrics,
		cfs_rule, model_minus_cfs_rule, without_cfs_columns, warnings}
		| with_entries(select(.value != null))' "$1"
}

{
	echo '{"setup": {"learn":'
	cat setup.json
	echo ', "enforce":'
	cat enforce/setup.json
	echo ', "wall":'
	cat wall.json 2>/dev/null || echo null
	echo '}, "offline": {'
	sep=
	for t in $targets; do
		echo "$sep\"$t\": {"
		sep2=
		for n in "${names[@]}" all; do
			echo "$sep2\"$n\":"
			train_json "train-${t//:/}-$n.json"
			sep2=,
		done
		echo '}'
		sep=,
	done
	echo '}, "live": {'
	sep=
	for n in "${names[@]}"; do
		echo "$sep\"$n\": {\"live\":"
		cat "live-$n.json"
		echo ', "score":'
		cat "score-$n.json"
		echo '}'
		sep=,
	done
	echo '}, "enforce": {"target": "'"$enforce_target"'", "workloads": {'
	sep=
	for n in "${names[@]}"; do
		echo "$sep\"$n\": {"
		sep3=
		for arm in off enforce; do
			echo "$sep3\"$arm\": ["
			sep2=
			for f in enforce/time-"$n"-"$arm"-*.json; do
				r=${f##*-}
				r=${r%.json}
				echo "$sep2"
				run_row "$n" "$arm" "$r"
				sep2=,
			done
			echo ']'
			sep3=,
		done
		echo '}'
		sep=,
	done
	echo '}}}'
} | jq '
# Student t 0.975 quantiles, df 1..30 (then the normal 1.96)
def t975($df): [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306,
	2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101,
	2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
	2.045, 2.042][$df - 1] // 1.96;
def summ: length as $n | (add / $n) as $m |
	(if $n > 1 then (map((. - $m) * (. - $m)) | add) / ($n - 1) | sqrt
	 else null end) as $sd |
	{n: $n, mean: $m, sd: $sd,
	 ci95: (if $sd then t975($n - 1) * $sd / ($n | sqrt) else null end)};
def metrics: ["runtime_s", "overrides", "lb_count", "lb_failed", "lb_gained",
	"lb_hot_gained", "alb_pushed", "p50_us", "p99_us", "p999_us", "max_us"];
.enforce.workloads |= with_entries(.value |= (
	. as $w | (.off | sort_by(.rep)) as $o | (.enforce | sort_by(.rep)) as $e |
	.summary = ([metrics[] | select($o[0][.] != null) | . as $k |
		{key: $k, value: {
			off: ($o | map(.[$k]) | summ),
			enforce: ($e | map(.[$k]) | summ),
			diff: ([$o, $e] | transpose | map(select(.[0] and .[1]) |
				.[1][$k] - .[0][$k]) | summ |
				.mde = (if .sd then (t975(.n - 1) + 0.842) *
					.sd / (.n | sqrt) else null end))}}] |
		from_entries))) |
# What the look-ahead label predicts: each override the model gets right
# moves now a task CFS would move within K more refusals, so it can save
# at most one forced migration and one failed attempt, and no more than
# stock CFS has; an estimate from the offline test precision, an upper
# bound.
(.offline[.enforce.target].all.test_metrics.fixed.precision // null) as $prec |
.enforce.predicted = {test_precision: $prec,
	note: "estimate, upper bound: overrides x offline test precision"} |
.enforce.workloads |= with_entries(.value.summary as $s | .value.predicted =
	((if $prec then $s.overrides.enforce.mean * $prec else null end)
		as $right |
	{right_overrides_per_run: $right,
	 max_fewer_forced: (if $right then [$right,
		$s.lb_hot_gained.off.mean] | min else null end),
	 max_fewer_failed: (if $right then [$right,
		$s.lb_failed.off.mean] | min else null end),
	 mde_lb_hot_gained: $s.lb_hot_gained.diff.mde,
	 mde_lb_failed: $s.lb_failed.diff.mde}))
' >results.json || die "results.json: a step's JSON is malformed"

# The tables the README quotes, from results.json alone.
jq -r '
def pct: if . == null then "n/a" else (. * 1000 | round / 10 | tostring) + "%" end;
def pp: if . == null then "n/a" else (. * 1000 | round / 10 |
	if . > 0 then "+" + tostring else tostring end) end;
def num: if . == null then "n/a" elif (. | fabs) >= 100 then (. | round | tostring)
	else (. * 100 | round / 100 | tostring) end;
def ci($d): if $d.ci_low == null then "n/a"
	else "\($d.diff | pp) [\($d.ci_low | pp), \($d.ci_high | pp)]" end;
def three($t; $k): "\($t.test_metrics.fixed[$k] | pct) / \($t.test_metrics.baseline[$k] | pct) / \($t.test_metrics.cfs_rule[$k] | pct)";
def offline($target; $name; $t):
	if $t.error then "| \($target) | \($name) | not trained: \($t.error | gsub("\n"; " ")) |||||||"
	else "| \($target) | \($name) | \($t.dataset.rows)\(if $t.dataset.lookahead then " of \($t.dataset.rows_read)" else "" end) | \($t.splits.test.rows) (\($t.splits.test.positives)) | \(three($t; "accuracy")) | \(three($t; "balanced_accuracy")) | \(three($t; "f1")) | \(ci($t.model_minus_cfs_rule.balanced_accuracy)) | \(ci($t.model_minus_cfs_rule.accuracy)) | \($t.without_cfs_columns.test_metrics.fixed.balanced_accuracy // null | pct) |" end;
def arm($s): "\($s.mean | num) ± \($s.ci95 | num)";
"Offline, held-out test split (the last 15% of each dataset, by time); each cell model (fixed point) / majority class / CFS rule; model − rule in percentage points with the 95% paired bootstrap interval (2000 resamples of the test rows, seed 21):",
"",
"| target | trained on | rows kept | test rows (positive) | accuracy | balanced accuracy | F1 | model − rule, balanced | model − rule, accuracy | balanced, model w/o CFS columns |",
"|---|---|---|---|---|---|---|---|---|---|",
(.offline | to_entries[] | .key as $target | .value | to_entries[] |
	offline($target; .key; .value)),
"",
"Live in the kernel, the all-workload forced model in shadow mode on a fresh run (learn guest):",
"",
"| workload | calls evaluated (forced) | in-kernel accuracy | userspace, same records | kopt model score | logits differ | balanced (kernel) | majority baseline |",
"|---|---|---|---|---|---|---|---|",
(.live | to_entries[] | .key as $n | .value.live as $l |
	"| \($n) | \($l.evaluations) (\($l.kernel.tp + $l.kernel.fn)) | \($l.kernel.accuracy | pct) | \($l.userspace.accuracy | pct) | \(.value.score.fixed.accuracy | pct) | \($l.logit_mismatches) | \($l.kernel.balanced_accuracy | pct) | \($l.majority_baseline.accuracy | pct) |"),
"",
"Enforce vs stock CFS on the icount clock (shift \(.setup.wall.icount_shift // "?"): 2^shift ns of guest time per guest instruction), the all-workload \(.enforce.target) model enforcing, runs alternated; per run, mean ± 95% CI half-width (Student t); enforce − stock paired by repetition, with its 95% CI and the minimum detectable effect (80% power, two-sided 5%: (t + 0.84) × SE of the paired difference):",
"",
"| workload | per run | stock CFS | enforce | enforce − stock [95% CI] | MDE | n |",
"|---|---|---|---|---|---|---|",
(.enforce.workloads | to_entries[] | .key as $n | .value.summary | to_entries[] |
	.value as $v |
	"| \($n) | \(.key) | \(arm($v.off)) | \(arm($v.enforce)) | \($v.diff.mean | num) [\(if $v.diff.ci95 then ($v.diff.mean - $v.diff.ci95 | num) + ", " + ($v.diff.mean + $v.diff.ci95 | num) else "n/a" end)] | \($v.diff.mde | num) | \($v.diff.n) |"),
"",
"What the look-ahead label predicts (estimate, an upper bound: each override the model gets right, at the offline test precision \(.enforce.predicted.test_precision | pct), saves at most one forced migration and one failed attempt, and no more than stock CFS has) against what the runs could detect:",
"",
"| workload | decisions changed per run | right ones (estimate) | fewer forced, at most | MDE, forced (lb_hot_gained) | fewer failed attempts, at most | MDE, failed attempts (lb_failed) |",
"|---|---|---|---|---|---|---|",
(.enforce.workloads | to_entries[] | .value as $w | $w.predicted as $p |
	"| \(.key) | \($w.summary.overrides.enforce.mean | num) | \($p.right_overrides_per_run | num) | \($p.max_fewer_forced | num) | \($p.mde_lb_hot_gained | num) | \($p.max_fewer_failed | num) | \($p.mde_lb_failed | num) |"),
"",
"overrides: decisions the model changed (the policy returned a decision unlike CFS'"'"'s); lb_failed: load_balance() calls that found an imbalance and moved nothing; lb_gained: tasks load_balance() moved; lb_hot_gained: forced migrations (a cache-hot task moved because nr_balance_failed > cache_nice_tries); lb_count: load_balance() calls; alb_pushed: active-balance pushes (all summed over CPUs, domains and idle types of /proc/schedstat); runtime_s: the workload'"'"'s run time on the guest clock; p50/p99/p999/max_us: cyclictest wakeup latency (latency workload only)."
' results.json >results.md || die "results.md: jq failed"
cat results.md
say "written: $out/results.json, $out/results.md"
