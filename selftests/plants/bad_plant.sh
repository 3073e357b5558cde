#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# A plant that speaks the plant protocol (README) correctly, then
# misbehaves on purpose, for the tests of loader/lib/ctl/plant.c and kopt run.
#
#   bad_plant.sh MODE [FROM [COUNT]]
#
# Requests FROM .. FROM+COUNT-1 (1-based; default 1 and 1) get MODE's bad
# answer, every other request a good one:
#   good      always good
#   garbage   a line that is not JSON
#   array     JSON that is not an object
#   missing   no "p99_us"
#   string    "energy_j" as a string
#   negative  a negative "energy_j"
#   nan       "energy_j": NaN (json-c parses the literal)
#   error     {"error": "..."}
#   sleep     no answer for 30 s (kopt must time out)
#   exit      exits with status 3 without answering
#   echo      {"error": REQUEST} (shows kopt what was sent)
#   violate   p99 900 us for any non-stock setting (a held setting that
#             starts breaking the SLA), stock stays fine
#
# A good reply: energy falls and latency rises with the ITR, like a
# coalescing NIC: energy_j = 1000 - itr, p99_us = 100 + itr (stock: 1500
# J and 50 us).

mode=${1:-good}
from=${2:-1}
count=${3:-1}
n=0

good() {
	itr=${1#*\"itr_us\":}
	itr=${itr%%,*}
	if [ "$itr" = null ]; then
		energy=1500 p99=50
	else
		itr=${itr%%.*}
		energy=$((1000 - itr)) p99=$((100 + itr))
	fi
	echo "{\"energy_j\": $energy, \"p99_us\": $p99, \"p50_us\": 40," \
	     "\"qps\": 1000, \"seconds\": 10, \"source\": \"test\"}"
}

while IFS= read -r line; do
	n=$((n + 1))
	if [ "$mode" = good ] || [ $n -lt "$from" ] ||
	   [ $n -ge $((from + count)) ]; then
		good "$line"
		continue
	fi
	case $mode in
	garbage) echo 'this is not json' ;;
	array) echo '[1, 2, 3]' ;;
	missing) echo '{"energy_j": 900, "p50_us": 40, "qps": 1000, "seconds": 10}' ;;
	string) echo '{"energy_j": "900", "p99_us": 120, "qps": 1000, "seconds": 10}' ;;
	negative) echo '{"energy_j": -5, "p99_us": 120, "qps": 1000, "seconds": 10}' ;;
	nan) echo '{"energy_j": NaN, "p99_us": 120, "qps": 1000, "seconds": 10}' ;;
	error) echo '{"error": "power meter unavailable"}' ;;
	sleep) sleep 30 ;;
	exit) exit 3 ;;
	echo) printf '{"error": %s}\n' "$line" ;;
	violate)
		case $line in
		*'"itr_us":null'*) good "$line" ;;
		*) echo '{"energy_j": 500, "p99_us": 900, "p50_us": 300, "qps": 1000, "seconds": 10, "source": "test"}' ;;
		esac ;;
	*) echo "{\"error\": \"bad_plant.sh: unknown mode $mode\"}" ;;
	esac
done
