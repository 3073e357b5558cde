#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Boots the kopt VM kernel under QEMU and runs one command inside it, in a
# chroot of this host's root (shared read-only over 9p), then powers off.
#
#   kernel-patches/vm-run.sh [options] -- CMD [ARG...]
#   kernel-patches/vm-run.sh [options] --script FILE
#
# The command's stdout and stderr (combined) are copied to this script's
# stdout as they come; harness messages go to stderr, prefixed "vm-run:".
#
# Options (environment variable in brackets):
#   --timeout SECS       limit for the command [KOPT_VM_TIMEOUT, 600]
#   --boot-timeout SECS  limit from QEMU start to guest userspace under TCG
#                        [KOPT_VM_BOOT_TIMEOUT, 120]
#   --accel auto|kvm|tcg auto tries KVM (limit KOPT_VM_KVM_BOOT_TIMEOUT, 20 s)
#                        and falls back to TCG if the guest is not up in time
#                        [KOPT_VM_ACCEL, auto]
#   --kernel BZIMAGE     [KOPT_VM_KERNEL; default: build-kernel.sh's output]
#   --initrd FILE        [KOPT_VM_INITRD; default: mkinitramfs.sh's output]
#   --cpus N             [KOPT_VM_CPUS, 2]      --mem MIB  [KOPT_VM_MEM, 1024]
#   --cwd DIR            directory the command starts in [default: $PWD]
#   --env NAME=VALUE     export NAME=VALUE for the command (repeatable)
#   --hostfwd HP[:GP]    forward host 127.0.0.1:HP to guest port GP (default
#                        HP), TCP; repeatable [KOPT_VM_HOSTFWD, space-separated]
#   --work DIR           use (and keep) DIR as the results share, mounted at
#                        /run/kopt in the guest [KOPT_VM_WORK; default: a temp
#                        dir removed at exit]
#   --append ARGS        extra kernel command line [KOPT_VM_APPEND]
#   --icount SHIFT       instruction-counting clock (TCG only, implies
#                        --accel tcg): guest time advances 2^SHIFT ns per
#                        guest instruction, so with 0 a measured duration
#                        in ns is the number of instructions executed (one
#                        host thread runs all vCPUs) [KOPT_VM_ICOUNT]
#   --tcg-thread single|multi
#                        TCG's threading: multi (one host thread a vCPU,
#                        the default) or single (one thread runs all
#                        vCPUs, as --icount does) [KOPT_VM_TCG_THREAD]
#   --scratch-disk MIB   an empty virtio disk of MIB MiB (/dev/vda in the
#                        guest; a sparse file in the temp dir, gone at exit)
#                        for commands that need a block device and its
#                        interrupts [KOPT_VM_SCRATCH_DISK]
#   -v, --verbose        show the guest console on stderr as it comes
#
# Exit status: the command's own; 124 if it was killed at its limit; 125 if
# the VM failed (did not boot in time, crashed, hung, harness error).
#
# Also KOPT_VM_NET_RESTRICT=1 (QEMU restrict=on: the guest reaches nothing,
# not even 10.0.2.2; hostfwd still works) and KOPT_VM_KEEP=1 (keep the temp
# dir with console.log and qemu.log). See kernel-patches/README.md.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${KOPT_CACHE:-/var/cache/kopt}

cmd_timeout=${KOPT_VM_TIMEOUT:-600}
boot_timeout=${KOPT_VM_BOOT_TIMEOUT:-120}
kvm_boot_timeout=${KOPT_VM_KVM_BOOT_TIMEOUT:-20}
accel=${KOPT_VM_ACCEL:-auto}
kernel=${KOPT_VM_KERNEL:-}
initrd=${KOPT_VM_INITRD:-}
cpus=${KOPT_VM_CPUS:-2}
mem=${KOPT_VM_MEM:-1024}
cwd=$PWD
work=${KOPT_VM_WORK:-}
append=${KOPT_VM_APPEND:-}
icount=${KOPT_VM_ICOUNT:-}
scratch_mib=${KOPT_VM_SCRATCH_DISK:-}
tcg_thread=${KOPT_VM_TCG_THREAD:-multi}
verbose=0
script=
envs=()
read -r -a fwds <<<"${KOPT_VM_HOSTFWD:-}"

# Extra time the host allows past the guest's own limits (the guest's
# watchdog kills the command at --timeout and then has to power off).
grace=${KOPT_VM_GRACE:-30}
# How long a guest that reported its status may take to power off.
poweroff_limit=20

say() { echo "vm-run: $*" >&2; }
usage() {
	sed -n '3,43p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}
need_arg() { [ "$#" -ge 2 ] || { say "$1 needs an argument"; exit 2; }; }
is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }

while [ "$#" -gt 0 ]; do
	case "$1" in
	--timeout) need_arg "$@"; cmd_timeout=$2; shift 2 ;;
	--boot-timeout) need_arg "$@"; boot_timeout=$2; shift 2 ;;
	--accel) need_arg "$@"; accel=$2; shift 2 ;;
	--kernel) need_arg "$@"; kernel=$2; shift 2 ;;
	--initrd) need_arg "$@"; initrd=$2; shift 2 ;;
	--cpus) need_arg "$@"; cpus=$2; shift 2 ;;
	--mem) need_arg "$@"; mem=$2; shift 2 ;;
	--cwd) need_arg "$@"; cwd=$2; shift 2 ;;
	--env) need_arg "$@"; envs+=("$2"); shift 2 ;;
	--hostfwd) need_arg "$@"; fwds+=("$2"); shift 2 ;;
	--work) need_arg "$@"; work=$2; shift 2 ;;
	--append) need_arg "$@"; append="$append $2"; shift 2 ;;
	--icount) need_arg "$@"; icount=$2; shift 2 ;;
	--scratch-disk) need_arg "$@"; scratch_mib=$2; shift 2 ;;
	--tcg-thread) need_arg "$@"; tcg_thread=$2; shift 2 ;;
	--script) need_arg "$@"; script=$2; shift 2 ;;
	-v | --verbose) verbose=1; shift ;;
	-h | --help) usage ;;
	--) shift; break ;;
	*) say "unknown option '$1'"; usage ;;
	esac
done

if [ -n "$script" ]; then
	[ "$#" -eq 0 ] || { say "give either --script or a command, not both"; exit 2; }
	[ -r "$script" ] || { say "cannot read $script"; exit 2; }
elif [ "$#" -eq 0 ]; then
	say "no command given"
	usage
fi
for v in cmd_timeout boot_timeout kvm_boot_timeout cpus mem grace; do
	is_uint "${!v}" || { say "$v must be a whole number, got '${!v}'"; exit 2; }
done
case "$accel" in auto | kvm | tcg) ;; *) say "--accel must be auto, kvm or tcg"; exit 2 ;; esac
if [ -n "$icount" ]; then
	[[ "$icount" =~ ^([0-9]|10)$ ]] || { say "--icount wants a shift from 0 to 10, got '$icount'"; exit 2; }
	[ "$accel" != kvm ] || { say "--icount needs TCG, not --accel kvm"; exit 2; }
	accel=tcg
fi
case "$tcg_thread" in single | multi) ;; *) say "--tcg-thread must be single or multi, got '$tcg_thread'"; exit 2 ;; esac
if [ -n "$scratch_mib" ]; then
	[[ "$scratch_mib" =~ ^[1-9][0-9]{0,5}$ ]] ||
		{ say "--scratch-disk wants a size in MiB from 1 to 999999, got '$scratch_mib'"; exit 2; }
fi
for e in "${envs[@]}"; do
	[[ "$e" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || { say "--env wants NAME=VALUE, got '$e'"; exit 2; }
done
hostfwd_opt=
for f in "${fwds[@]}"; do
	[[ "$f" =~ ^([0-9]+)(:([0-9]+))?$ ]] || { say "--hostfwd wants PORT or HOSTPORT:GUESTPORT, got '$f'"; exit 2; }
	hostfwd_opt+=",hostfwd=tcp:127.0.0.1:${BASH_REMATCH[1]}-:${BASH_REMATCH[3]:-${BASH_REMATCH[1]}}"
done
[ -d "$cwd" ] || { say "--cwd $cwd is not a directory"; exit 2; }
cwd=$(cd "$cwd" && pwd -P)

command -v qemu-system-x86_64 >/dev/null ||
	{ say "qemu-system-x86_64 missing: install qemu-system-x86 (make deps)"; exit 125; }

# --- temp dir, cleanup ------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kopt-vm.XXXXXX")
qpid=
conspid=
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_qemu
	if [ -n "$conspid" ]; then
		# The console follower is a process group of its own (setsid).
		kill -- -"$conspid" 2>/dev/null || true
		wait "$conspid" 2>/dev/null || true
	fi
	if [ "${KOPT_VM_KEEP:-0}" = 1 ]; then
		say "kept $tmp"
	else
		rm -rf "$tmp"
	fi
	exit "$rc"
}
stop_qemu() {
	[ -n "$qpid" ] || return 0
	if kill -0 "$qpid" 2>/dev/null; then
		kill -TERM "$qpid" 2>/dev/null || true
		for _ in $(seq 30); do
			kill -0 "$qpid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$qpid" 2>/dev/null || true
	fi
	wait "$qpid" 2>/dev/null || true
	qpid=
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -z "$work" ]; then
	work="$tmp/work"
fi
mkdir -p "$work"
work=$(cd "$work" && pwd -P)
rm -f "$work"/{up,output,status,timed-out,harness-error,cmd.sh,config,script}

# --- kernel and initramfs ------------------------------------------------------
if [ -z "$kernel" ]; then
	kernel=$("$here/build-kernel.sh") || { say "kernel build failed"; exit 125; }
fi
[ -r "$kernel" ] || { say "kernel $kernel not readable"; exit 125; }
if [ -z "$initrd" ]; then
	initrd=$("$here/mkinitramfs.sh") || { say "initramfs build failed"; exit 125; }
fi

# --- the command, as the guest will run it --------------------------------------
{
	echo "# written by vm-run.sh; run by the guest's init with the host's bash"
	printf 'cd -- %q || exit 125\n' "$cwd"
	# OpenBLAS takes TCG's qemu64 CPU (it says AuthenticAMD) for an
	# Opteron and runs kernels with instructions TCG does not emulate:
	# SIGILL in the first BLAS call (kopt train). Its SSE3 kernels run on
	# any x86_64; a KVM guest (-cpu host) keeps its own choice.
	echo 'grep -q "QEMU Virtual CPU" /proc/cpuinfo &&' \
		'export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Prescott}'
	for e in "${envs[@]}"; do
		printf 'export %s=%q\n' "${e%%=*}" "${e#*=}"
	done
	if [ -n "$script" ]; then
		cp "$script" "$work/script"
		echo 'exec /bin/bash /run/kopt/script'
	else
		printf 'exec'
		printf ' %q' "$@"
		printf '\n'
	fi
} >"$work/cmd.sh"
echo "KOPT_VM_CMD_TIMEOUT=$cmd_timeout" >"$work/config"

# --- time ---------------------------------------------------------------------
now_ms() {
	local t=${EPOCHREALTIME//[.,]/}
	echo $((t / 1000))
}
secs() { printf '%d.%01d' $(($1 / 1000)) $((($1 % 1000) / 100)); }

# --- output copying -----------------------------------------------------------------
out_off=0
emit_new() {
	local size
	size=$(stat -c %s "$work/output" 2>/dev/null || echo 0)
	if [ "$size" -gt "$out_off" ]; then
		tail -c +"$((out_off + 1))" "$work/output" | head -c "$((size - out_off))"
		out_off=$size
	fi
}
console_tail() {
	say "last lines of the guest console:"
	tail -n 25 "$tmp/console.log" 2>/dev/null | tr -d '\r' | sed 's/^/  | /' >&2 || true
	if grep -qv 'terminating on signal' "$tmp/qemu.log" 2>/dev/null; then
		say "QEMU said:"
		sed 's/^/  | /' "$tmp/qemu.log" >&2
	fi
}

# --- QEMU -------------------------------------------------------------------------------
kvm_verdict="$cache_root/kvm-hangs"
kvm_id="host $(uname -r) $(qemu-system-x86_64 --version | head -n1)"

start_qemu() {
	local acc=$1 cpu_opt accel_opt=$1
	rm -f "$work"/{up,output,status,timed-out,harness-error}
	: >"$tmp/console.log"
	if [ "$acc" = kvm ]; then
		cpu_opt=host
	else
		cpu_opt=qemu64
		# icount implies one thread; say so only when asked
		[ -n "$icount" ] || accel_opt="tcg,thread=$tcg_thread"
	fi
	local args=(
		-nodefaults -no-user-config -no-reboot
		-machine pc -accel "$accel_opt" -cpu "$cpu_opt" -smp "$cpus" -m "$mem"
		-display none -monitor none -serial "file:$tmp/console.log"
		-kernel "$kernel" -initrd "$initrd"
		-append "console=ttyS0 $([ "$verbose" = 1 ] || echo quiet) panic=-1 $append"
		-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
		-virtfs "local,path=$work,mount_tag=work,security_model=none,multidevs=remap"
		-netdev "user,id=n0$([ "${KOPT_VM_NET_RESTRICT:-0}" = 1 ] && echo ,restrict=on)$hostfwd_opt"
		-device "e1000e,netdev=n0,romfile="
	)
	[ -z "$icount" ] || args+=(-icount "shift=$icount,sleep=on")
	if [ -n "$scratch_mib" ]; then
		[ -e "$tmp/scratch.img" ] || truncate -s "${scratch_mib}M" "$tmp/scratch.img"
		args+=(-drive "file=$tmp/scratch.img,if=virtio,format=raw,cache=unsafe")
	fi
	qemu-system-x86_64 "${args[@]}" </dev/null >"$tmp/qemu.log" 2>&1 &
	qpid=$!
	if [ "$verbose" = 1 ] && [ -z "$conspid" ]; then
		# shellcheck disable=SC2016
		setsid bash -c 'tail -n +1 -F "$1" 2>/dev/null |
			sed -u -e "s/\r\$//" -e "s/^/  console| /"' console "$tmp/console.log" >&2 &
		conspid=$!
	fi
}

# Waits for the guest's "up" marker; 0 = up, 1 = deadline passed, 2 = QEMU exited.
wait_up() {
	local deadline=$(($(now_ms) + $1 * 1000))
	while :; do
		[ -e "$work/up" ] && return 0
		kill -0 "$qpid" 2>/dev/null || return 2
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

t0=$(now_ms)
used=
if [ "$accel" != tcg ]; then
	if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
		[ "$accel" = kvm ] && { say "--accel kvm: /dev/kvm is not usable"; exit 125; }
		say "no usable /dev/kvm: using TCG (software emulation)"
	elif [ "$accel" = auto ] && [ -r "$kvm_verdict" ] && [ "$(cat "$kvm_verdict")" = "$kvm_id" ]; then
		say "KVM skipped: a KVM guest hung on this machine before ($kvm_verdict;" \
			"delete it or use --accel kvm to retry): using TCG"
	else
		say "trying KVM (guest must be up within ${kvm_boot_timeout}s)"
		start_qemu kvm
		rc=0
		wait_up "$kvm_boot_timeout" || rc=$?
		if [ "$rc" = 0 ]; then
			used=kvm
			rm -f "$kvm_verdict"
		else
			if [ "$rc" = 1 ]; then
				say "KVM: guest not up after ${kvm_boot_timeout}s: QEMU killed"
				{ mkdir -p "$cache_root" && echo "$kvm_id" >"$kvm_verdict"; } 2>/dev/null ||
					say "(could not record the verdict in $kvm_verdict)"
			else
				say "KVM: QEMU exited before the guest was up"
			fi
			stop_qemu
			if [ "$accel" = kvm ]; then
				console_tail
				exit 125
			fi
			[ "$verbose" = 0 ] || console_tail
			say "falling back to TCG (software emulation)"
		fi
	fi
fi
if [ -z "$used" ]; then
	t0=$(now_ms)
	start_qemu tcg
	rc=0
	wait_up "$boot_timeout" || rc=$?
	case "$rc" in
	0) used=tcg ;;
	1)
		say "guest not up after ${boot_timeout}s under TCG: QEMU killed"
		console_tail
		exit 125
		;;
	*)
		say "QEMU exited before the guest was up"
		[ -s "$work/harness-error" ] && say "guest: $(cat "$work/harness-error")"
		console_tail
		exit 125
		;;
	esac
fi
t_up=$(now_ms)
say "guest up under ${used^^} in $(secs $((t_up - t0)))s (${cpus} vCPUs, ${mem} MiB); command limit ${cmd_timeout}s"

# --- run: copy output, watch the limits ----------------------------------------------
deadline=$((t_up + (cmd_timeout + grace) * 1000))
result=
while :; do
	emit_new
	if [ -e "$work/status" ]; then
		result=finished
		break
	fi
	if ! kill -0 "$qpid" 2>/dev/null; then
		result=died
		break
	fi
	if [ "$(now_ms)" -ge "$deadline" ]; then
		result=hung
		break
	fi
	sleep 0.2
done
t_end=$(now_ms)

if [ "$result" = finished ]; then
	# The guest powers off by itself; give it a little time, then kill it.
	pdeadline=$(($(now_ms) + poweroff_limit * 1000))
	while kill -0 "$qpid" 2>/dev/null && [ "$(now_ms)" -lt "$pdeadline" ]; do
		sleep 0.1
	done
	if kill -0 "$qpid" 2>/dev/null; then
		say "guest did not power off within ${poweroff_limit}s: QEMU killed"
	fi
fi
stop_qemu
emit_new

case "$result" in
finished)
	status=$(cat "$work/status")
	is_uint "$status" || { say "bad status '$status' from the guest"; exit 125; }
	if [ -e "$work/timed-out" ]; then
		say "command killed at its ${cmd_timeout}s limit (guest watchdog) after $(secs $((t_end - t_up)))s"
		exit 124
	fi
	say "command exited with status $status after $(secs $((t_end - t_up)))s" \
		"(total $(secs $((t_end - t0)))s)"
	exit "$status"
	;;
died)
	say "QEMU exited before the command finished (guest crashed or powered off)"
	[ -s "$work/harness-error" ] && say "guest: $(cat "$work/harness-error")"
	console_tail
	exit 125
	;;
hung)
	say "guest hung: no result $((cmd_timeout + grace))s after boot (limit ${cmd_timeout}s" \
		"+ ${grace}s grace): QEMU killed"
	console_tail
	exit 124
	;;
esac
