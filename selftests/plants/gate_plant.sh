#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# A good plant (bad_plant.sh's replies) that stops before answering its
# second request until a test lets it go, so the test can look at what
# kopt run has written by then, without sleeping:
#
#   gate_plant.sh DIR
#
# DIR holds two FIFOs the test made: before the second reply the plant
# writes "2" into DIR/at (which blocks until the test opens it to read),
# then waits for a line on DIR/go.

dir=$1
n=0

while IFS= read -r line; do
	n=$((n + 1))
	if [ $n -eq 2 ]; then
		echo 2 >"$dir/at"
		read -r _ <"$dir/go"
	fi
	case $line in
	*'"itr_us":null'*) energy=1500 p99=50 ;;
	*) energy=900 p99=300 ;;
	esac
	echo "{\"energy_j\": $energy, \"p99_us\": $p99, \"p50_us\": 40," \
	     "\"qps\": 1000, \"seconds\": 10, \"source\": \"test\"}"
done
