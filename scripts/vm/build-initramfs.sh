#!/usr/bin/env bash
# Builds the initramfs of one vnuma test guest: busybox-static, the guest kernel's virtio
# modules (from the host's /lib/modules/<ver>), our load/control tool, and optionally the
# vnuma agent with the libraries ldd lists, its config and its CURVE keys. Generated every run.
#
# Usage: build-initramfs.sh --name VM --out FILE [--kver VER] [--loadtool BIN]
#            [--agent BIN --agent-config FILE [--keys DIR]] [--control HOST:PORT]
#   --name          VM name (written to /etc/vnuma-e2e/name, sent by the control channel)
#   --kver          kernel version whose modules to use (default: newest /boot/vmlinuz-*)
#   --loadtool      vnuma-load binary (default: none; the control channel needs it)
#   --agent         vnuma-agent binary; started once at boot as
#                   `vnuma-agent --config /etc/vnuma/agent.toml`, log in /var/log/vnuma-agent.log
#   --agent-config  copied to /etc/vnuma/agent.toml
#   --keys          directory copied to /etc/vnuma/keys (the config refers to files there)
#   --control       where `vnuma-load control` connects (default 10.0.2.2:7390)
#   --agent-manual  install the agent but do not start it at boot; the host driver starts it
#                   through the control channel with /etc/vnuma-e2e/agent.sh
# The guest prints "VNUMA-E2E-READY name=VM" on the serial console once set up.
set -euo pipefail

name='' out='' kver='' loadtool='' agent='' agent_config='' keys='' control='10.0.2.2:7390' autostart=1
while (($#)); do
  case $1 in
    --name) name=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --kver) kver=$2; shift 2 ;;
    --loadtool) loadtool=$2; shift 2 ;;
    --agent) agent=$2; shift 2 ;;
    --agent-config) agent_config=$2; shift 2 ;;
    --keys) keys=$2; shift 2 ;;
    --control) control=$2; shift 2 ;;
    --agent-manual) autostart=0; shift ;;
    *) echo "build-initramfs: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
die() { echo "build-initramfs: $*" >&2; exit 1; }
[[ -n $name && -n $out ]] || die "--name and --out are required"
[[ $name =~ ^[A-Za-z0-9_.-]+$ ]] || die "bad VM name '$name'"
if [[ -z $kver ]]; then
  kernel=$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1) || true
  [[ -n $kernel ]] || die "no /boot/vmlinuz-* (install linux-image-amd64)"
  kver=${kernel#/boot/vmlinuz-}
fi
moddir=/lib/modules/$kver
[[ -d $moddir ]] || die "no module tree $moddir"
busybox=$(command -v busybox) || die "busybox not found (install busybox-static)"
file -L "$busybox" | grep -q 'statically linked' || die "$busybox is not static (install busybox-static)"
[[ -z $agent || -f $agent_config ]] || die "--agent needs --agent-config FILE"
[[ -z $agent || -x $agent ]] || die "agent binary '$agent' not executable"
[[ -z $loadtool || -x $loadtool ]] || die "load tool '$loadtool' not executable"
[[ -z $keys || -d $keys ]] || die "keys directory '$keys' missing"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc/vnuma,etc/vnuma-e2e,proc,sys,dev,tmp,run,var/log,lib/modules/vnuma,root}
cp "$busybox" "$root/bin/busybox"

# Modules in dependency order (BRIEF section 5); decompress whatever compression the tree uses.
modules=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_mem
  failover net_failover virtio_net)
for m in "${modules[@]}"; do
  src=$(find "$moddir" -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" -o -name "$m.ko.gz" | head -1)
  if [[ -z $src ]]; then
    # Built into the kernel is fine; absent is not.
    grep -qw "$m.ko" "$moddir/modules.builtin" 2>/dev/null && continue
    die "module $m not found under $moddir"
  fi
  dst=$root/lib/modules/vnuma/$m.ko
  case $src in
    *.xz) xz -dc "$src" >"$dst" ;;
    *.zst) zstd -qdc "$src" >"$dst" ;;
    *.gz) gzip -dc "$src" >"$dst" ;;
    *) cp "$src" "$dst" ;;
  esac
  echo "$m" >>"$root/lib/modules/vnuma/order"
done

# Copies a binary and every library ldd lists (plus the loader) to the same paths in the image.
copy_bin() {
  local src=$1 dst=$2 lib
  install -D -m 0755 "$src" "$root$dst"
  if ldd "$src" >/dev/null 2>&1; then
    for lib in $(ldd "$src" | grep -oE '/[^ ]+'); do
      [[ -e $root$lib ]] || install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
    done
  fi
}
[[ -z $loadtool ]] || copy_bin "$loadtool" /usr/bin/vnuma-load
if [[ -n $agent ]]; then
  copy_bin "$agent" /usr/bin/vnuma-agent
  install -m 0644 "$agent_config" "$root/etc/vnuma/agent.toml"
  if [[ -n $keys ]]; then
    mkdir -p "$root/etc/vnuma/keys"
    cp -a "$keys"/. "$root/etc/vnuma/keys/"
    chmod -R go-rwx "$root/etc/vnuma/keys"
  fi
fi
echo "$name" >"$root/etc/vnuma-e2e/name"
echo "$control" >"$root/etc/vnuma-e2e/control"
[[ -z $agent || $autostart == 0 ]] || touch "$root/etc/vnuma-e2e/agent-autostart"
echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
echo "root:x:0:" >"$root/etc/group"

cat >"$root/init" <<'INIT'
#!/bin/busybox sh
# vnuma e2e guest init: mounts, modules, network, then busybox init runs /etc/inittab.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
say() { echo "vnuma-guest: $*"; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp && mount -t tmpfs tmpfs /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup || say "cgroup2 mount failed"
for m in $(cat /lib/modules/vnuma/order); do
  insmod "/lib/modules/vnuma/$m.ko" || say "insmod $m failed"
done
ip link set lo up
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
if ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2; then
  say "eth0 10.0.2.15/24 gw 10.0.2.2"
else
  say "network setup failed"
fi
hostname "$(cat /etc/vnuma-e2e/name)"
say "nodes=$(ls -d /sys/devices/system/node/node* | wc -l) cpus=$(cat /sys/devices/system/cpu/online)" \
  "virtio_mem=$(ls /sys/bus/virtio/drivers/virtio_mem 2>/dev/null | grep -c virtio)" \
  "cgroup2=$(grep -c ' /sys/fs/cgroup cgroup2' /proc/mounts) uuid=$(cat /sys/class/dmi/id/product_uuid 2>/dev/null)"
cat >/etc/inittab <<TAB
::respawn:/etc/vnuma-e2e/control.sh
::shutdown:/bin/umount -a -r
TAB
if [ -x /usr/bin/vnuma-agent ] && [ -f /etc/vnuma/agent.toml ] && [ -e /etc/vnuma-e2e/agent-autostart ]; then
  # Started once, never respawned: the e2e scenarios kill it on purpose.
  echo "::once:/etc/vnuma-e2e/agent.sh" >>/etc/inittab
fi
say "VNUMA-E2E-READY name=$(cat /etc/vnuma-e2e/name)"
exec /bin/busybox init
INIT
cat >"$root/etc/vnuma-e2e/agent.sh" <<'AGENT'
#!/bin/sh
exec /usr/bin/vnuma-agent --config /etc/vnuma/agent.toml >>/var/log/vnuma-agent.log 2>&1
AGENT
cat >"$root/etc/vnuma-e2e/control.sh" <<'CTL'
#!/bin/sh
[ -x /usr/bin/vnuma-load ] || exec sleep 3600
exec /usr/bin/vnuma-load control --connect "$(cat /etc/vnuma-e2e/control)" --name "$(cat /etc/vnuma-e2e/name)" \
  2>>/var/log/vnuma-control.log
CTL
chmod 0755 "$root/init" "$root/etc/vnuma-e2e/agent.sh" "$root/etc/vnuma-e2e/control.sh"

mkdir -p "$(dirname "$out")"
(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet -R 0:0 | gzip -1) >"$out.tmp"
mv "$out.tmp" "$out"
echo "build-initramfs: $out ($(du -h "$out" | cut -f1), kernel $kver, agent: ${agent:-none})"
