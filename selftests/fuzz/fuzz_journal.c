// SPDX-License-Identifier: GPL-2.0-only
/*
 * The host-change journal (loader/lib/host/state.c, state_parse): what
 * `kopt restore` reads from /run/kopt/state.json. An accepted journal
 * has at most STATE_MAX_ENTRIES entries, every string terminated inside
 * its field, and a restore order that is a permutation of them.
 */
#include "fuzz.h" /* first: it defines _GNU_SOURCE */
#include "state.h"

static bool terminated(const char *s, size_t len)
{
	return memchr(s, '\0', len) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct state_journal j;
	char err[512] = "";
	int order[STATE_MAX_ENTRIES], seen[STATE_MAX_ENTRIES] = { 0 };

	if (state_parse((const char *)data, size, &j, err, sizeof(err))) {
		FUZZ_CHECK(err[0] && j.n == 0);
		return 0;
	}
	FUZZ_CHECK(j.n >= 0 && j.n <= STATE_MAX_ENTRIES && j.owner > 0);
	for (int i = 0; i < j.n; i++) {
		const struct state_entry *e = &j.e[i];

		FUZZ_CHECK(
			terminated(e->kind, sizeof(e->kind)) &&
			terminated(e->target, sizeof(e->target)) &&
			terminated(e->knob, sizeof(e->knob)) &&
			terminated(e->original_str, sizeof(e->original_str)) &&
			terminated(e->netns, sizeof(e->netns)));
		/* nothing a journal names may walk out of a sysfs directory */
		FUZZ_CHECK(strcmp(e->kind, "sw-coalesce") ||
			   !strchr(e->target, '/'));
	}
	state_restore_order(&j, order);
	for (int i = 0; i < j.n; i++) {
		FUZZ_CHECK(order[i] >= 0 && order[i] < j.n);
		FUZZ_CHECK(!seen[order[i]]++);
	}
	return 0;
}
