// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tests of the host-change journal itself (loader/lib/host/state.c):
 * two kopt starting at once, a journal left by a process whose PID was
 * reused, a corrupt journal, the order entries are restored and kept in,
 * the temporary file, and the state directory's checks. Knobs are the
 * software coalescing files of a veth in a private network namespace;
 * entries that must fail name interfaces that do not exist there.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "state.h"
#include "test.h"

#define OUT_CAP 8192

struct st_env {
	char ns[64];
	char dir[256]; /* KOPT_STATE_DIR */
	char journal[300];
};

static bool st_setup(struct st_env *e, bool netns)
{
	static int seq;

	if (geteuid()) {
		SKIP("needs root (network namespaces, sysfs writes, /run)");
		return false;
	}
	seq++;
	snprintf(e->dir, sizeof(e->dir), "%s/st-%d-%d", kopt_test_tmpdir(),
		 getpid(), seq);
	snprintf(e->journal, sizeof(e->journal), "%s/state.json", e->dir);
	e->ns[0] = '\0';
	if (!netns)
		return true;
	snprintf(e->ns, sizeof(e->ns), "kopt-st-%d-%d", getpid(), seq);
	if (kopt_test_run(NULL, 0,
			  "ip netns add %s && ip -n %s link add ks0 type veth "
			  "peer name ks1 && ip -n %s link set ks0 up && "
			  "ip -n %s link set ks1 up",
			  e->ns, e->ns, e->ns, e->ns)) {
		kopt_test_run(NULL, 0, "ip netns del %s", e->ns);
		SKIP("cannot create a network namespace with veth");
		return false;
	}
	return true;
}

static void st_teardown(struct st_env *e)
{
	if (e->ns[0])
		kopt_test_run(NULL, 0, "ip netns del %s", e->ns);
}

/* `kopt ARGS` in the namespace with the test's state directory. */
static int st_kopt(struct st_env *e, char *out, size_t cap, const char *args)
{
	return kopt_test_run(out, cap,
			     "KOPT_STATE_DIR='%s' ip netns exec %s %s %s",
			     e->dir, e->ns, kopt_test_bin(), args);
}

static long st_sysfs(struct st_env *e, const char *file)
{
	char out[64];

	if (kopt_test_run(out, sizeof(out),
			  "ip netns exec %s cat /sys/class/net/ks0/%s", e->ns,
			  file))
		return -1;
	return strtol(out, NULL, 10);
}

static bool write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		__KOPT_FAIL("%s: cannot create", path);
		return false;
	}
	fputs(text, f);
	return !fclose(f);
}

/* The "knob" of every entry of a journal file, in file order, joined. */
static void journal_knobs(const char *path, char *buf, size_t len)
{
	struct json_object *root = json_object_from_file(path), *arr = NULL;

	buf[0] = '\0';
	if (!root || !json_object_object_get_ex(root, "entries", &arr)) {
		json_object_put(root);
		return;
	}
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *o = json_object_array_get_idx(arr, i), *k;

		if (json_object_object_get_ex(o, "target", &k))
			snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
				 i ? "," : "", json_object_get_string(k));
	}
	json_object_put(root);
}

/*
 * Two processes journal their first change at the same moment (released
 * together from a pipe), 20 times: exactly one may own the journal, the
 * other must be refused, and the winner's original must be in it. With a
 * check-then-write on a PID both passed and one original was lost.
 */
KOPT_TEST(state_concurrent_start)
{
	struct st_env e;
	int lost = 0, both = 0;

	if (!st_setup(&e, false))
		return;
	for (int round = 0; round < 20; round++) {
		int go[2], st[2] = { 0 }, won = 0;
		pid_t pid[2];
		char dir[300];

		snprintf(dir, sizeof(dir), "%s-r%d", e.dir, round);
		setenv("KOPT_STATE_DIR", dir, 1);
		if (!ASSERT_OK(pipe(go), "pipe"))
			return;
		for (int i = 0; i < 2; i++) {
			pid[i] = fork();
			if (pid[i] == 0) {
				struct state_entry en = {
					.kind = "sw-coalesce",
					.knob = "gro-flush-usecs",
					.original = 1000 + i,
				};
				char c;
				int err;

				snprintf(en.target, sizeof(en.target), "race%d",
					 i);
				close(go[1]);
				if (read(go[0], &c, 1) < 0)
					_exit(3);
				err = state_record(&en);
				_exit(err == 0 ? 0 : err == -EBUSY ? 1 : 2);
			}
		}
		close(go[0]);
		close(go[1]); /* both start now */
		for (int i = 0; i < 2; i++) {
			waitpid(pid[i], &st[i], 0);
			if (WIFEXITED(st[i]) && WEXITSTATUS(st[i]) == 0)
				won++;
			else if (!WIFEXITED(st[i]) || WEXITSTATUS(st[i]) != 1)
				__KOPT_FAIL("round %d: child %d status %#x",
					    round, i, st[i]);
		}
		both += won == 2;
		if (won == 1) {
			char path[400], knobs[256];

			snprintf(path, sizeof(path), "%s/state.json", dir);
			journal_knobs(path, knobs, sizeof(knobs));
			lost += strcmp(knobs, "race0") &&
				strcmp(knobs, "race1");
		}
	}
	ASSERT_EQ(both, 0, "rounds where both processes took the journal");
	ASSERT_EQ(lost, 0, "rounds where the winner's original is missing");
}

/*
 * The journal of a dead kopt whose PID now belongs to a live process
 * (here: init, PID 1) is restored, not left forever "held".
 */
KOPT_TEST(state_recycled_pid)
{
	static char out[OUT_CAP];
	struct st_env e;
	char text[1024];

	if (!st_setup(&e, true))
		return;
	mkdir(e.dir, 0700);
	kopt_test_run(NULL, 0,
		      "ip netns exec %s sh -c 'echo 250000 > "
		      "/sys/class/net/ks0/gro_flush_timeout'",
		      e.ns);
	snprintf(text, sizeof(text),
		 "{\"pid\": 1, \"entries\": [{\"kind\": \"sw-coalesce\", "
		 "\"target\": \"ks0\", \"knob\": \"gro-flush-usecs\", "
		 "\"original\": 0, \"original_str\": \"\", \"netns\": \"\"}]}");
	if (!write_text(e.journal, text))
		goto out;
	ASSERT_EQ(st_kopt(&e, out, sizeof(out), "restore"), 0, out);
	ASSERT_EQ(st_sysfs(&e, "gro_flush_timeout"), 0, "restored");
	ASSERT_NEQ(access(e.journal, F_OK), 0, "journal removed");
out:
	st_teardown(&e);
}

/*
 * A journal that cannot be read is an error naming the file and saying
 * what to do, for `kopt restore` and for a kopt about to change a knob;
 * never "nothing to restore".
 */
KOPT_TEST(state_corrupt_journal)
{
	static const char *const bad[] = {
		"{\"pid\": 12, \"entries\": [{\"kind\": \"sw-",
		"not json at all",
		"{\"pid\": 12}",
		"{\"pid\": 12, \"entries\": [{\"kind\": \"sw-coalesce\"}]}",
		/* a target that walks out of /sys/class/net */
		"{\"pid\": 12, \"entries\": [{\"kind\": \"sw-coalesce\", "
		"\"target\": \"../../../..%s\", \"knob\": "
		"\"gro-flush-usecs\", \"original\": 0, \"original_str\": "
		"\"\", \"netns\": \"\"}]}",
	};
	static char out[OUT_CAP];
	char text[512], escaped[300];
	struct st_env e;

	if (!st_setup(&e, true))
		return;
	mkdir(e.dir, 0700);
	snprintf(escaped, sizeof(escaped), "%s/gro_flush_timeout",
		 kopt_test_tmpdir());
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), bad[i], kopt_test_tmpdir());
		if (!write_text(e.journal, text))
			break;
		ASSERT_EQ(st_kopt(&e, out, sizeof(out), "restore"), 1, text);
		ASSERT_NEQ(access(escaped, F_OK), 0, "nothing written outside");
		ASSERT_HAS(out, e.journal, "the file is named");
		ASSERT_HAS(out, "corrupt", "the problem is named");
		ASSERT_HAS(out, "delete it", "what to do");
		ASSERT_FALSE(strstr(out, "nothing to restore"),
			     "not 'nothing'");
		ASSERT_EQ(st_kopt(&e, out, sizeof(out),
				  "knob set sw-coalesce ks0 gro-flush-usecs 50 "
				  "--hold 0.1"),
			  1, "a change refused");
		ASSERT_HAS(out, e.journal, "the refusal names the file");
		ASSERT_EQ(st_sysfs(&e, "gro_flush_timeout"), 0,
			  "nothing changed");
	}
	st_teardown(&e);
}

/*
 * Restore order: a NIC's adaptive-rx after its rx-usecs (i40e and ice
 * refuse rx-usecs while adaptive-rx is on), and entries that fail stay in
 * the journal in the order they were recorded.
 */
KOPT_TEST(state_restore_order)
{
	static char out[OUT_CAP];
	struct st_env e;
	char knobs[256];
	const char *usecs, *adaptive;

	if (!st_setup(&e, true))
		return;
	mkdir(e.dir, 0700);
	/* veth has no coalescing: every nic-coalesce restore fails */
	if (!write_text(
		    e.journal,
		    "{\"pid\": 999999, \"entries\": ["
		    "{\"kind\": \"nic-coalesce\", \"target\": \"ks0\", \"knob\": "
		    "\"rx-usecs\", \"original\": 3, \"original_str\": \"\", "
		    "\"netns\": \"\"},"
		    "{\"kind\": \"nic-coalesce\", \"target\": \"ks0\", \"knob\": "
		    "\"adaptive-rx\", \"original\": 1, \"original_str\": \"\", "
		    "\"netns\": \"\"},"
		    "{\"kind\": \"sw-coalesce\", \"target\": \"nosuch1\", "
		    "\"knob\": \"gro-flush-usecs\", \"original\": 0, "
		    "\"original_str\": \"\", \"netns\": \"\"},"
		    "{\"kind\": \"sw-coalesce\", \"target\": \"nosuch2\", "
		    "\"knob\": \"napi-defer-hard-irqs\", \"original\": 0, "
		    "\"original_str\": \"\", \"netns\": \"\"}]}"))
		goto out;
	ASSERT_EQ(st_kopt(&e, out, sizeof(out), "restore"), 1, out);
	usecs = strstr(out, "nic-coalesce ks0 rx-usecs");
	adaptive = strstr(out, "nic-coalesce ks0 adaptive-rx");
	if (ASSERT_OK_PTR(usecs, out) && ASSERT_OK_PTR(adaptive, out))
		ASSERT_TRUE(usecs < adaptive,
			    "rx-usecs tried before adaptive-rx");
	journal_knobs(e.journal, knobs, sizeof(knobs));
	ASSERT_STREQ(knobs, "ks0,ks0,nosuch1,nosuch2",
		     "failed entries kept in recorded order");
out:
	st_teardown(&e);
}

/*
 * The journal's temporary file has no fixed name: a symlink planted at
 * the old name is neither followed nor clobbered, and no temporary file
 * stays behind.
 */
KOPT_TEST(state_tempfile)
{
	static char out[OUT_CAP];
	char victim[300], link[300];
	struct st_env e;

	if (!st_setup(&e, true))
		return;
	mkdir(e.dir, 0700);
	snprintf(victim, sizeof(victim), "%s/victim-%d", kopt_test_tmpdir(),
		 getpid());
	snprintf(link, sizeof(link), "%s/state.json.tmp", e.dir);
	if (!write_text(victim, "precious\n") ||
	    !ASSERT_OK(symlink(victim, link), "plant the symlink"))
		goto out;
	ASSERT_EQ(st_kopt(&e, out, sizeof(out),
			  "knob set sw-coalesce ks0 gro-flush-usecs 70 "
			  "--hold 0.1"),
		  0, out);
	ASSERT_EQ(kopt_test_run(NULL, 0, "grep -qx precious %s", victim), 0,
		  "the symlink's target is untouched");
	ASSERT_EQ(kopt_test_run(NULL, 0,
				"test -z \"$(find %s -name 'state.json?*' "
				"! -name state.json.tmp)\"",
				e.dir),
		  0, "no temporary file left");
	ASSERT_EQ(st_sysfs(&e, "gro_flush_timeout"), 0, "restored");
out:
	st_teardown(&e);
}

/*
 * The state directory is kopt's own: a symlink, a directory of another
 * user or one that others can write is refused before anything changes;
 * kopt makes it 0700.
 */
KOPT_TEST(state_dir_checks)
{
	static char out[OUT_CAP];
	char real[300], mode[32];
	struct st_env e;

	if (!st_setup(&e, true))
		return;
	/* a symlink to a directory we own */
	snprintf(real, sizeof(real), "%s-real", e.dir);
	mkdir(real, 0700);
	if (!ASSERT_OK(symlink(real, e.dir), "symlink"))
		goto out;
	ASSERT_EQ(st_kopt(&e, out, sizeof(out),
			  "knob set sw-coalesce ks0 gro-flush-usecs 60 "
			  "--hold 0.1"),
		  1, "symlinked state dir");
	ASSERT_HAS(out, "symlink", "the reason");
	ASSERT_EQ(st_sysfs(&e, "gro_flush_timeout"), 0, "nothing changed");
	unlink(e.dir);
	/* writable by others */
	mkdir(e.dir, 0700);
	chmod(e.dir, 0777);
	ASSERT_EQ(st_kopt(&e, out, sizeof(out),
			  "knob set sw-coalesce ks0 gro-flush-usecs 60 "
			  "--hold 0.1"),
		  1, "world-writable state dir");
	ASSERT_HAS(out, "writable by", "the reason");
	ASSERT_EQ(st_sysfs(&e, "gro_flush_timeout"), 0, "nothing changed");
	/* another owner */
	chmod(e.dir, 0700);
	if (!ASSERT_OK(chown(e.dir, 65534, 65534), "chown"))
		goto out;
	ASSERT_EQ(st_kopt(&e, out, sizeof(out),
			  "knob set sw-coalesce ks0 gro-flush-usecs 60 "
			  "--hold 0.1"),
		  1, "state dir of another user");
	ASSERT_HAS(out, "owned by uid 65534", "the reason");
	ASSERT_EQ(st_sysfs(&e, "gro_flush_timeout"), 0, "nothing changed");
	/* ours, 0755 (what an older kopt made): used, and made 0700 */
	if (!ASSERT_OK(chown(e.dir, 0, 0), "chown back"))
		goto out;
	chmod(e.dir, 0755);
	ASSERT_EQ(st_kopt(&e, out, sizeof(out),
			  "knob set sw-coalesce ks0 gro-flush-usecs 60 "
			  "--hold 0.1"),
		  0, out);
	kopt_test_run(mode, sizeof(mode), "stat -c %%a %s", e.dir);
	ASSERT_HAS(mode, "700", "made 0700");
	/* a fresh one is made 0700 */
	rmdir(real);
	snprintf(real, sizeof(real), "%s/fresh", e.dir);
	kopt_test_run(
		NULL, 0,
		"umask 0; KOPT_STATE_DIR=%s ip netns exec %s "
		"%s knob set sw-coalesce ks0 gro-flush-usecs 60 --hold 0.1",
		real, e.ns, kopt_test_bin());
	kopt_test_run(mode, sizeof(mode), "stat -c %%a %s", real);
	ASSERT_HAS(mode, "700", "created 0700");
out:
	st_teardown(&e);
}

/*
 * Every kind of entry kopt writes is one the strict parser accepts (a
 * new kind must be taught to act_entry_check or bpf_journal.c, or its
 * journals would read as corrupt): knobs, cpufreq policies, the
 * server-latency probe's receive filter, XDP, the bpffs mount, libxdp's
 * directory. And what it must refuse, it refuses.
 */
KOPT_TEST(state_parse_every_kind)
{
	static const char good[] =
		"{\"pid\": 7, \"entries\": ["
		"{\"kind\": \"nic-coalesce\", \"target\": \"eth1\", \"knob\": "
		"\"rx-usecs\", \"original\": 3, \"netns\": \"net:[1]\"},"
		"{\"kind\": \"nic-coalesce\", \"target\": \"eth1\", \"knob\": "
		"\"adaptive-rx\", \"original\": 1, \"netns\": \"net:[1]\"},"
		"{\"kind\": \"sw-coalesce\", \"target\": \"veth0\", \"knob\": "
		"\"napi-defer-hard-irqs\", \"original\": 0, \"netns\": \"\"},"
		"{\"kind\": \"cpufreq\", \"target\": \"policy0\", \"knob\": "
		"\"governor\", \"original\": 0, \"original_str\": "
		"\"schedutil\"},"
		"{\"kind\": \"cpufreq\", \"target\": \"policy2\", \"knob\": "
		"\"scaling-min-khz\", \"original\": 800000},"
		"{\"kind\": \"hw-timestamp\", \"target\": \"eth1\", \"knob\": "
		"\"rx-filter\", \"original\": 0, \"netns\": \"net:[1]\"},"
		"{\"kind\": \"mount\", \"target\": \"/sys/fs/bpf\", \"knob\": "
		"\"bpffs\", \"original\": 40, \"original_str\": "
		"\"/maps.debug/\", \"netns\": \"mnt:[2]\"},"
		"{\"kind\": \"bpffs-dir\", \"target\": \"/sys/fs/bpf/xdp\", "
		"\"knob\": \"dir\", \"original\": 0, \"netns\": \"mnt:[2]\"},"
		"{\"kind\": \"xdp\", \"target\": \"eth1\", \"knob\": \"skb\", "
		"\"original\": 12, \"original_str\": \"nic_xdp_count\", "
		"\"netns\": \"net:[1]\", \"ifindex\": 3}]}";
	static const char *const bad[] = {
		"\"kind\": \"mount\", \"target\": \"/tmp\", \"knob\": "
		"\"bpffs\", \"original\": 0, \"netns\": \"mnt:[2]\"",
		"\"kind\": \"bpffs-dir\", \"target\": \"/sys/fs/bpf/../x\", "
		"\"knob\": \"dir\", \"original\": 0, \"netns\": \"mnt:[2]\"",
		"\"kind\": \"xdp\", \"target\": \"eth1\", \"knob\": \"hw\", "
		"\"original\": 1, \"original_str\": \"p\", \"netns\": "
		"\"net:[1]\"",
		"\"kind\": \"cpufreq\", \"target\": \"policy0\", \"knob\": "
		"\"governor\", \"original\": 0, \"original_str\": \"a;b\"",
		"\"kind\": \"hw-timestamp\", \"target\": \"a/b\", \"knob\": "
		"\"rx-filter\", \"original\": 0",
		"\"kind\": \"nic-coalesce\", \"target\": \"eth1\", \"knob\": "
		"\"rx-usecs\", \"original\": 3, \"netns\": \"elsewhere\"",
	};
	static struct state_journal j;
	char err[512] = "", text[1024];

	if (!ASSERT_OK(state_parse(good, strlen(good), &j, err, sizeof(err)),
		       err))
		return;
	ASSERT_EQ(j.n, 9, "every entry");
	ASSERT_EQ(j.e[8].ifindex, 3, "xdp ifindex kept");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text),
			 "{\"pid\": 7, \"entries\": [{%s}]}", bad[i]);
		err[0] = '\0';
		ASSERT_ERR(state_parse(text, strlen(text), &j, err,
				       sizeof(err)),
			   bad[i]);
		ASSERT_HAS(err, "entry 1", bad[i]);
	}
}
