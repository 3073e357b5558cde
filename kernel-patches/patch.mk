# SPDX-License-Identifier: GPL-2.0-only
#
# The kopt patch series (included by the main Makefile): keeps the patch
# that carries the MLP evaluator in step with include/kopt/, and measures
# the series in the VM.
#
#   make               also regenerates kernel-patches/0003-*.patch (the
#                      kernel's copy of include/kopt/mlp_fixed.h) when the
#                      shared headers changed; selftests/test_kpatch.c fails
#                      if the committed patch and the headers differ
#   make vmbench       `kopt bench kpatch` in an unpatched and a patched
#                      guest (same workload), JSON in build/vmbench.json:
#                      ns per can_migrate_task() call without a policy and
#                      with the 7-16-1 model policy, and their ratios

KPATCH_MLP := kernel-patches/0003-kopt-add-the-fixed-point-MLP-evaluator-header.patch

.PHONY: vmbench vmbench-icount

all: $(KPATCH_MLP)

$(KPATCH_MLP): include/kopt/mlp_fixed.h include/kopt/features.h \
		kernel-patches/gen-mlp-header.sh
	$(Q)kernel-patches/gen-mlp-header.sh

# migrate_tp.bpf.c includes migrate.bpf.c (the two rungs fill records alike)
$(BUILD)/migrate_tp.bpf.o: bpf/migrate.bpf.c

vmbench: $(BINS) | $(VM_DEPS_STAMP)
	$(Q)KOPT_VM_TIMEOUT=$(KOPT_VM_TIMEOUT) kernel-patches/vmbench.sh $(BUILD)

# The same, counted in guest instructions (QEMU icount): see vmbench.sh.
vmbench-icount: $(BINS) | $(VM_DEPS_STAMP)
	$(Q)KOPT_VMBENCH_ICOUNT=0 KOPT_VM_TIMEOUT=$(KOPT_VM_TIMEOUT) \
		kernel-patches/vmbench.sh $(BUILD)
