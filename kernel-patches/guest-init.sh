#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-only
#
# PID 1 of the kopt VM (busybox-static, packed as /init by mkinitramfs.sh).
#
# Mounts the host's root (9p tag "hostroot", read-only) under an overlay
# whose upper layer is a tmpfs, at /newroot: every host path is visible and
# writable, and nothing written reaches the host. On top: the guest's own
# proc, sys, dev, bpf, tracefs, debugfs, /dev/shm and an empty tmpfs /run,
# and the results share (9p tag "work", the host's work dir) at /run/kopt.
# It brings up the e1000e NIC as 10.0.2.15/24 (no default route:
# the guest reaches only 10.0.2.0/24, i.e. 10.0.2.2 = the host's loopback),
# then chroots there and runs /run/kopt/cmd.sh written by vm-run.sh:
#
#   /run/kopt/config     KOPT_VM_CMD_TIMEOUT=<seconds> (sourced)
#   /run/kopt/cmd.sh     the command (run with the host's bash)
#   /run/kopt/up         written by this script once the guest is up
#   /run/kopt/output     the command's stdout and stderr
#   /run/kopt/status     its exit status
#   /run/kopt/timed-out  present if the command was killed at its limit
#   /run/kopt/harness-error  why the guest could not run the command
#
# Then it powers off (QEMU runs with -no-reboot, so it exits either way).
# Never returns: if it did, the kernel would panic and panic=-1 reboots.
# shellcheck shell=sh

/bin/busybox mkdir -p /proc /sys /dev /newroot
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
exec </dev/null >/dev/console 2>&1
/bin/busybox --install -s /bin
export PATH=/bin

R=/newroot
W=/run/kopt

say() { echo "kopt-guest: $*"; }

halt_guest() {
	sync
	poweroff -f
	reboot -f
	sleep 5
	exit 1
}

fatal() {
	say "FATAL: $*"
	if grep -q " $R$W 9p " /proc/mounts 2>/dev/null; then
		echo "$*" >"$R$W/harness-error"
	fi
	halt_guest
}

# --- drivers built as modules (a distribution kernel: mkinitramfs.sh
# --- --modules); the kopt kernel has them built in and ships none --------
if [ -r /lib/modules/kopt.load ]; then
	# one may not fit this CPU (crc32c-intel without SSE4.2 under
	# TCG): say so and go on; a mount below fails if it mattered
	while read -r m; do
		insmod "/lib/modules/$m" 2>/dev/null || say "insmod $m failed"
	done </lib/modules/kopt.load
fi

# --- the host's root, writable through an overlay, the guest's own -------
# --- pseudo filesystems on top ----------------------------------------------
mkdir -p /lower /rw
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=524288,cache=loose \
	hostroot /lower || fatal "cannot mount the 9p share hostroot"
mount -t tmpfs -o mode=0755 rw /rw || fatal "mount the overlay's tmpfs"
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work \
	root "$R" || fatal "cannot mount the overlay root"
mount -t proc proc "$R/proc" || fatal "mount proc"
mount -t sysfs sys "$R/sys" || fatal "mount sysfs"
mount -t devtmpfs dev "$R/dev" || fatal "mount devtmpfs"
mkdir -p "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$R/dev/pts" || fatal "mount devpts"
mount -t tmpfs -o mode=1777 shm "$R/dev/shm" || fatal "mount /dev/shm"
mount -t bpf -o mode=0700 bpf "$R/sys/fs/bpf" || fatal "mount bpffs"
mount -t tracefs tracefs "$R/sys/kernel/tracing" || fatal "mount tracefs"
mount -t debugfs debugfs "$R/sys/kernel/debug" || fatal "mount debugfs"
# The host's /run holds its own daemons' state: start the guest's empty.
mount -t tmpfs -o mode=0755 run "$R/run" || fatal "mount /run"
mkdir -p "$R$W"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,cache=none \
	work "$R$W" || fatal "cannot mount the 9p share work"

# --- network: e1000e only, 10.0.2.0/24 only ---------------------------------
hostname kopt-vm
ip link set lo up
nic=
for n in /sys/class/net/*; do
	case "$(readlink "$n/device/driver" 2>/dev/null)" in
	*/e1000e) nic=${n##*/} ;;
	esac
done
if [ -n "$nic" ]; then
	if ! { ip link set "$nic" up && ip addr add 10.0.2.15/24 dev "$nic"; }; then
		say "warning: could not configure $nic"
	fi
	# e1000e reports link from its watchdog, a second or two after "up":
	# until then the host's forwarded connections are accepted by QEMU
	# but reach no one (a client's first requests time out). Wait for it.
	i=0
	while [ "$(cat "/sys/class/net/$nic/carrier" 2>/dev/null)" != 1 ]; do
		i=$((i + 1))
		if [ "$i" -gt 100 ]; then
			say "warning: $nic has no link after 10 s"
			break
		fi
		sleep 0.1
	done
else
	say "warning: no e1000e network interface"
fi

# --- the command -------------------------------------------------------------
KOPT_VM_CMD_TIMEOUT=600
if [ -r "$R$W/config" ]; then
	# shellcheck disable=SC1090
	. "$R$W/config"
fi
[ -r "$R$W/cmd.sh" ] || fatal "no $W/cmd.sh in the work share"

echo up >"$R$W/up"
say "up in $(cut -d' ' -f1 /proc/uptime)s; running $W/cmd.sh (limit ${KOPT_VM_CMD_TIMEOUT}s)"

# The watchdog kills every process but init (and itself) at the limit.
(
	sleep "$KOPT_VM_CMD_TIMEOUT"
	echo "$KOPT_VM_CMD_TIMEOUT" >"$R$W/timed-out"
	say "command exceeded its ${KOPT_VM_CMD_TIMEOUT}s limit: killing it"
	kill -KILL -1
) &
watchdog=$!

chroot "$R" /usr/bin/env -i \
	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	HOME=/root TERM=dumb LANG=C.UTF-8 TMPDIR=/tmp KOPT_IN_VM=1 \
	KOPT_VM_WORK="$W" \
	/bin/bash "$W/cmd.sh" </dev/null >"$R$W/output" 2>&1
rc=$?
kill "$watchdog" 2>/dev/null
echo "$rc" >"$R$W/status"
say "command exited with status $rc after $(cut -d' ' -f1 /proc/uptime)s of uptime"
halt_guest
