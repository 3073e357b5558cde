// SPDX-License-Identifier: GPL-2.0-only
/*
 * In the 6.12 guest: the fault matrix's SIGKILL part (selftests/faults.sh
 * --nic eth0) on the e1000e, whose rx-usecs is a real interrupt throttle:
 * kopt holding rx-usecs (adaptive off), a host plant with an XDP program
 * and the bpffs mount it makes, the NIC collector; each SIGKILLed at a
 * random instant, then restored (plainly, through a restore killed from
 * outside, or one that kills itself after its Kth entry). Every field of
 * `ethtool -c eth0`, XDP, bpf mounts and the journal must read back as
 * before after every run. Skipped outside the guest (KOPT_IN_VM unset).
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#define VM_FAULT_RUNS 6

/* six kills and restores of an ASan kopt in a TCG guest */
KOPT_TEST_TIMEOUT(vm_faults_e1000e_sigkill, 900)
{
	static char out[1 << 16];
	const char *v = getenv("KOPT_IN_VM");
	const char *env = getenv("KOPT_FAULTS_SEED");
	long seed = env ? strtol(env, NULL, 10) : (long)time(NULL) % 100000;
	char *real;
	int st;

	if (!v || strcmp(v, "1")) {
		SKIP("not inside the kopt VM (KOPT_IN_VM unset)");
		return;
	}
	real = realpath(kopt_test_builddir(), NULL);
	printf("  faults.sh --nic eth0 --parts kill --runs %d --seed %ld\n",
	       VM_FAULT_RUNS, seed);
	st = kopt_test_run(out, sizeof(out),
			   "bash %.3000s/../selftests/faults.sh %s %s/vmfaults "
			   "--nic eth0 --parts kill --runs %d --seed %ld",
			   real ? real : "build", kopt_test_bin(),
			   kopt_test_tmpdir(), VM_FAULT_RUNS, seed);
	free(real);
	printf("%s", out);
	if (st == 77) {
		SKIP("eth0 has no ethtool coalescing in this guest");
		return;
	}
	ASSERT_EQ(st, 0, "every run left the e1000e as it was");
	ASSERT_HAS(out, "ethtool-c: ", "rx-usecs and the rest compared");
	ASSERT_HAS(out, "host restored after 6 of 6", "summary");
}
