#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The soak's plant (selftests/test_soak.c): `kopt plant host` on a veth
# (software coalescing, load from memcached) behind a relay that injects
# failures at random, one decision per window (seeded by SEED and this
# instance's PID, so each restart draws anew):
#   hang  (PCT_EACH %)  SIGSTOPs the plant and never answers: kopt run's
#                       reply timeout stops the whole process group;
#   die   (PCT_EACH %)  SIGKILLs the plant mid-window (its knob is left
#                       journaled for kopt run to restore) and exits 3;
#   lie   (PCT_EACH %)  answers a negative energy instead of the reply;
#   else                relays the reply.
# Each injection appends one line "hang|die|lie PID" to LOG.
#
#   soak_plant.sh KOPT POLICY IFNAME SERVER RATE LOG SEED PCT_EACH
set -u

kopt=$1 pol=$2 ifname=$3 server=$4 rate=$5 log=$6 seed=$7 pct=$8
RANDOM=$((seed + $$))

coproc P { exec "$kopt" plant host --ifname "$ifname" --coalesce sw \
	--no-bpf --estimate --policy "$pol" --server "$server" --rate "$rate"; }
pp=$P_PID

while IFS= read -r req; do
	echo "$req" >&"${P[1]}"
	r=$((RANDOM % 100))
	if [ $r -lt "$pct" ]; then
		echo "hang $$" >>"$log"
		sleep 0.3 # inside the window: the knob is set
		kill -STOP "$pp"
		exec sleep 100000
	elif [ $r -lt $((2 * pct)) ]; then
		echo "die $$" >>"$log"
		sleep 0.3
		kill -KILL "$pp"
		exit 3
	fi
	IFS= read -r reply <&"${P[0]}" || exit 4
	if [ $r -lt $((3 * pct)) ]; then
		echo "lie $$" >>"$log"
		echo '{"energy_j": -1, "p99_us": 100, "p50_us": 50, "qps": 1, "seconds": 1}'
	else
		echo "$reply"
	fi
done
