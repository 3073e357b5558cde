#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The Prometheus snippets of docs/fleet.md still parse (test_deploy.c):
# its scrape config with `promtool check config`, with the alerting rules
# loaded beside it, and every PromQL query of its ```promql block as a
# recording rule with `promtool check rules`. Debian's prometheus is
# built without Kubernetes discovery, so a static_configs takes the
# place of kubernetes_sd_configs (its three lines) for the check.
#   fleet_snippets.sh TOP SCRATCHDIR
# SC2016: the backquotes are markdown fences, not expansions
# shellcheck disable=SC2016
set -euo pipefail
top=$1
dir=$2
mkdir -p "$dir"
cp "$top/deploy/prometheus/kopt-alerts.yml" "$dir/"
{
	printf 'rule_files:\n  - kopt-alerts.yml\n'
	sed -n '/^```yaml$/,/^```$/p' "$top/docs/fleet.md" |
		sed -n '/^scrape_configs:/,/^```$/p' | sed '$d' |
		sed '/kubernetes_sd_configs:/{N;N;s/.*/    static_configs:\n      - targets: [127.0.0.1:9559]/}'
} >"$dir/prometheus.yml"
grep -q static_configs "$dir/prometheus.yml" || {
	echo "fleet_snippets.sh: no scrape config found in docs/fleet.md" >&2
	exit 1
}
promtool check config "$dir/prometheus.yml"

# one recording rule per query: the lines after each comment block
sed -n '/^```promql$/,/^```$/p' "$top/docs/fleet.md" | sed '1d;$d' |
	awk 'BEGIN { print "groups:\n  - name: fleet_md\n    rules:" }
	     /^#/ || /^$/ { if (q) { n++; q = 0 }; next }
	     { if (!q) printf "      - record: fleet_md_query_%d\n        expr: |\n", n + 1
	       q = 1; print "          " $0 }' >"$dir/queries.yml"
[ "$(grep -c 'record:' "$dir/queries.yml")" -ge 4 ] || {
	echo "fleet_snippets.sh: fewer than 4 queries in docs/fleet.md" >&2
	exit 1
}
promtool check rules "$dir/queries.yml"
