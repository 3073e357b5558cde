#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The fault-injection matrix (issue #20): kopt changes every host knob
# this machine really has, is SIGKILLed at random points (seeded, printed)
# and then restored, and the host must read back exactly as it was before.
#
#   faults.sh KOPT OUTDIR [--runs N] [--seed S] [--parts kill,disk,plant]
#             [--nic IFNAME]
#
# --nic IFNAME (the VM guest's e1000e: selftests/test_vm_faults.c): no
# testbed; part kill on a real NIC in this process's own namespaces, with
# NIC coalescing (rx-usecs through ethtool netlink, every field of
# `ethtool -c` compared) instead of the veth's software coalescing.
#
# Testbed: two private network namespaces kf-TAG-a and kf-TAG-b (TAG is
# this script's PID) joined by a veth pair kfa/kfb, memcached in -b. One
# process (a `sleep`) keeps a mount namespace of -a alive, and every kopt
# runs in it (nsenter), so a bpffs mount kopt makes outlives a SIGKILL
# and `kopt restore` must undo it (in a private namespace that dies with
# kopt, the mount would vanish by itself and prove nothing). The journal
# is OUTDIR/state (KOPT_STATE_DIR), the pin directory OUTDIR/pins is unused
# by these commands and must stay so.
#
# Parts:
#  kill   RUNS runs. Each starts one of
#           plant   `kopt plant host --coalesce sw --xdp skb`, fed a request
#                   every 0.15 s (gro_flush_timeout, an XDP attach, the
#                   bpffs mount, libxdp's directory),
#           knob    `kopt knob set sw-coalesce kfa napi-defer-hard-irqs`,
#           collect `kopt collect nic --xdp skb` (XDP, bpffs),
#         SIGKILLs it after a random delay, then restores in one of three
#         ways: `kopt restore`; `kopt restore` SIGKILLed after a random
#         delay, then again; `kopt restore` SIGKILLed by itself after its
#         Kth restored entry (KOPT_FAULT_KILL=restore:K, state.c), then
#         again. Every 5th run also kills a second kopt (a plant with XDP)
#         in its Kth journal write of 9 (KOPT_FAULT_KILL=save:K). After each run the host
#         snapshot (every knob, XDP by ip and bpftool, bpf mounts, pins,
#         journal and its temporary files) must equal the one taken before
#         the first run.
#  disk   the journal's file system full (a 64 KiB tmpfs as KOPT_STATE_DIR,
#         filled): `kopt knob set` must refuse, say "No space left on
#         device", and change nothing; then a plant holding XDP, the bpffs
#         mount and a knob whose journal's disk fills mid-run must still
#         undo everything on exit and remove its journal.
#  plant  `kopt run --plant host`-style runs whose plant (a wrapper around
#         `kopt plant host`) hangs (SIGSTOPped once the knob is set), dies
#         (SIGKILLed mid-window) or lies (replies out of range): the run
#         must exit non-zero naming the cause, with the knob restored.
#
# Prints one line per run and a summary; exit 0 only if every run left the
# host exactly as it was and every expectation held.
set -u

KOPT=$(readlink -f "$1")
OUT=$2
shift 2
RUNS=10
NIC=
SEED=$(date +%s)
PARTS=kill,disk,plant
while [ $# -gt 0 ]; do
	case $1 in
	--runs) RUNS=$2 ;;
	--seed) SEED=$2 ;;
	--parts) PARTS=$2 ;;
	--nic) NIC=$2 ;;
	*)
		echo "faults.sh: unknown option $1" >&2
		exit 2
		;;
	esac
	shift 2
done
case $RUNS$SEED in *[!0-9]*)
	echo "faults.sh: --runs and --seed take numbers" >&2
	exit 2
	;;
esac

TAG=$$
IF=${NIC:-kfa}
NA=kf-$TAG-a
NB=kf-$TAG-b
PORT=$((20000 + TAG % 20000))
STATE=$OUT/state
PINS=$OUT/pins
HOLDER=
FAILS=0
RANDOM=$SEED

mkdir -p "$OUT" || exit 1
OUT=$(readlink -f "$OUT")
STATE=$OUT/state
PINS=$OUT/pins
rm -rf "$STATE"
# kopt makes the state directory itself (0700)

echo "faults: seed $SEED, runs $RUNS, parts $PARTS, namespaces $NA/$NB," \
	"logs in $OUT"

# ---- testbed -------------------------------------------------------------

teardown() {
	local p
	for n in "$NA" "$NB"; do
		p=$(ip netns pids "$n" 2>/dev/null)
		[ -n "$p" ] && kill -KILL $p 2>/dev/null
	done
	[ -n "$HOLDER" ] && [ "$HOLDER" != self ] &&
		kill -KILL "$HOLDER" 2>/dev/null
	ip netns del "$NA" 2>/dev/null
	ip netns del "$NB" 2>/dev/null
}
trap teardown EXIT

setup() {
	ip netns add "$NA" && ip netns add "$NB" || return 1
	ip link add kfa netns "$NA" type veth peer name kfb netns "$NB" &&
		ip -n "$NA" addr add 10.79.1.1/24 dev kfa &&
		ip -n "$NB" addr add 10.79.1.2/24 dev kfb &&
		ip -n "$NA" link set kfa up && ip -n "$NB" link set kfb up &&
		ip -n "$NA" link set lo up && ip -n "$NB" link set lo up ||
		return 1
	# not the defaults, so that "restored" is not "reset to zero"
	ip netns exec "$NA" sh -c 'echo 12000 >/sys/class/net/kfa/gro_flush_timeout &&
		echo 3 >/sys/class/net/kfa/napi_defer_hard_irqs' || return 1
	ip netns exec "$NB" memcached -u nobody -l 10.79.1.2 -p "$PORT" -d ||
		return 1
	for _ in $(seq 100); do
		ip netns exec "$NA" bash -c \
			"exec 3<>/dev/tcp/10.79.1.2/$PORT" 2>/dev/null && break
		sleep 0.05
	done
	ip netns exec "$NA" sleep infinity &
	HOLDER=$!
	disown "$HOLDER"
	# the holder is in its namespaces once its netns is the veth's
	for _ in $(seq 100); do
		[ "$(readlink /proc/$HOLDER/ns/net)" != "$(readlink /proc/self/ns/net)" ] &&
			[ "$(readlink /proc/$HOLDER/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ] &&
			return 0
		sleep 0.02
	done
	return 1
}

# Runs ARGS in the holder's network and mount namespaces, journal in STATE
# (nsenter and env exec: in the background, $! is the command's own PID).
nsx() {
	if [ -n "$NIC" ]; then
		NSX=(env KOPT_STATE_DIR="$STATE" KOPT_PIN_DIR="$PINS")
		HOLDER=self
	else
		NSX=(nsenter -t "$HOLDER" -m -n env KOPT_STATE_DIR="$STATE"
			KOPT_PIN_DIR="$PINS")
	fi
}
inns() {
	"${NSX[@]}" "$@"
}

# Everything kopt may change or leave, one line each.
snap() {
	local f
	for f in gro_flush_timeout napi_defer_hard_irqs; do
		echo "$IF $f $(inns cat /sys/class/net/$IF/$f)"
	done
	[ -n "$NIC" ] && echo "ethtool-c: $(ethtool -c "$IF" 2>&1 | tr -s ' \t\n' ' ')"
	echo "ip-xdp: $(inns ip -d link show "$IF" | grep -o 'xdp[a-z]* \|prog/xdp id [0-9]*' | tr '\n' ' ')"
	echo "bpftool-net: $(inns bpftool -j net show dev "$IF" 2>&1 | jq -c '[.[] | .xdp]' 2>&1)"
	echo "bpf-mounts: $(awk '/ - bpf /{print $5}' /proc/$HOLDER/mountinfo | tr '\n' ' ')"
	echo "bpffs: $(inns sh -c 'mountpoint -q /sys/fs/bpf && find /sys/fs/bpf -mindepth 1 | sort' | tr '\n' ' ')"
	echo "pins: $(find "$PINS" -mindepth 1 2>/dev/null | tr '\n' ' ')"
	echo "journal: $(cat "$STATE/state.json" 2>/dev/null | tr -d ' \n')"
	echo "journal-tmp: $(ls -A "$STATE" 2>/dev/null | grep -v '^lock$' | tr '\n' ' ')"
}

fail() {
	echo "  FAIL: $*"
	FAILS=$((FAILS + 1))
}

# Waits (at most 10 s) for pid to end; its exit status.
reap() {
	local i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# A random number of milliseconds in [0, $1), as seconds for sleep.
rand_s() {
	local ms=$(((RANDOM * 32768 + RANDOM) % $1))
	printf '%d.%03d' $((ms / 1000)) $((ms % 1000))
}

# ---- part kill -----------------------------------------------------------

N_KILL=0 N_CHANGED=0 N_RESTORED=0 N_MIDRESTORE=0 N_MIDSAVE=0
# journal writes of the second kopt (see below): at most 9, fewer on some hosts
SAVE_MAX=9
N_RKILL_EXT=0 N_RKILL_EXT_J=0 N_RKILL_SELF=0 N_XDP=0 N_MNT=0

# `kopt restore` until the journal is gone (at most 3 times); 0 if it was.
restore_all() {
	local i
	for i in 1 2 3; do
		inns "$KOPT" restore >>"$1" 2>&1
		[ -e "$STATE/state.json" ] || return 0
	done
	return 1
}

part_kill() {
	local i cmd delay mode k before atkill after log rc pid n
	for i in $(seq 1 "$RUNS"); do
		log=$OUT/kill-$i.log
		: >"$log"
		cmd=$((RANDOM % 3))
		delay=$(rand_s 2500)
		case $cmd in
		0)
			cmd=plant
			(
				for w in $(seq 200); do
					echo "{\"itr_us\": $((RANDOM % 400 + 10)), \"freq_mhz\": null, \"seconds\": 0.1}"
					sleep 0.15
				done
			) | "${NSX[@]}" "$KOPT" plant host --ifname "$IF" \
				--coalesce "$COALESCE" --xdp skb --estimate \
				>>"$log" 2>&1 &
			;;
		1)
			cmd=knob
			if [ -n "$NIC" ]; then
				"${NSX[@]}" "$KOPT" knob set nic-coalesce "$IF" \
					rx-usecs $((RANDOM % 400 + 10)) \
					--hold 30 >>"$log" 2>&1 &
			else
				"${NSX[@]}" "$KOPT" knob set sw-coalesce "$IF" \
					napi-defer-hard-irqs $((RANDOM % 50 + 10)) \
					--hold 30 >>"$log" 2>&1 &
			fi
			;;
		2)
			cmd=collect
			"${NSX[@]}" "$KOPT" collect nic -i "$IF" --xdp skb \
				>>"$log" 2>&1 &
			;;
		esac
		pid=$!
		sleep "$delay"
		atkill=$(snap)
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		N_KILL=$((N_KILL + 1))
		echo "$atkill" | sed 's/^/at kill: /' >>"$log"
		[ "$atkill" != "$BASE" ] && N_CHANGED=$((N_CHANGED + 1))
		echo "$atkill" | grep -q 'prog/xdp' && N_XDP=$((N_XDP + 1))
		[ "$(echo "$atkill" | grep '^bpf-mounts:')" != \
			"$(echo "$BASE" | grep '^bpf-mounts:')" ] &&
			N_MNT=$((N_MNT + 1))
		# every 5th run: a second kopt (a plant with XDP) dies in its
		# Kth journal write (of 9: record and update of the mount, the
		# directory, XDP, the knob; the drops at its exit), after it
		# restored what the killed one left (state_recover)
		if [ $((i % 5)) -eq 0 ]; then
			k=$((RANDOM % SAVE_MAX + 1))
			while :; do
				echo "second kopt: KOPT_FAULT_KILL=save:$k" >>"$log"
				# (the group's 2> also takes bash's "Killed" notice)
				{
					(
						echo '{"itr_us": 60, "freq_mhz": null, "seconds": 0.2}'
						sleep 0.5
						echo '{"itr_us": 90, "freq_mhz": null, "seconds": 0.2}'
						sleep 0.5
					) | KOPT_FAULT_KILL=save:$k "${NSX[@]}" "$KOPT" \
						plant host --ifname "$IF" --coalesce \
						"$COALESCE" --xdp skb --estimate >>"$log" 2>&1
				} 2>/dev/null
				rc=$?
				if [ $rc -eq 137 ]; then
					N_MIDSAVE=$((N_MIDSAVE + 1))
					N_KILL=$((N_KILL + 1))
					break
				fi
				# A clean exit before its kth write: this host's
				# plant writes the journal fewer times (bpffs
				# already mounted, no XDP record, ...). Never
				# ask again past what it writes; the first write
				# must always kill.
				if [ $rc -eq 0 ] && [ "$k" -gt 1 ]; then
					SAVE_MAX=$((k - 1))
					echo "second kopt: fewer than $k journal writes here" >>"$log"
					k=$((RANDOM % SAVE_MAX + 1))
					continue
				fi
				fail "run $i: save:$k did not kill (exit $rc)"
				break
			done
		fi
		mode=$((RANDOM % 3))
		n=$(jq '.entries | length' "$STATE/state.json" 2>/dev/null || echo 0)
		case $mode in
		0) mode=restore ;;
		1)
			mode=restore-killed
			"${NSX[@]}" "$KOPT" restore >>"$log" 2>&1 &
			pid=$!
			# an ASan kopt restore takes ~40 ms here, start included
			sleep "$(rand_s 60)"
			kill -KILL "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			if [ $? -eq 137 ]; then
				N_RKILL_EXT=$((N_RKILL_EXT + 1))
				N_KILL=$((N_KILL + 1))
				[ -e "$STATE/state.json" ] &&
					N_RKILL_EXT_J=$((N_RKILL_EXT_J + 1))
			fi
			;;
		2)
			mode=restore-selfkilled
			if [ "$n" -ge 1 ]; then
				k=$((RANDOM % n + 1))
				mode="$mode:$k/$n"
				KOPT_FAULT_KILL=restore:$k inns "$KOPT" restore \
					>>"$log" 2>&1
				rc=$?
				# the kill comes before the journal's unlink
				if [ $rc -eq 137 ]; then
					N_RKILL_SELF=$((N_RKILL_SELF + 1))
					N_KILL=$((N_KILL + 1))
					[ -e "$STATE/state.json" ] ||
						fail "run $i: journal gone after a kill mid-restore"
					[ "$k" -lt "$n" ] &&
						N_MIDRESTORE=$((N_MIDRESTORE + 1))
				else
					fail "run $i: restore:$k did not kill (exit $rc)"
				fi
			fi
			;;
		esac
		restore_all "$log" || fail "run $i: the journal stays after 3 restores"
		after=$(snap)
		if [ "$after" = "$BASE" ]; then
			N_RESTORED=$((N_RESTORED + 1))
			echo "kill $i: $cmd killed at ${delay}s" \
				"($([ "$atkill" != "$BASE" ] && echo changed || echo unchanged)), $mode: host as before"
		else
			fail "run $i: $cmd killed at ${delay}s, $mode: host differs"
			diff <(echo "$BASE") <(echo "$after") | sed 's/^/    /'
			sed 's/^/    log: /' "$log" | tail -20
			# put it back for the next run
			[ -z "$NIC" ] && inns sh -c 'echo 12000 >/sys/class/net/kfa/gro_flush_timeout;
				echo 3 >/sys/class/net/kfa/napi_defer_hard_irqs;
				ip link set kfa xdp off; umount /sys/fs/bpf' 2>/dev/null
			rm -f "$STATE/state.json"
		fi
	done
	echo "faults kill: $N_KILL SIGKILLs in $RUNS runs ($N_CHANGED with the" \
		"host changed at the kill, $N_XDP with XDP attached, $N_MNT with" \
		"a bpffs kopt mounted; $N_RKILL_EXT restores killed from" \
		"outside ($N_RKILL_EXT_J before the journal was gone)," \
		"$N_RKILL_SELF by KOPT_FAULT_KILL=restore:K," \
		"$N_MIDRESTORE of them between entries; $N_MIDSAVE mid-journal-write)," \
		"host restored after $N_RESTORED of $RUNS"
}

# ---- part disk -----------------------------------------------------------

part_disk() {
	local d=$OUT/tiny log=$OUT/disk.log out rc before after pid
	: >"$log"
	mkdir -p "$d"
	# in the holder's mount namespace only: the host never sees it
	if ! inns mount -t tmpfs -o size=64k,mode=0700 kopt-faults-tiny "$d"; then
		fail "disk: cannot mount a tmpfs"
		return
	fi
	inns sh -c "dd if=/dev/zero of='$d/filler' bs=4k 2>/dev/null; true"
	before=$(snap)
	out=$(nsenter -t "$HOLDER" -m -n env KOPT_STATE_DIR="$d" "$KOPT" knob set \
		sw-coalesce kfa gro-flush-usecs 55 --hold 1 2>&1)
	rc=$?
	echo "$out" >>"$log"
	after=$(snap)
	if [ $rc -ne 0 ] && echo "$out" | grep -q "No space left on device" &&
		[ "$before" = "$after" ]; then
		echo "disk full at start: refused (exit $rc), host unchanged:" \
			"$(echo "$out" | grep -m1 'No space')"
	else
		fail "disk full at start: exit $rc, host $([ "$before" = "$after" ] && echo unchanged || echo CHANGED)"
		echo "$out" | sed 's/^/    /'
	fi
	# the journal written first (XDP, bpffs, the knob), then the disk
	# fills: the run's own undo (which rewrites the journal after each
	# step) must still leave the host as it was and the journal gone
	inns rm -f "$d/filler"
	(
		echo '{"itr_us": 40, "freq_mhz": null, "seconds": 0.2}'
		sleep 2
		nsenter -t "$HOLDER" -m sh -c \
			"dd if=/dev/zero of='$d/filler' bs=4k 2>/dev/null; true"
		nsenter -t "$HOLDER" -m df -k "$d" | tail -1 >>"$log"
		echo '{"itr_us": 80, "freq_mhz": null, "seconds": 0.2}'
		sleep 0.5
	) | nsenter -t "$HOLDER" -m -n env KOPT_STATE_DIR="$d" "$KOPT" plant \
		host --ifname kfa --coalesce sw --xdp skb --estimate >>"$log" 2>&1
	rc=$?
	after=$(snap)
	if [ $rc -eq 0 ] && [ "$after" = "$BASE" ] && [ ! -e "$d/state.json" ] &&
		grep -q 'bpffs' "$log"; then
		echo "disk filled while a plant held XDP, bpffs and a knob: undone" \
			"on exit (exit $rc), journal gone, host as before"
	else
		fail "disk filled mid-run: exit $rc, journal: $(ls "$d")"
		diff <(echo "$BASE") <(echo "$after") | sed 's/^/    /'
		tail -15 "$log" | sed 's/^/    /'
		inns "$KOPT" restore >/dev/null 2>&1
	fi
	inns umount "$d"
	rmdir "$d"
}

# ---- part plant ----------------------------------------------------------

# The plant wrapper: `kopt plant host` behind a shell that hangs, dies or
# lies once the knob is set. Written to a file; kopt run starts it with sh.
write_wrapper() {
	cat >"$OUT/plant-wrap.sh" <<-'EOF'
		#!/bin/bash
		# plant-wrap.sh MODE KOPT POLICY PORT FLAG: `kopt plant host`
		# behind a relay that is honest until a window finds the knob
		# set, then faults (hang: SIGSTOPs the plant and never answers;
		# die: SIGKILLs it mid-window and exits 3; lie: replies out of
		# range), and creates FLAG; once FLAG exists, every instance
		# (kopt run restarts a failed plant) faults at once.
		mode=$1 kopt=$2 pol=$3 port=$4 flag=$5
		knob_set() { [ "$(cat /sys/class/net/kfa/gro_flush_timeout)" != 12000 ]; }
		coproc P { exec "$kopt" plant host --ifname kfa --coalesce sw \
			--no-bpf --estimate --policy "$pol" \
			--server 10.79.1.2:$port --rate 300; }
		pp=$P_PID
		fault() {
			case $mode in
			hang)
				kill -STOP $pp
				exec sleep 1000
				;;
			die)
				kill -KILL $pp
				exit 3
				;;
			lie) echo '{"energy_j": -7, "p99_us": 100, "p50_us": 50, "qps": 300, "seconds": 1}' ;;
			liep) echo '{"energy_j": 5, "p99_us": 80, "p50_us": 300, "qps": 300, "seconds": 1}' ;;
			garbage) echo 'the load is fine, trust me' ;;
			esac
		}
		while IFS= read -r req; do
			echo "$req" >&"${P[1]}"
			reply=
			until [ -e "$flag" ] || knob_set; do
				if IFS= read -r -t 0.02 reply <&"${P[0]}"; then
					break
				fi
				kill -0 $pp 2>/dev/null || exit 4
			done
			if [ -z "$reply" ]; then
				knob_set && touch "$flag"
				case $mode in
				lie*|garbage) IFS= read -r reply <&"${P[0]}" ;;
				esac
				fault
			else
				echo "$reply"
			fi
		done
	EOF
}

part_plant() {
	local pol=$OUT/plant.conf mode want out rc log after
	write_wrapper
	cat >"$pol" <<-EOF
		[policy]
		name = faults-plant
		objective = energy
		baseline = none
		[sla]
		kind = latency
		percentile = p99
		bound_us = 100000
		[itr]
		min_us = 100
		max_us = 400
		step_us = 50
		[freq]
		list_mhz = none
		[window]
		seconds = 1
		[optimizer]
		trials = 4
		init_trials = 2
		[plant]
		timeout_s = 3
		max_failures = 2
	EOF
	for mode in hang die lie liep garbage; do
		case $mode in
		hang) want="sent no reply within 3 s" ;;
		die) want="exited with status 3" ;;
		lie) want='"energy_j" is -7, outside' ;;
		liep) want='"p50_us" (300) is above "p99_us"' ;;
		garbage) want="reply is not JSON" ;;
		esac
		log=$OUT/plant-$mode.log
		rm -f "$OUT/plant-$mode.faulted"
		out=$(inns "$KOPT" run --policy "$pol" --plant \
			"bash $OUT/plant-wrap.sh $mode $KOPT $pol $PORT $OUT/plant-$mode.faulted" \
			--duration 30 2>&1)
		rc=$?
		echo "$out" >"$log"
		after=$(snap)
		if [ $rc -ne 0 ] && echo "$out" | grep -qF "$want" &&
			echo "$out" | grep -q "giving up after" &&
			[ -e "$OUT/plant-$mode.faulted" ] &&
			[ "$after" = "$BASE" ]; then
			echo "plant $mode: exit $rc naming the cause ($want)," \
				"knob set at the fault, host as before"
		else
			fail "plant $mode: exit $rc, want \"$want\" and \"giving up after\"; knob set at the fault: $([ -e "$OUT/plant-$mode.faulted" ] && echo yes || echo no)"
			diff <(echo "$BASE") <(echo "$after") | sed 's/^/    /'
			tail -15 "$log" | sed 's/^/    /'
			inns "$KOPT" restore >/dev/null 2>&1
		fi
	done
}

# ---- main ----------------------------------------------------------------

if [ -n "$NIC" ]; then
	COALESCE=nic
	case ,$PARTS, in *,disk,* | *,plant,*)
		echo "faults: --nic runs part kill only" >&2
		exit 2
		;;
	esac
	if ! ethtool -c "$NIC" >/dev/null 2>&1; then
		echo "faults: SKIP: $NIC has no ethtool coalescing" >&2
		exit 77
	fi
elif ! setup; then
	echo "faults: SKIP: cannot build the two-namespace testbed" >&2
	exit 77
else
	COALESCE=sw
fi
nsx
BASE=$(snap)
echo "faults: host before:"
echo "$BASE" | sed 's/^/  /'
case ,$PARTS, in *,kill,*) part_kill ;; esac
case ,$PARTS, in *,disk,*) part_disk ;; esac
case ,$PARTS, in *,plant,*) part_plant ;; esac
echo "faults: $FAILS failure(s); seed $SEED"
[ $FAILS -eq 0 ]
