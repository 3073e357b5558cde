// SPDX-License-Identifier: GPL-2.0-only
/*
 * In the 6.12 guest: kopt's ethtool-netlink actuator really programs the
 * e1000e's interrupt throttling. Under the same load (kopt loadgen in the
 * guest against a memcached that `make vmtest` runs on the host, reached
 * through the e1000e at 10.0.2.2), the NIC collector must count far fewer
 * interrupts per received packet at rx-usecs 5000 than at 10, and the knob
 * must be back at its original value afterwards.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <unistd.h>

#include <json-c/json.h>

#include "test.h"

#define ITR_LOW 10
#define ITR_HIGH 5000
#define LOAD_QPS 600

static long long total(struct json_object *sum, const char *key)
{
	struct json_object *t = NULL, *v = NULL;

	json_object_object_get_ex(sum, "totals", &t);
	if (!json_object_object_get_ex(t, key, &v))
		return -1;
	return json_object_get_int64(v);
}

/* Packets per interrupt at one rx-usecs under the fixed load; < 0: error. */
static double pkts_per_irq(const char *server, int usecs)
{
	char out[1 << 16], log[256], nic[256], *line, *save = NULL;
	struct json_object *sum = NULL;
	long long irqs, pkts;
	double ratio = -1;

	snprintf(log, sizeof(log), "%s/knob-%d.log", kopt_test_tmpdir(), usecs);
	snprintf(nic, sizeof(nic), "%s/nic-%d.json", kopt_test_tmpdir(), usecs);
	if (kopt_test_run(
		    out, sizeof(out),
		    "export KOPT_STATE_DIR=%s; K=%s; "
		    "$K knob set nic-coalesce eth0 rx-usecs %d --hold 30 >%s "
		    "2>&1 & P=$!; for i in $(seq 100); do grep -q holding %s "
		    "&& break; sleep 0.1; done; "
		    "$K collect nic -i eth0 --xdp none --duration 5 --json >%s "
		    "2>/dev/null & C=$!; "
		    "$K loadgen --server %s --rate %d --duration 6 --warmup 0.5 "
		    "--connections 4 >/dev/null 2>&1; wait $C; kill $P; wait $P",
		    kopt_test_tmpdir(), kopt_test_bin(), usecs, log, log, nic,
		    server, LOAD_QPS))
		return -1;
	if (kopt_test_run(out, sizeof(out), "grep summary %s", nic))
		return -1;
	for (line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		if (strstr(line, "\"summary\""))
			sum = json_tokener_parse(line);
	irqs = total(sum, "irqs");
	pkts = total(sum, "rx_packets");
	if (irqs > 0 && pkts > 0)
		ratio = (double)pkts / irqs;
	printf("  rx-usecs %d: %lld rx packets, %lld interrupts\n", usecs, pkts,
	       irqs);
	json_object_put(sum);
	return ratio;
}

/* two 6 s load windows in a possibly TCG guest: 10 min */
KOPT_TEST_TIMEOUT(vm_e1000e_itr_changes_irq_rate, 600)
{
	const char *server = getenv("KOPT_VM_HOST_MEMCACHED");
	char before[64], after[64];
	double low, high;

	if (!server || !*server) {
		SKIP("no host memcached (KOPT_VM_HOST_MEMCACHED unset; "
		     "kernel-patches/vmtest.sh provides one)");
		return;
	}
	if (kopt_test_run(before, sizeof(before),
			  "%s knob get nic-coalesce eth0 rx-usecs",
			  kopt_test_bin())) {
		SKIP("eth0 has no ethtool coalescing here");
		return;
	}
	low = pkts_per_irq(server, ITR_LOW);
	high = pkts_per_irq(server, ITR_HIGH);
	if (!ASSERT_GT(low, 0, "packets and interrupts at low ITR") ||
	    !ASSERT_GT(high, 0, "packets and interrupts at high ITR"))
		return;
	/* 5 ms between interrupts batches several packets into each */
	ASSERT_GT(high, 2 * low, "packets per interrupt grow with rx-usecs");
	ASSERT_EQ(kopt_test_run(after, sizeof(after),
				"%s knob get nic-coalesce eth0 rx-usecs",
				kopt_test_bin()),
		  0, "read back");
	ASSERT_STREQ(after, before, "rx-usecs restored");
}
