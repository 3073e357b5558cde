#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Instructions per evaluation of the current evaluator and of the
# lane-pair prototype, both built with the guest kernel's flags, for
# every shape and dataset, counted exactly (only inside the two
# functions) as `kopt bench mlp` counts them.
# Usage: loader/tools/swar/count.sh [BIN] (default build/kopt-swar-proto)
set -eu
bin=${1:-build/kopt-swar-proto}
n=1000
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf '%-12s %-6s %8s %8s %8s\n' shape inputs current proto proto32
for shape in 7-16-1 15-10-1 16-32-32-1; do
	for ds in zero small wide; do
		valgrind --tool=callgrind -q --callgrind-out-file="$dir/out" \
			--collect-atstart=no \
			--toggle-collect=kopt_swar_kcost_old \
			--toggle-collect=kopt_swar_kcost_new \
			--toggle-collect=kopt_swar_kcost_new32 \
			--compress-strings=no --compress-pos=no \
			"$bin" count "$shape" "$ds" "$n"
		awk -v n="$n" -v shape="$shape" -v ds="$ds" '
			/^fn=/ { cur = substr($0, 4); next }
			/^[0-9]/ && (cur == "kopt_swar_kcost_old" ||
				     cur == "kopt_swar_kcost_new" ||
				     cur == "kopt_swar_kcost_new32") {
				ir[cur] += $NF
			}
			END {
				printf "%-12s %-6s %8.1f %8.1f %8.1f\n",
				       shape, ds, ir["kopt_swar_kcost_old"] / n,
				       ir["kopt_swar_kcost_new"] / n,
				       ir["kopt_swar_kcost_new32"] / n
			}' "$dir/out"
	done
done
