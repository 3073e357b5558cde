#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Private hosts for the NIC collector tests (selftests/test_nic.c): two
# network namespaces P-a (client, kva, 10.77.1.1) and P-b (server, kvb,
# 10.77.1.2) joined by a veth pair, IPv6 off so that no router or
# neighbour solicitation adds packets the tests did not send. Nothing
# leaves the namespaces; `down` kills every process in them and deletes
# them.
#
#   nic_netns.sh up P
#   nic_netns.sh down P
#   nic_netns.sh memcached P PORT       memcached in P-b, waits until it serves
#   nic_netns.sh run P OUT SIG 'TRAFFIC' KOPT_ARGS...
#       starts `kopt collect nic -i kvb KOPT_ARGS` in P-b (stdout, stderr in
#       OUT/), waits until it collects, snapshots the veth counters, runs
#       TRAFFIC (a shell command) in P-a, snapshots again, stops kopt with
#       SIG and records its exit code, the link and the bpffs state after.
#
# KOPT is the kopt binary (the sanitized build under test).
set -u

ADDR_A=10.77.1.1
ADDR_B=10.77.1.2
READY_TRIES=200 # x 50 ms
STOP_TRIES=200

stats() { # NS IF -> "rx_packets rx_bytes tx_packets tx_bytes"
	ip netns exec "$1" sh -c "cd /sys/class/net/$2/statistics &&
		echo \$(cat rx_packets rx_bytes tx_packets tx_bytes)"
}

up() {
	p=$1
	ip netns add "$p-a" && ip netns add "$p-b" || return 1
	for n in a b; do
		ip netns exec "$p-$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1 || return 1
		ip -n "$p-$n" link set lo up || return 1
	done
	ip -n "$p-a" link add kva type veth peer name kvb netns "$p-b" &&
		ip -n "$p-a" addr add $ADDR_A/24 dev kva &&
		ip -n "$p-b" addr add $ADDR_B/24 dev kvb &&
		ip -n "$p-a" link set kva up &&
		ip -n "$p-b" link set kvb up
}

down() {
	p=$1
	for n in a b; do
		pids=$(ip netns pids "$p-$n" 2>/dev/null)
		[ -n "$pids" ] && kill -KILL $pids 2>/dev/null
	done
	ip netns del "$p-a" 2>/dev/null
	ip netns del "$p-b" 2>/dev/null
	return 0
}

memcached_up() {
	p=$1 port=$2
	ip netns exec "$p-b" memcached -d -u nobody -l $ADDR_B -p "$port" \
		-U 0 || return 1
	i=0
	while [ $i -lt $READY_TRIES ]; do
		ip netns exec "$p-a" memcstat --servers=$ADDR_B:"$port" \
			>/dev/null 2>&1 && return 0
		sleep 0.05
		i=$((i + 1))
	done
	echo "memcached did not start on $ADDR_B:$port" >&2
	return 1
}

run() {
	p=$1 out=$2 sig=$3 traffic=$4
	shift 4
	# a previous run's files would fake readiness
	rm -f "$out/stdout" "$out/stderr" "$out/rc" "$out/before_a" \
		"$out/before_b" "$out/after_a" "$out/after_b"
	# one mount namespace (ip netns exec's) for kopt and the checks after
	ip netns exec "$p-b" sh -s -- "$@" <<-EOF
		"$KOPT" collect nic -i kvb "\$@" >"$out/stdout" 2>"$out/stderr" &
		pid=\$!
		i=0
		while ! grep -q "Ctrl-C to stop" "$out/stderr" 2>/dev/null; do
			if ! kill -0 \$pid 2>/dev/null || [ \$i -ge $READY_TRIES ]; then
				wait \$pid; echo \$? >"$out/rc"; exit 1
			fi
			sleep 0.05; i=\$((i + 1))
		done
		sh $0 stats "$p-b" kvb >"$out/before_b"
		sh $0 stats "$p-a" kva >"$out/before_a"
		ip netns exec "$p-a" sh -c '$traffic' >"$out/traffic" 2>&1
		echo \$? >"$out/traffic_rc"
		sleep 0.3 # the last ACKs
		sh $0 stats "$p-b" kvb >"$out/after_b"
		sh $0 stats "$p-a" kva >"$out/after_a"
		kill -$sig \$pid
		i=0
		while kill -0 \$pid 2>/dev/null && [ \$i -lt $STOP_TRIES ]; do
			sleep 0.05; i=\$((i + 1))
		done
		wait \$pid; echo \$? >"$out/rc"
		ip link show kvb >"$out/link"
		if mountpoint -q /sys/fs/bpf; then
			echo mounted; ls -A /sys/fs/bpf
		else
			echo clean
		fi >"$out/bpffs"
	EOF
}

cmd=${1:-}
shift
case $cmd in
up) up "$@" ;;
down) down "$@" ;;
memcached) memcached_up "$@" ;;
stats) stats "$@" ;;
run) run "$@" ;;
*)
	echo "usage: $0 up|down|memcached|stats|run ..." >&2
	exit 2
	;;
esac
