# SPDX-License-Identifier: GPL-2.0-only
#
# kopt: the one entry point.
#
#   make            build build/kopt, build/kopt-lab and build/koptd (no root)
#   make deps       install the build and test packages (apt-get, root)
#   make check      build the sanitized test build and run every test
#   make bench      run the benchmarks, JSON on stdout and in build/bench.json
#   make lint       clang-format (kernel style) check and cppcheck
#   make faults     the fault-injection matrix (RUNS SIGKILL runs, default
#                   50; SEED=N repeats one), selftests/faults.sh
#   make soak       the control loop with injected plant failures and a
#                   model swap every 300 ms under ASan for SOAK_SECONDS
#                   (default 3600; make check runs 120)
#   make fuzz       libFuzzer on every parser of outside input (FUZZ_SECONDS
#                   per target, default 600; FUZZ_TARGETS=a,b selects)
#   make demo       the energy job end to end (see README)
#   make install    kopt, kopt-lab (and koptd, if built), man pages, bash
#                   completion, the systemd unit, policies; PREFIX
#                   (/usr/local) and DESTDIR as usual
#   make vmtest     tests inside the Linux 6.12 guest (see kernel-patches/)
#   make clean      remove build/
#
# V=1 shows full command lines. All outputs go to build/ (git-ignored).

BUILD     := build
OBJ       := $(BUILD)/obj
TOBJ      := $(BUILD)/test-obj
CC        ?= gcc
CLANG     ?= clang
BPFTOOL   ?= bpftool
LLVM_STRIP ?= llvm-strip
ARCH      := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux

ifeq ($(V),1)
Q :=
msg =
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# Debian packages, in three sets: what `make` needs (build), what `make
# check` and the CLI's host features need (test), and what building the
# patched 6.12 kernel needs (installed by the VM targets, kernel-patches/).
BUILD_PKGS := clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev \
	pkg-config libxdp-dev libcpupower-dev libnlopt-dev liblapacke-dev \
	libopenblas-dev libinih-dev libnl-3-dev libnl-genl-3-dev libjson-c-dev \
	libmicrohttpd-dev libsystemd-dev
TEST_PKGS := xdp-tools linux-cpupower iproute2 ethtool memcached \
	libmemcached-tools sockperf rt-tests stress-ng gnuplot-nox cppcheck \
	clang-format jq qemu-system-x86 cpio busybox-static kmod xz-utils \
	libclang-rt-14-dev groff-base man-db bash-completion python3-yaml \
	python3-kubernetes prometheus libcap2-bin systemd valgrind
KERNEL_PKGS := linux-source-6.12 bc bison flex libssl-dev dwarves

# The libraries: one BLAS (OpenBLAS, which also answers for LAPACK through
# Debian's alternatives), LAPACKE as its C interface.
PKG_LIBS  := libbpf libxdp nlopt lapacke inih libnl-genl-3.0 json-c
PKG_CFLAGS := $(shell pkg-config --cflags $(PKG_LIBS) 2>/dev/null)
PKG_LDLIBS := $(shell pkg-config --libs $(PKG_LIBS) 2>/dev/null)
# koptd alone links the HTTP server (metrics) and sd_notify
DAEMON_PKG_LIBS := libmicrohttpd libsystemd
DAEMON_LDLIBS := $(shell pkg-config --libs $(DAEMON_PKG_LIBS) 2>/dev/null)

WARN      := -Wall -Wextra -Werror -Wno-unused-parameter \
	     -Wno-missing-field-initializers
CFLAGS    ?= -O2 -g
KOPT_VERSION := $(shell git describe --always --dirty 2>/dev/null || echo 0.1)
BASE_CFLAGS = -std=gnu11 -DKOPT_VERSION=\"$(KOPT_VERSION)\" $(WARN) \
	     $(PKG_CFLAGS) -MMD -MP
ALL_CFLAGS = $(CFLAGS) $(BASE_CFLAGS)
SAN       := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	     -fno-omit-frame-pointer
TEST_CFLAGS = -O1 -g $(BASE_CFLAGS) $(SAN) -DKOPT_TEST_BUILD
LDLIBS    = $(PKG_LDLIBS) -lopenblas -lcpupower -lelf -lz -lm -lpthread -ldl

# Layers point down only (README, "Layout"): each layer sees its own
# headers and those below it, so an include that points up fails to build.
#   include/kopt   ABI shared with BPF and the kernel patch
#   optimizer/     learning: GP, BO, training, the .kmlp model format
#   loader/lib/    libkopt: skeleton owners, host parts, the controller
#   loader/cli/    kopt, and what every front end shares
#   loader/tools/  kopt-lab: load generator, sim plant, benches, reports
#   loader/daemon/ koptd: the library and its own headers, nothing of cli/
LIB_DIRS  := loader/lib/util loader/lib/bpf loader/lib/host loader/lib/ctl
OPT_INC   := -Iinclude -Ioptimizer
LIB_INC   := $(OPT_INC) -I$(BUILD) $(addprefix -I,$(LIB_DIRS))
CLI_INC   := $(LIB_INC) -Iloader/cli
TOOLS_INC := $(CLI_INC) -Iloader/tools
DAEMON_INC := $(LIB_INC) -Iloader/daemon
TESTS_INC := $(TOOLS_INC) -Iloader/daemon -Iselftests
inc_for = $(if $(filter optimizer/%,$1),$(OPT_INC),$(if $(filter \
	loader/lib/%,$1),$(LIB_INC),$(if $(filter loader/cli/%,$1),$(CLI_INC),$(if \
	$(filter loader/tools/%,$1),$(TOOLS_INC),$(if $(filter \
	loader/daemon/%,$1),$(DAEMON_INC),$(TESTS_INC))))))

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	-Wno-unused-function -Iinclude -I$(BUILD) -Ibpf \
	-idirafter /usr/include/$(shell uname -m)-linux-gnu

BPF_SRCS    := $(wildcard bpf/*.bpf.c)
BPF_OBJS    := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
SKELS       := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
LIB_SRCS    := $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c)) \
	       $(wildcard optimizer/*.c)
CLI_SRCS    := $(filter-out loader/cli/main.c,$(wildcard loader/cli/*.c))
TOOLS_SRCS  := $(filter-out loader/tools/main.c,$(wildcard loader/tools/*.c))
# what kopt-lab takes from loader/cli/: dispatch and the option parser
FRONT_SRCS  := loader/cli/cmd.c loader/cli/opts.c
DAEMON_SRCS := $(wildcard loader/daemon/*.c)
# what the fuzz harnesses (and their replay in make check) take from koptd
DAEMON_TEST_SRCS := loader/daemon/config.c loader/daemon/request.c
TEST_SRCS   := $(wildcard selftests/*.c)
objs        = $(patsubst %.c,$(1)/%.o,$(2))
BINS        := $(BUILD)/kopt $(BUILD)/kopt-lab $(BUILD)/koptd
KCOST_BIN   := $(BUILD)/kopt-mlp-kcost
TEST_BINS   := $(BUILD)/test/kopt $(BUILD)/test/kopt-lab \
	       $(BUILD)/test/koptd $(BUILD)/test/test_progs
DEPS_STAMP  := $(BUILD)/.deps-ok
VM_DEPS_STAMP := $(BUILD)/.vm-deps-ok

.PHONY: all deps check bench lint clean demo help build-deps fuzz install \
	faults soak
# skeletons and BPF objects are intermediates make must keep
.SECONDARY:
# a recipe that fails leaves no half-written target behind
.DELETE_ON_ERROR:
.DEFAULT_GOAL := all

all: $(BINS) $(KCOST_BIN)

help:
	@awk 'NR < 3 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' \
		Makefile

# --- dependencies ---------------------------------------------------------

# Installs what is missing of the given packages (apt-get update first: a
# new machine has stale or empty lists). $(1): stamp name, $(2): packages.
define install_pkgs
	$(Q)mkdir -p $(BUILD)
	$(Q)missing=$$(for p in $(2); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
		grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "  DEPS     installing:" $$missing; \
		if [ "$$(id -u)" != 0 ]; then \
			echo "make: need root to apt-get install:" $$missing >&2; \
			exit 1; fi; \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends $$missing >$(BUILD)/apt.log 2>&1 || \
		{ tail -20 $(BUILD)/apt.log >&2; exit 1; }; \
	fi
	$(Q)touch $(1)
endef

deps: $(DEPS_STAMP)

# Re-checked whenever this Makefile changes.
$(DEPS_STAMP): Makefile
	$(call install_pkgs,$@,$(BUILD_PKGS) $(TEST_PKGS))

# What a plain `make` needs; says which packages are missing instead of
# failing deep in a compile. Needs no root.
$(BUILD)/.build-ok: Makefile
	$(Q)mkdir -p $(BUILD)
	$(Q)missing=$$(for p in $(BUILD_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
		grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "make: build packages missing:" $$missing >&2; \
		echo "make: run 'make deps' as root (or apt-get install them)" >&2; \
		exit 1; fi
	$(Q)touch $@

# --- BPF --------------------------------------------------------------------

$(BUILD)/vmlinux.h: | $(BUILD)/.build-ok
	$(call msg,GEN,$@)
	$(Q)if [ ! -r $(VMLINUX_BTF) ]; then \
		echo "error: $(VMLINUX_BTF) missing: this kernel has no BTF" \
		     "(CONFIG_DEBUG_INFO_BTF=y is required for CO-RE)" >&2; \
		exit 1; fi
	$(Q)$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@.tmp
	$(Q)mv $@.tmp $@

# Compiled with -g for BTF and line info, then stripped of DWARF (BTF stays:
# CO-RE and bpftool need it) before the skeleton embeds the object.
$(BUILD)/%.bpf.o: bpf/%.bpf.c $(BUILD)/vmlinux.h $(wildcard bpf/*.bpf.h) \
		  $(wildcard include/kopt/*.h)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(Q)$(LLVM_STRIP) -g $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@.tmp
	$(Q)mv $@.tmp $@

# --- userspace ----------------------------------------------------------------

$(OBJ)/%.o: %.c $(SKELS) | $(BUILD)/.build-ok
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(call inc_for,$<) -c $< -o $@

$(TOBJ)/%.o: %.c $(SKELS) | $(BUILD)/.build-ok
	$(call msg,CC-TEST,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(TEST_CFLAGS) $(call inc_for,$<) -c $< -o $@

$(BUILD)/libkopt.a: $(call objs,$(OBJ),$(LIB_SRCS))
$(BUILD)/test/libkopt.a: $(call objs,$(TOBJ),$(LIB_SRCS))
%/libkopt.a:
	$(call msg,AR,$@)
	$(Q)mkdir -p $(@D)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/kopt: $(call objs,$(OBJ),loader/cli/main.c $(CLI_SRCS)) \
	       $(BUILD)/libkopt.a
$(BUILD)/kopt-lab: $(call objs,$(OBJ),loader/tools/main.c $(TOOLS_SRCS) \
		   $(FRONT_SRCS)) $(BUILD)/libkopt.a
$(BUILD)/koptd: $(call objs,$(OBJ),$(DAEMON_SRCS)) $(BUILD)/libkopt.a
$(BUILD)/koptd: LDLIBS += $(DAEMON_LDLIBS)
$(BINS):
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# kopt-mlp-kcost (loader/tools/kcost/): the kfunc's evaluator compiled as
# the guest kernel compiles C, for `kopt bench mlp` to count its
# instructions under callgrind. kernel-patches/build-kernel.sh configures
# tinyconfig + config.fragment, which gives (checked with that recipe on
# linux-source-6.12, 2026-12-07) CC_OPTIMIZE_FOR_SIZE (-Os), X86_KERNEL_IBT
# (-fcf-protection=branch -fno-jump-tables: every switch becomes compare
# chains), INIT_STACK_ALL_ZERO, no stack protector, no retpolines, no
# frame pointer; the rest are Linux 6.12's Makefile and arch/x86/Makefile
# flags for 64-bit code. Not modelled: -mcmodel=kernel, which only links at
# kernel addresses (the binary is linked without PIE instead, so addresses
# are absolute there too), and ftrace's entry call, a one-instruction nop
# at run time.
KCOST_CFLAGS := -Os -std=gnu11 -D__KERNEL__ -fshort-wchar -funsigned-char \
	-fno-common -fno-PIE -fno-strict-aliasing -mno-sse -mno-mmx -mno-sse2 \
	-mno-3dnow -mno-avx -fcf-protection=branch -fno-jump-tables -m64 \
	-falign-jumps=1 -falign-loops=1 -mno-80387 -mno-fp-ret-in-387 \
	-mpreferred-stack-boundary=3 -mskip-rax-setup -mtune=generic \
	-mno-red-zone -fno-asynchronous-unwind-tables \
	-fno-delete-null-pointer-checks -fno-allow-store-data-races \
	-fomit-frame-pointer -fno-stack-protector -ftrivial-auto-var-init=zero \
	-fno-stack-clash-protection -fno-strict-overflow -fno-stack-check \
	-fconserve-stack $(WARN)
KCOST_EVAL  := loader/tools/kcost/mlp_kcost_eval.c

$(BUILD)/kcost-obj/mlp_kcost_eval.o: $(KCOST_EVAL) $(wildcard include/kopt/*.h) \
				   optimizer/mlp_ref.h | $(BUILD)/.build-ok
	$(call msg,CC-KERN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(KCOST_CFLAGS) $(call inc_for,$<) -MMD -MP -c $< -o $@

$(KCOST_BIN): $(OBJ)/loader/tools/kcost/mlp_kcost.o \
	      $(BUILD)/kcost-obj/mlp_kcost_eval.o
	$(call msg,LINK,$@)
	$(Q)$(CC) -no-pie -o $@ $^

# kopt-swar-proto (loader/tools/swar/): a measured prototype of a
# lane-pair evaluator (include/kopt/mlp_swar.h), not part of `all`:
# `make swar-proto`, then loader/tools/swar/count.sh.
SWAR_BIN    := $(BUILD)/kopt-swar-proto

$(BUILD)/kcost-obj/swar_%.o: loader/tools/swar/swar_%.c \
			      $(wildcard include/kopt/*.h) | $(BUILD)/.build-ok
	$(call msg,CC-KERN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(KCOST_CFLAGS) $(call inc_for,$<) -MMD -MP -c $< -o $@

$(SWAR_BIN): $(OBJ)/loader/tools/swar/swar_proto.o \
	     $(BUILD)/kcost-obj/swar_eval.o $(BUILD)/kcost-obj/swar_eval32.o \
	     $(BUILD)/libkopt.a
	$(call msg,LINK,$@)
	$(Q)$(CC) -no-pie -o $@ $^ $(LDLIBS)

# the same header on garbage models, sanitized, against a plain loop
$(BUILD)/kopt-swar-garbage: loader/tools/swar/swar_garbage.c \
			    $(wildcard include/kopt/*.h) | $(BUILD)/.build-ok
	$(call msg,CC-SAN,$@)
	$(Q)$(CC) -O1 -g -std=gnu11 $(WARN) $(SAN) -Iinclude $< -o $@

.PHONY: swar-proto
swar-proto: $(SWAR_BIN) $(BUILD)/kopt-swar-garbage

# The test build: the same sources with ASan/UBSan, a sanitized kopt and
# kopt-lab for CLI tests, and the test runner.
$(BUILD)/test/kopt: $(call objs,$(TOBJ),loader/cli/main.c $(CLI_SRCS)) \
		    $(BUILD)/test/libkopt.a
$(BUILD)/test/kopt-lab: $(call objs,$(TOBJ),loader/tools/main.c \
			$(TOOLS_SRCS) $(FRONT_SRCS)) $(BUILD)/test/libkopt.a
$(BUILD)/test/koptd: $(call objs,$(TOBJ),$(DAEMON_SRCS)) \
		     $(BUILD)/test/libkopt.a
$(BUILD)/test/koptd: LDLIBS += $(DAEMON_LDLIBS)
$(BUILD)/test/test_progs: $(call objs,$(TOBJ),$(TEST_SRCS) $(CLI_SRCS) \
			  $(TOOLS_SRCS) $(DAEMON_TEST_SRCS)) $(BUILD)/test/libkopt.a
$(TEST_BINS):
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(SAN) -o $@ $^ $(LDLIBS)

# TESTS=name1,name2 runs a subset (substring match).
check: $(BINS) $(KCOST_BIN) $(TEST_BINS) $(BPF_OBJS) | $(DEPS_STAMP)
	$(Q)KOPT_BIN=$(abspath $(BUILD)/test/kopt) \
	  KOPT_BUILD=$(abspath $(BUILD)) \
	  ASAN_OPTIONS=detect_leaks=1 \
	  $(BUILD)/test/test_progs $(if $(TESTS),-t $(TESTS))

# The energy job end to end on the 6.12 guest's e1000e (kernel-patches/demo.sh).
demo: $(BINS) | $(DEPS_STAMP)
	$(Q)kernel-patches/demo.sh $(BUILD)

bench: $(BINS) $(KCOST_BIN)
	$(Q)$(BUILD)/kopt-lab bench all --json | tee $(BUILD)/bench.json

# --- install ------------------------------------------------------------------
#
# The usual GNU layout under PREFIX, staged under DESTDIR (packaging, tests).
# kopt-lab goes beside kopt (kopt runs the lab commands from there); koptd,
# a daemon, to sbin, and the installed unit's ExecStart names it there; the
# policies, scenarios and measured sweeps to share/kopt/policies.
PREFIX   ?= /usr/local
BINDIR    = $(PREFIX)/bin
SBINDIR   = $(PREFIX)/sbin
MANDIR    = $(PREFIX)/share/man
DATADIR   = $(PREFIX)/share/kopt
COMPDIR   = $(PREFIX)/share/bash-completion/completions
UNITDIR   = $(PREFIX)/lib/systemd/system
KOPTD_UNIT := deploy/systemd/koptd.service
INSTALL  ?= install

install: $(BINS)
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(COMPDIR) $(DESTDIR)$(DATADIR)
	$(Q)$(INSTALL) -m 0755 $(BINS) $(DESTDIR)$(BINDIR)/
	$(Q)if [ -x $(BUILD)/koptd ]; then \
		$(INSTALL) -d $(DESTDIR)$(SBINDIR) && \
		$(INSTALL) -m 0755 $(BUILD)/koptd $(DESTDIR)$(SBINDIR)/; fi
	$(Q)$(INSTALL) -m 0644 docs/man/kopt.8 docs/man/koptd.8 \
		$(DESTDIR)$(MANDIR)/man8/
	$(Q)$(INSTALL) -m 0644 contrib/bash-completion/kopt \
		contrib/bash-completion/koptd $(DESTDIR)$(COMPDIR)/
	$(Q)ln -sf kopt $(DESTDIR)$(COMPDIR)/kopt-lab # loaded by command name
	$(Q)if [ -f $(KOPTD_UNIT) ]; then \
		$(INSTALL) -d $(DESTDIR)$(UNITDIR) && \
		sed 's|^ExecStart=[^ ]*koptd|ExecStart=$(SBINDIR)/koptd|' \
			$(KOPTD_UNIT) > $(DESTDIR)$(UNITDIR)/koptd.service && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/koptd.service; fi
	$(Q)cd policies && find . -type f | while read -r f; do \
		$(INSTALL) -D -m 0644 "$$f" \
			"$(DESTDIR)$(DATADIR)/policies/$${f#./}" || exit 1; done

# --- fault injection ---------------------------------------------------------
#
# selftests/faults.sh on the sanitized kopt: RUNS runs that SIGKILL kopt at
# random points (and mid-restore, mid-journal-write), the journal's disk
# full, plants that hang, die and lie; after each the host must read back
# as before. `make check` runs a short version (selftests/test_faults.c).
RUNS ?= 50
faults: $(BUILD)/test/kopt $(BPF_OBJS) | $(DEPS_STAMP)
	$(Q)bash selftests/faults.sh $(BUILD)/test/kopt $(BUILD)/faults \
	  --runs $(RUNS) $(if $(SEED),--seed $(SEED))

# selftests/test_soak.c alone for SOAK_SECONDS, its time limit (300 s)
# scaled to fit.
SOAK_SECONDS ?= 3600
soak: $(BINS) $(TEST_BINS) $(BPF_OBJS) | $(DEPS_STAMP)
	$(Q)KOPT_BIN=$(abspath $(BUILD)/test/kopt) \
	  KOPT_BUILD=$(abspath $(BUILD)) \
	  ASAN_OPTIONS=detect_leaks=1:quarantine_size_mb=1 \
	  KOPT_SOAK_SECONDS=$(SOAK_SECONDS) \
	  KOPT_TEST_TIMEOUT_SCALE=$$(( ($(SOAK_SECONDS) + 180) / 300 + 1 )) \
	  $(BUILD)/test/test_progs -t soak_loop_and_swaps

# --- fuzzing ------------------------------------------------------------------
#
# libFuzzer harnesses (selftests/fuzz/fuzz_*.c), one per parser of outside
# input, linked with the library built by clang with ASan and UBSan;
# selftests/fuzz/run.sh runs each for FUZZ_SECONDS and prints the inputs
# tried and the crashes found per target.
FUZZ_SECONDS ?= 600
comma := ,
FUZZ_ALL := model policy plant_reply plant_request latency dataset journal \
	koptd_conf koptd_req
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_LIST = $(subst $(comma), ,$(FUZZ_TARGETS))
FZOBJ     := $(BUILD)/fuzz-obj
FUZZ_SAN  := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	     -fno-omit-frame-pointer
FUZZ_CFLAGS = -g -O1 $(BASE_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link

$(FZOBJ)/%.o: %.c $(SKELS) | $(BUILD)/.build-ok
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(call inc_for,$<) -c $< -o $@

$(BUILD)/fuzz/libkopt.a: $(call objs,$(FZOBJ),$(LIB_SRCS))

$(BUILD)/fuzz/fuzz_%: $(FZOBJ)/selftests/fuzz/fuzz_%.o $(BUILD)/fuzz/libkopt.a
	$(call msg,LINK,$@)
	$(Q)$(CLANG) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $(filter %.o,$^) \
		$(filter %.a,$^) $(LDLIBS)

$(BUILD)/fuzz/fuzz_koptd_conf $(BUILD)/fuzz/fuzz_koptd_req: \
	$(call objs,$(FZOBJ),$(DAEMON_TEST_SRCS))

fuzz: $(addprefix $(BUILD)/fuzz/fuzz_,$(FUZZ_LIST)) | $(DEPS_STAMP)
	$(Q)selftests/fuzz/run.sh $(BUILD)/fuzz $(FUZZ_SECONDS) $(FUZZ_LIST)

# --- lint -------------------------------------------------------------------------

C_SOURCES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)

# The evaluators take their scratch memory uninitialized, as the kfunc
# does (loader/tools/kcost/): they read only what they wrote, which
# selftests/test_mlp.c checks with garbage-filled scratch; cppcheck cannot
# see that and calls `s->in` a use of uninitialized memory.
CPPCHECK_SCRATCH := --suppress=ctuuninitvar:include/kopt/mlp_fixed.h \
	--suppress=ctuuninitvar:optimizer/mlp_ref.h

lint: | $(DEPS_STAMP)
	$(call msg,FORMAT,kernel .clang-format)
	$(Q)clang-format --dry-run --Werror $(C_SOURCES)
	$(call msg,CPPCHECK,loader optimizer selftests)
	$(Q)cppcheck --quiet --error-exitcode=1 --inline-suppr \
		--enable=warning,portability,performance \
		--suppress=missingIncludeSystem --library=.cppcheck/kopt.cfg \
		$(CPPCHECK_SCRATCH) \
		$(TESTS_INC) \
		-D__x86_64__ -U__bpf__ loader optimizer selftests

clean:
	$(call msg,CLEAN,$(BUILD))
	$(Q)rm -rf $(BUILD)

-include $(wildcard kernel-patches/*.mk)
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
