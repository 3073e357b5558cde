# SPDX-License-Identifier: GPL-2.0-only
#
# kopt: the one entry point.
#
#   make            build build/kopt (BPF objects, skeletons, loader)
#   make deps       install the Debian packages kopt needs (apt-get)
#   make check      build the sanitized test build and run every test
#   make bench      run the benchmarks, JSON on stdout and in build/bench.json
#   make lint       clang-format (kernel style) check and cppcheck
#   make demo       the energy job end to end (see README)
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
ARCH      := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux

ifeq ($(V),1)
Q :=
msg =
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# Debian packages: build, test and run on the host.
PKGS := clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev pkg-config \
	libxdp-dev xdp-tools libcpupower-dev linux-cpupower libnlopt-dev \
	liblapacke-dev liblapack-dev libblas-dev libopenblas-dev libinih-dev libnl-3-dev \
	libnl-genl-3-dev libjson-c-dev iproute2 ethtool memcached \
	libmemcached-tools sockperf rt-tests stress-ng gnuplot-nox cppcheck \
	clang-format jq
# The VM harness (kernel build and QEMU), see kernel-patches/vm.mk.
VM_PKGS := linux-source-6.12 bc bison flex libssl-dev dwarves cpio \
	busybox-static qemu-system-x86 xz-utils kmod
ALL_PKGS := $(PKGS) $(VM_PKGS)

PKG_LIBS  := libbpf libxdp nlopt lapacke inih libnl-genl-3.0 json-c
PKG_CFLAGS = $(shell pkg-config --cflags $(PKG_LIBS) 2>/dev/null)
PKG_LDLIBS = $(shell pkg-config --libs $(PKG_LIBS) 2>/dev/null)

INCLUDES  := -Iinclude -I$(BUILD) -Iloader -Ioptimizer
WARN      := -Wall -Wextra -Werror -Wno-unused-parameter \
	     -Wno-missing-field-initializers
CFLAGS    ?= -O2 -g
KOPT_VERSION := $(shell git describe --always --dirty 2>/dev/null || echo 0.1)
ALL_CFLAGS = $(CFLAGS) -DKOPT_VERSION=\"$(KOPT_VERSION)\" -std=gnu11 $(WARN) $(INCLUDES) $(PKG_CFLAGS) -MMD -MP
SAN       := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	     -fno-omit-frame-pointer
TEST_CFLAGS = -O1 -g -std=gnu11 -DKOPT_VERSION=\"$(KOPT_VERSION)\" $(WARN) $(INCLUDES) $(PKG_CFLAGS) $(SAN) \
	     -DKOPT_TEST_BUILD -MMD -MP
LDLIBS    = $(PKG_LDLIBS) -llapack -lblas -lcpupower -lelf -lz -lm -lpthread -ldl

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	-Wno-unused-function -Iinclude -I$(BUILD) -Ibpf \
	-idirafter /usr/include/$(shell uname -m)-linux-gnu

BPF_SRCS    := $(wildcard bpf/*.bpf.c)
BPF_OBJS    := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
SKELS       := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
LIB_SRCS    := $(filter-out loader/main.c,$(wildcard loader/*.c)) \
	       $(wildcard optimizer/*.c)
LIB_OBJS    := $(patsubst %.c,$(OBJ)/%.o,$(LIB_SRCS))
TLIB_OBJS   := $(patsubst %.c,$(TOBJ)/%.o,$(LIB_SRCS))
TEST_SRCS   := $(wildcard selftests/*.c)
TEST_OBJS   := $(patsubst %.c,$(TOBJ)/%.o,$(TEST_SRCS))
DEPS_STAMP  := $(BUILD)/.deps-ok

.PHONY: all deps check bench lint clean demo help
# skeletons and BPF objects are intermediates make must keep
.SECONDARY:
.DEFAULT_GOAL := all

all: $(BUILD)/kopt

help:
	@sed -n '3,14p' Makefile | sed 's/^# \{0,1\}//'

# --- dependencies ---------------------------------------------------------

deps: $(DEPS_STAMP)

# Installs only what is missing; apt-get update first (a new machine has
# stale or empty lists). Re-checked whenever this Makefile changes.
$(DEPS_STAMP): Makefile
	$(Q)mkdir -p $(BUILD)
	$(Q)missing=$$(for p in $(ALL_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
		grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "  DEPS     installing:" $$missing; \
		if [ "$$(id -u)" != 0 ]; then \
			echo "make deps: need root to apt-get install:" $$missing >&2; \
			exit 1; fi; \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends $$missing >$(BUILD)/apt.log 2>&1 || \
		{ tail -20 $(BUILD)/apt.log >&2; exit 1; }; \
	fi
	$(Q)touch $@

# --- BPF --------------------------------------------------------------------

$(BUILD)/vmlinux.h: | $(DEPS_STAMP)
	$(call msg,GEN,$@)
	$(Q)if [ ! -r $(VMLINUX_BTF) ]; then \
		echo "error: $(VMLINUX_BTF) missing: this kernel has no BTF" \
		     "(CONFIG_DEBUG_INFO_BTF=y is required for CO-RE)" >&2; \
		exit 1; fi
	$(Q)$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@.tmp
	$(Q)mv $@.tmp $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(BUILD)/vmlinux.h $(wildcard bpf/*.bpf.h) \
		  $(wildcard include/kopt/*.h) | $(DEPS_STAMP)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@.tmp
	$(Q)mv $@.tmp $@

# --- userspace ----------------------------------------------------------------

$(OBJ)/%.o: %.c $(SKELS) | $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(TOBJ)/%.o: %.c $(SKELS) | $(DEPS_STAMP)
	$(call msg,CC-TEST,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(TEST_CFLAGS) -c $< -o $@

$(BUILD)/kopt: $(OBJ)/loader/main.o $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# The test build: the same sources with ASan/UBSan, a sanitized kopt for
# CLI tests, and the test runner.
$(BUILD)/test/kopt: $(TOBJ)/loader/main.o $(TLIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(SAN) -o $@ $^ $(LDLIBS)

$(BUILD)/test/test_progs: $(TEST_OBJS) $(TLIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(SAN) -o $@ $^ $(LDLIBS)

# TESTS=name1,name2 runs a subset (substring match).
check: $(BUILD)/kopt $(BUILD)/test/kopt $(BUILD)/test/test_progs $(BPF_OBJS)
	$(Q)KOPT_BIN=$(abspath $(BUILD)/test/kopt) \
	  KOPT_BUILD=$(abspath $(BUILD)) \
	  ASAN_OPTIONS=detect_leaks=1 \
	  $(BUILD)/test/test_progs $(if $(TESTS),-t $(TESTS))

# The energy job end to end on the 6.12 guest's e1000e (kernel-patches/demo.sh).
demo: $(BUILD)/kopt | $(DEPS_STAMP)
	$(Q)kernel-patches/demo.sh $(BUILD)

bench: $(BUILD)/kopt
	$(Q)$(BUILD)/kopt bench all --json | tee $(BUILD)/bench.json

# --- lint -------------------------------------------------------------------------

C_SOURCES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)

lint: | $(DEPS_STAMP)
	$(call msg,FORMAT,kernel .clang-format)
	$(Q)clang-format --dry-run --Werror $(C_SOURCES)
	$(call msg,CPPCHECK,loader optimizer selftests)
	$(Q)cppcheck --quiet --error-exitcode=1 --inline-suppr \
		--enable=warning,portability,performance \
		--suppress=missingIncludeSystem --library=.cppcheck/kopt.cfg -Iinclude -Iloader -Ioptimizer \
		-D__x86_64__ -U__bpf__ loader optimizer selftests

clean:
	$(call msg,CLEAN,$(BUILD))
	$(Q)rm -rf $(BUILD)

-include $(wildcard kernel-patches/*.mk)
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
