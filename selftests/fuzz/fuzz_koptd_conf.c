// SPDX-License-Identifier: GPL-2.0-only
/*
 * koptd's configuration (loader/daemon/config.c, koptd_config_load
 * through inih): a refusal names the file; an accepted configuration
 * keeps what the checks promise (an absolute socket path that fits
 * sun_path, a port in range, an energy job only with a loaded policy).
 */
#include "fuzz.h" /* first: it defines _GNU_SOURCE */
#include "config.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct koptd_config c;
	char err[KOPT_INI_ERR_LEN] = "";
	const char *path = fuzz_file(data, size);

	if (koptd_config_load(path, "/run/kopt", &c, err, sizeof(err))) {
		FUZZ_CHECK(strstr(err, path) == err);
		FUZZ_CHECK(!c.pol); /* nothing kept from a refused file */
		return 0;
	}
	FUZZ_CHECK(c.socket[0] == '/' && strlen(c.socket) < sizeof(c.socket));
	FUZZ_CHECK(!c.metrics_on ||
		   (c.metrics_port >= 1 && c.metrics_port <= 65535));
	FUZZ_CHECK(!c.energy || (c.pol && c.plant <= KOPTD_PLANT_REPLAY));
	FUZZ_CHECK(c.mig_mode <= KOPTD_MIG_OFF);
	koptd_config_free(&c);
	return 0;
}
