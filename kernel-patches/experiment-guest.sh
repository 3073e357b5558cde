#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The forced-migration experiment, guest side (run by experiment-migrations.sh
# inside the patched Linux 6.12 VM, as root, with this tree read-only at its
# own path and the results share at /run/kopt):
#
#   1. collect: `kopt collect migrations` on the patch's tracepoint rung
#      (exact forced flag) while each workload runs;
#   2. train:   `kopt train` per workload and on all of them together
#      (held-out test split by time: the offline figures);
#   3. shadow:  the all-workload model in the kernel, `kopt model live
#      --mode shadow`, on a fresh run of each workload: live in-kernel
#      accuracy against CFS's forced flag on every call, and `kopt model
#      score` re-counting the same records from the file in userspace;
#   4. enforce: each workload's run time under stock CFS (`--mode off`) and
#      with the model enforcing, alternated, REPS times.
#
# Everything lands in /run/kopt as JSON (one file per step) and CSV; the
# host side turns it into a table. Environment: KOPT (the kopt binary),
# REPS, COLLECT_S (seconds of collection per workload), COST_NS (the
# cache-hot window, sysctl migration_cost_ns, for every step).
set -euo pipefail
export LC_ALL=C

kopt=${KOPT:?KOPT unset}
reps=${REPS:-5}
collect_s=${COLLECT_S:-60}
cost_ns=${COST_NS:-5000000}
out=/run/kopt
knob=/sys/kernel/debug/sched/migration_cost_ns

say() { echo "experiment: $*" >&2; }
die() {
	say "error: $*"
	exit 1
}

# Each workload does a fixed amount of work (its run time is the metric),
# sized to run some 5-15 s in a 2-vCPU TCG guest. Kinds the thesis used:
# message passing between many tasks (hackbench), and CPU-bound workers
# outnumbering the CPUs, mixed with a pipe pair that sleeps and wakes
# (stress-mix) or throttled to 70% so they sleep too (stress-load): the
# hogs stay cache hot, so their migrations are the forced kind.
declare -A wl=(
	[hackbench]="hackbench -g 4 -l 400"
	[stress-mix]="stress-ng --cpu 3 --cpu-ops 1200 --pipe 1 --pipe-ops 60000 --quiet"
	[stress-load]="stress-ng --cpu 4 --cpu-load 70 --cpu-ops 1200 --quiet"
)
names=(hackbench stress-mix stress-load)

[ -w "$knob" ] || die "$knob not writable: the cache-hot window cannot be set"
old_cost=$(cat "$knob")
trap 'echo "$old_cost" >"$knob"' EXIT
echo "$cost_ns" >"$knob"
say "migration_cost_ns $old_cost -> $cost_ns (restored at exit)"

cat >"$out/setup.json" <<EOF
{"kernel": "$(uname -r)", "cpus": $(nproc), "migration_cost_ns": $cost_ns,
 "default_migration_cost_ns": $old_cost, "reps": $reps,
 "collect_s": $collect_s,
 "workloads": {"hackbench": "${wl[hackbench]}",
               "stress-mix": "${wl[stress-mix]}",
               "stress-load": "${wl[stress-load]}"}}
EOF

# 1. collect: the workload repeated until COLLECT_S have passed
for n in "${names[@]}"; do
	say "collect: $n for ${collect_s}s"
	"$kopt" collect migrations --rung patch_tracepoint \
		--duration "$collect_s" -o "$out/collect-$n.csv" --json -- \
		sh -c "while :; do ${wl[$n]} >/dev/null 2>&1; done" \
		>"$out/collect-$n.json"
done

# All workloads together, split by time within each workload: the first
# 70% of every workload's rows, then the next 15% of each, then the last
# 15% of each, so kopt train's time split (70/15/15) trains, validates and
# tests on every workload (boundaries agree to within a row per workload).
{
	sed -n '/^[^#]/{p;q}' "$out/collect-${names[0]}.csv"
	for part in 0 1 2; do
		for n in "${names[@]}"; do
			grep -v '^#' "$out/collect-$n.csv" | tail -n +2 |
				awk -v part=$part '
				{ row[NR] = $0 }
				END {
					a = int(NR * 0.70); b = int(NR * 0.85)
					lo = part == 0 ? 1 : part == 1 ? a + 1 : b + 1
					hi = part == 0 ? a : part == 1 ? b : NR
					for (i = lo; i <= hi; i++) print row[i]
				}'
		done
	done
} >"$out/collect-all.csv"

# 2. train: per workload and on all
for n in "${names[@]}" all; do
	say "train: $n"
	if ! "$kopt" train -i "$out/collect-$n.csv" -o "$out/model-$n.kmlp" \
		--json >"$out/train-$n.json" 2>"$out/train-$n.err"; then
		# a workload without both classes cannot train: say so
		[ "$n" != all ] || die "kopt train on all: $(cat "$out/train-$n.err")"
		jq -n --arg e "$(tail -n 2 "$out/train-$n.err")" \
			'{error: $e}' >"$out/train-$n.json"
	fi
done

# 3. shadow: the all model, live, on a fresh run of each workload
for n in "${names[@]}"; do
	say "shadow: $n"
	"$kopt" model live -m "$out/model-all.kmlp" --mode shadow \
		-o "$out/live-$n.csv" --json -- sh -c "${wl[$n]}" \
		>"$out/live-$n.json"
	"$kopt" model score "$out/model-all.kmlp" "$out/live-$n.csv" \
		--json >"$out/score-$n.json"
done

# 4. enforce vs stock CFS, alternated so drift hits both alike
for n in "${names[@]}"; do
	for r in $(seq 1 "$reps"); do
		say "run time: $n, repetition $r/$reps"
		"$kopt" model live --mode off --json -- sh -c "${wl[$n]}" \
			>"$out/time-$n-off-$r.json"
		"$kopt" model live -m "$out/model-all.kmlp" --mode enforce \
			--json -- sh -c "${wl[$n]}" \
			>"$out/time-$n-enforce-$r.json"
	done
done
say "done"
