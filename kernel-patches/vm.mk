# SPDX-License-Identifier: GPL-2.0-only
#
# The VM harness (included by the main Makefile): Linux 6.12 from Debian's
# linux-source-6.12 with kernel-patches/series applied, booted under QEMU.
# See kernel-patches/README.md.
#
#   make vmkernel        build (or find in the cache) the kernel; prints the
#                        path of its bzImage
#   make vmtest          the VM test selection (selftests/vm_tests.list, or
#                        TESTS=a,b) inside the guest; exits with its status
#   make vmrun CMD='..'  one command inside the guest (cwd: this tree)
#   make vmbench-collector
#                        the NIC collector's cost per event in guest
#                        instructions (Debian's 6.12 kernel on QEMU's icount
#                        clock): build/vmbench-collector-icount.json
#   make experiment-migrations
#                        the migration experiment (collect, train every target,
#                        score live; enforce vs stock CFS on icount); results in
#                        build/experiment-migrations/results.{json,md}

KOPT_VM_TIMEOUT ?= 900

# The VM targets install what building and booting the kernel needs.
$(VM_DEPS_STAMP): Makefile kernel-patches/vm.mk
	$(call install_pkgs,$@,$(BUILD_PKGS) $(TEST_PKGS) $(KERNEL_PKGS))

.PHONY: vmkernel vmtest vmrun

vmkernel: | $(VM_DEPS_STAMP)
	$(Q)kernel-patches/build-kernel.sh

vmtest: $(BINS) $(TEST_BINS) $(BPF_OBJS) \
	| $(VM_DEPS_STAMP)
	$(Q)TESTS='$(TESTS)' KOPT_VM_TIMEOUT=$(KOPT_VM_TIMEOUT) \
		kernel-patches/vmtest.sh $(BUILD)

vmrun: | $(VM_DEPS_STAMP)
	$(Q)if [ -z "$$CMD" ]; then \
		echo "usage: make vmrun CMD='uname -a'" >&2; exit 2; fi
	$(Q)KOPT_VM_TIMEOUT=$(KOPT_VM_TIMEOUT) \
		kernel-patches/vm-run.sh -- /bin/sh -c "$$CMD"

# The migration experiment (kernel-patches/experiment-migrations.sh): a
# TCG guest collects, trains every target and scores live in the kernel;
# a second guest on the icount clock runs enforce vs stock CFS.
# KOPT_VM_EXP_TIMEOUT limits each guest.
.PHONY: experiment-migrations
experiment-migrations: $(BINS) | $(VM_DEPS_STAMP)
	$(Q)kernel-patches/build-kernel.sh >/dev/null
	$(Q)KOPT_VM_TIMEOUT=$(or $(KOPT_VM_EXP_TIMEOUT),5400) \
		kernel-patches/experiment-migrations.sh $(BUILD)

# The NIC collector's cost in instructions (kernel-patches/vmbench-collector.sh).
.PHONY: vmbench-collector
vmbench-collector: $(BINS) | $(VM_DEPS_STAMP)
	$(Q)KOPT_VM_TIMEOUT=$(KOPT_VM_TIMEOUT) kernel-patches/vmbench-collector.sh $(BUILD)
