#!/bin/sh
# Starts a system libvirtd on a machine without systemd (BRIEF section 5), idempotently:
# user libvirt-qemu / group kvm, /etc/libvirt/qemu.conf running QEMU as root, log and run
# directories, virtlogd and libvirtd as daemons (only when not already running), then waits
# until `virsh -c qemu:///system version` answers. Used by tests, e2e and the demo.
# Exit 0 when libvirtd answers, 1 otherwise (with the reason on stderr). Needs root.
set -eu

TIMEOUT_S=${LIBVIRT_SETUP_TIMEOUT_S:-30}
URI=qemu:///system

log() { echo "libvirt-setup: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
  log "must run as root"
  exit 1
fi

getent group kvm >/dev/null 2>&1 || groupadd --system kvm
# Debian's libvirtd also resolves a group named libvirt-qemu at start-up (compiled-in default
# for helper processes), whatever qemu.conf says; without it the QEMU driver fails to load.
getent group libvirt-qemu >/dev/null 2>&1 || groupadd --system libvirt-qemu
id libvirt-qemu >/dev/null 2>&1 || useradd --system --no-create-home --gid kvm --shell /usr/sbin/nologin libvirt-qemu

mkdir -p /etc/libvirt /var/log/libvirt /var/run/libvirt /var/log/libvirt/qemu
CONF=/etc/libvirt/qemu.conf
WANT='user = "root"
group = "root"'
if [ ! -f "$CONF" ] || [ "$(grep -E '^(user|group) *=' "$CONF" | tr -s ' ')" != "$WANT" ]; then
  # Keep whatever else is in the file; replace only user/group.
  if [ -f "$CONF" ]; then
    grep -vE '^(user|group) *=' "$CONF" > "$CONF.vnuma-tmp" || true
  else
    : > "$CONF.vnuma-tmp"
  fi
  printf '%s\n' "$WANT" >> "$CONF.vnuma-tmp"
  mv "$CONF.vnuma-tmp" "$CONF"
  log "wrote $CONF"
fi

running() { pgrep -x "$1" >/dev/null 2>&1; }

if ! running virtlogd; then
  log "starting virtlogd"
  virtlogd -d
fi
if ! running libvirtd; then
  log "starting libvirtd"
  libvirtd -d
fi

i=0
while [ "$i" -lt $((TIMEOUT_S * 5)) ]; do
  if virsh -c "$URI" version >/dev/null 2>&1; then
    log "libvirtd answers on $URI"
    exit 0
  fi
  sleep 0.2
  i=$((i + 1))
done
log "libvirtd did not answer on $URI within ${TIMEOUT_S}s"
virsh -c "$URI" version >&2 || true
exit 1
