#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The migration experiment, guest side (run by experiment-migrations.sh
# inside the patched Linux 6.12 VM, as root, with this tree read-only at
# its own path and the results share at /run/kopt). Two phases, one guest
# each:
#
# PHASE=learn (a TCG guest):
#   1. collect: `kopt collect migrations` on the patch's tracepoint rung
#      (exact forced flag) while each workload runs;
#   2. train:   `kopt train` for every target in TARGETS, per workload and
#      on all of them together (held-out test split by time: the offline
#      figures, each beside the majority class and CFS's own rule);
#   3. shadow:  the all-workload forced model in the kernel, `kopt model
#      live --mode shadow`, on a fresh run of each workload: live in-kernel
#      accuracy against CFS's forced flag on every call, and `kopt model
#      score` re-counting the same records from the file in userspace.
#
# PHASE=enforce (a guest on QEMU's instruction-counting clock, where a
# run time is counted in guest instructions and host load does not move
# it): each workload REPS times under stock CFS (`--mode off`) and with
# MODEL enforcing (its positives migrate tasks CFS refuses), alternated.
# Per run: the policy's stats (decisions changed), the /proc/schedstat
# load-balancing counters before and after (failed attempts, migrations,
# forced migrations), the guest-clock run time, and for the latency
# workload cyclictest's histogram.
#
# Everything lands in /run/kopt as JSON (one file per step), CSV and text;
# the host side turns it into tables. Environment: KOPT (the kopt binary),
# PHASE, REPS, COLLECT_S (seconds of collection per workload), COST_NS
# (the cache-hot window, sysctl migration_cost_ns, for every step),
# TARGETS (learn), MODEL (enforce).
set -euo pipefail
export LC_ALL=C

kopt=${KOPT:?KOPT unset}
phase=${PHASE:-learn}
reps=${REPS:-20}
collect_s=${COLLECT_S:-60}
cost_ns=${COST_NS:-5000000}
targets=${TARGETS:-forced decision lookahead:4 lookahead:16}
out=/run/kopt
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
knob=/sys/kernel/debug/sched/migration_cost_ns
stats_knob=/proc/sys/kernel/sched_schedstats

say() { echo "experiment: $*" >&2; }
die() {
	say "error: $*"
	exit 1
}

# Each workload does a fixed amount of work. Kinds: message passing
# between many tasks (hackbench); CPU-bound workers outnumbering the
# CPUs mixed with a pipe pair that sleeps and wakes (stress-mix: the hogs
# stay cache hot, so their migrations are the forced kind); and wakeup
# latency under load (latency: cyclictest as CFS tasks against 60% hogs,
# experiment-latency.sh). The learn phase (multi-threaded TCG) runs them
# at the size of the first experiment, some 5-15 s each; the enforce
# phase, where one host thread runs both vCPUs under icount, at half
# (at icount shift 3, hackbench -g 4 -l 400 took 19.4 guest-s and about
# 20 s of wall time, -l 100 5.2 guest-s).
lat="bash $here/experiment-latency.sh"
declare -A wl
if [ "$phase" = learn ]; then
	wl=([hackbench]="hackbench -g 4 -l 400"
		[stress-mix]="stress-ng --cpu 3 --cpu-ops 1200 --pipe 1 --pipe-ops 60000 --quiet"
		[latency]="$lat 5000")
else
	wl=([hackbench]="hackbench -g 4 -l 200"
		[stress-mix]="stress-ng --cpu 3 --cpu-ops 600 --pipe 1 --pipe-ops 30000 --quiet"
		[latency]="$lat 4000")
fi
names=(hackbench stress-mix latency)

[ -w "$knob" ] || die "$knob not writable: the cache-hot window cannot be set"
[ -w "$stats_knob" ] || die "$stats_knob not writable: no schedstats"
old_cost=$(cat "$knob")
old_stats=$(cat "$stats_knob")
trap 'echo "$old_cost" >"$knob"; echo "$old_stats" >"$stats_knob"' EXIT
echo "$cost_ns" >"$knob"
echo 1 >"$stats_knob"
say "migration_cost_ns $old_cost -> $cost_ns, sched_schedstats" \
	"$old_stats -> 1 (restored at exit)"

jq -n --arg kernel "$(uname -r)" --argjson cpus "$(nproc)" \
	--argjson cost "$cost_ns" --argjson old "$old_cost" \
	--argjson reps "$reps" --argjson collect "$collect_s" \
	--arg phase "$phase" --arg targets "$targets" \
	--arg schedstat "$(head -n 1 /proc/schedstat)" \
	--arg hackbench "${wl[hackbench]}" --arg mix "${wl[stress-mix]}" \
	--arg latency "${wl[latency]}" \
	'{kernel: $kernel, cpus: $cpus, phase: $phase,
	  migration_cost_ns: $cost, default_migration_cost_ns: $old,
	  reps: $reps, collect_s: $collect, schedstat: $schedstat,
	  targets: ($targets | split(" ")),
	  workloads: {hackbench: $hackbench, "stress-mix": $mix,
		      latency: $latency}}' >"$out/setup.json"

# The load-balancing counters of /proc/schedstat, summed over CPUs,
# domains and idle types. Linux 6.12.y prints version 16 (the idle types
# renumbered; 6.12's kernel/sched/stats.c): after "domainN MASK", 8
# fields per idle type (lb_count, lb_balanced, lb_failed, lb_imbalance,
# lb_gained, lb_hot_gained, lb_nobusyq, lb_nobusyg), then alb_count,
# alb_failed, alb_pushed and 9 more: 38 fields. The line length is
# checked, as later kernels split lb_imbalance into four. lb_hot_gained
# counts the hot tasks can_migrate_task() let go because
# nr_balance_failed > cache_nice_tries: the forced migrations.
schedstat() {
	awk '
	$1 == "version" && $2 != 15 && $2 != 16 { bad = "version " $2 }
	$1 ~ /^domain/ {
		if (NF != 38) bad = "a domain line of " NF " fields, not 38"
		for (t = 0; t < 3; t++) {
			o = 2 + 8 * t
			c += $(o + 1); f += $(o + 3); g += $(o + 5); h += $(o + 6)
		}
		p += $(2 + 24 + 3)
	}
	END {
		if (bad) { print "schedstat: " bad > "/dev/stderr"; exit 1 }
		printf "{\"lb_count\": %d, \"lb_failed\": %d, \"lb_gained\": %d, " \
			"\"lb_hot_gained\": %d, \"alb_pushed\": %d}\n", c, f, g, h, p
	}' /proc/schedstat
}

# RUN MODE NAME R: one timed run with the counters around it
run() {
	local mode=$1 n=$2 base=$out/time-$2-$1-$3 cmd=${wl[$2]}
	local -a model=()

	[ "$mode" = off ] || model=(-m "$MODEL")
	[ "$n" != latency ] || cmd="$cmd $base.hist"
	schedstat >"$base.before"
	"$kopt" model live "${model[@]}" --mode "$mode" --json -- \
		sh -c "$cmd" >"$base.json"
	schedstat >"$base.after"
}

if [ "$phase" = enforce ]; then
	[ -r "${MODEL:-}" ] || die "MODEL '${MODEL:-}' not readable"
	cp "$MODEL" "$out/model-enforced.kmlp"
	for n in "${names[@]}"; do
		for r in $(seq 1 "$reps"); do
			say "enforce vs off: $n, repetition $r/$reps"
			run off "$n" "$r"
			run enforce "$n" "$r"
		done
	done
	say "done"
	exit 0
fi

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
# The lookahead target follows pids; the workloads' pids do not overlap
# (one pid space, runs one after another).
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

# 2. train: every target, per workload and on all. A file name without
# the colon: lookahead:4 -> lookahead4.
for t in $targets; do
	tn=${t//:/}
	for n in "${names[@]}" all; do
		say "train: $t on $n"
		f=$out/train-$tn-$n
		if ! "$kopt" train --target "$t" -i "$out/collect-$n.csv" \
			-o "$out/model-$tn-$n.kmlp" --json \
			>"$f.json" 2>"$f.err"; then
			# a workload without both classes cannot train: say so
			jq -n --arg e "$(tail -n 2 "$f.err")" '{error: $e}' \
				>"$f.json"
		fi
	done
done
[ -s "$out/model-forced-all.kmlp" ] ||
	die "kopt train --target forced on all: $(cat "$out/train-forced-all.err")"

# 3. shadow: the all forced model, live, on a fresh run of each workload
for n in "${names[@]}"; do
	say "shadow: $n"
	"$kopt" model live -m "$out/model-forced-all.kmlp" --mode shadow \
		-o "$out/live-$n.csv" --json -- sh -c "${wl[$n]}" \
		>"$out/live-$n.json"
	"$kopt" model score "$out/model-forced-all.kmlp" "$out/live-$n.csv" \
		--json >"$out/score-$n.json"
done
say "done"
