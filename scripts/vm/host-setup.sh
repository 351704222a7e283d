#!/usr/bin/env bash
# Makes libvirtd + virtlogd available on qemu:///system without systemd (BRIEF section 5).
# Prefers the project's scripts/libvirt-setup.sh when it exists; otherwise does the minimal,
# idempotent start itself. Safe to run repeatedly; exits non-zero if libvirt does not answer.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
if [[ -x $here/scripts/libvirt-setup.sh ]]; then
  exec "$here/scripts/libvirt-setup.sh"
fi
getent group kvm >/dev/null || groupadd -r kvm
getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
getent passwd libvirt-qemu >/dev/null || useradd -r -g kvm -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
mkdir -p /var/log/libvirt /var/run/libvirt /var/lib/libvirt/qemu
conf=/etc/libvirt/qemu.conf
if ! grep -qE '^user = "root"' "$conf" 2>/dev/null; then
  printf 'user = "root"\ngroup = "root"\n' >>"$conf"
fi
pgrep -x virtlogd >/dev/null || virtlogd -d
pgrep -x libvirtd >/dev/null || libvirtd -d
for _ in $(seq 50); do
  virsh -c qemu:///system version >/dev/null 2>&1 && exit 0
  sleep 0.2
done
echo "host-setup: libvirtd did not answer on qemu:///system within 10 s" >&2
exit 1
