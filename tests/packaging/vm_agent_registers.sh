#!/usr/bin/env bash
# packaging.vm_agent_registers (label vm): the agent .deb, installed with dpkg into a Debian 12
# debootstrap root, boots as a QEMU guest (TCG, systemd as init, the host's kernel + initrd), the
# packaged unit starts the agent, and the agent says Hello over CURVE to a vnuma-broker on the
# host (bound to 127.0.0.1:<port>, reached from the guest as 10.0.2.2:<port> through QEMU user
# networking) that trusts exactly the agent key the package's postinst generated in the guest.
# Evidence: the guest's serial log (unit active, agent journal) and the broker's log naming the
# guest's SMBIOS uuid. Every wait is bounded; QEMU and the broker are killed by PID on exit.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/guestroot.sh"
make_workdir vm

BOOT_TIMEOUT=${VNUMA_VM_BOOT_TIMEOUT:-420}     # TCG on 2 shared cores: boot takes ~1-2 min
HELLO_TIMEOUT=${VNUMA_VM_HELLO_TIMEOUT:-120}   # after the guest reported the unit active
: "${VNUMA_BROKER_BIN:?}"
[[ -x $VNUMA_BROKER_BIN ]] || die "$VNUMA_BROKER_BIN missing: build vnuma-broker"
deb=$(deb_file vnuma-agent)
require_packages "$deb"

kver=$(ls /boot/vmlinuz-* | sed 's|/boot/vmlinuz-||' | sort -V | tail -1)
kernel=/boot/vmlinuz-$kver initrd=/boot/initrd.img-$kver
[[ -r $kernel && -r $initrd ]] || die "no readable kernel/initrd in /boot (linux-image-amd64)"
uuid=$(cat /proc/sys/kernel/random/uuid)
vm_name=vnuma-pkg-guest
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pids=()
stop_pids() { local p; for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
              for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done; pids=(); }
trap 'stop_pids; cleanup_workdir' EXIT

step "host broker keys and guest root (vm uuid $uuid, port $port)"
mkdir -p "$WORK/broker/agents" "$WORK/broker/state"
"$VNUMA_BROKER_BIN" --generate-key "$WORK/broker" >/dev/null || die "vnuma-broker --generate-key failed"
root=$WORK/root
clone_root "$(deps_root "$deb")" "$root"
cp "$deb" "$root/tmp/"
with_chroot_mounts "$root" timeout 300 chroot "$root" env DEBIAN_FRONTEND=noninteractive \
  dpkg -i "/tmp/$(basename "$deb")" || die "dpkg -i in the guest root failed"
rm "$root/tmp/$(basename "$deb")"
[[ -s $root/etc/vnuma/agent.pub ]] || die "the package did not generate /etc/vnuma/agent.pub"
[[ -L $root/etc/systemd/system/multi-user.target.wants/vnuma-agent.service ]] || die "the package did not enable vnuma-agent.service"
# The broker binds agent keys to VMs by file name: <vm-uuid>.pub.
cp "$root/etc/vnuma/agent.pub" "$WORK/broker/agents/$uuid.pub"
cp "$WORK/broker/broker.pub" "$root/etc/vnuma/broker.pub"
cat >"$root/etc/vnuma/vnuma-agent.toml" <<TOML
# packaging.vm_agent_registers test config
[broker]
endpoint = "tcp://10.0.2.2:$port"
public_key_file = "/etc/vnuma/broker.pub"
agent_key_file = "/etc/vnuma/agent.key"
reconnect_min_ms = 200
reconnect_max_ms = 2000

[agent]
log_level = "debug"
TOML

# Guest plumbing: root on /dev/vda, DHCP on the virtio NIC, a reporter on the serial console.
echo vnuma-guest >"$root/etc/hostname"
echo '/dev/vda / ext4 rw,errors=remount-ro 0 1' >"$root/etc/fstab"
mkdir -p "$root/etc/systemd/network"
printf '[Match]\nName=en* eth*\n\n[Network]\nDHCP=ipv4\n' >"$root/etc/systemd/network/20-vnuma-test.network"
ln -sf /lib/systemd/system/systemd-networkd.service "$root/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
ln -sf /dev/null "$root/etc/systemd/system/serial-getty@ttyS0.service"
cat >"$root/usr/local/sbin/vnuma-test-report" <<'SH'
#!/bin/sh
# Reports the agent's state on the serial console (packaging.vm_agent_registers).
for i in $(seq 120); do systemctl is-active -q multi-user.target && break; sleep 1; done
echo "VNUMA-TEST multi-user=$(systemctl is-active multi-user.target)"
for i in $(seq 60); do systemctl is-active -q vnuma-agent.service && break; sleep 1; done
echo "VNUMA-TEST agent=$(systemctl is-active vnuma-agent.service) pid=$(systemctl show -p MainPID --value vnuma-agent.service)"
tcp=failed
for i in $(seq 30); do
  if timeout 5 bash -c 'exec 3<>/dev/tcp/10.0.2.2/@PORT@' 2>/dev/null; then tcp=ok; break; fi
  sleep 1
done
echo "VNUMA-TEST tcp-to-broker=$tcp"
sleep 20
systemctl status --no-pager vnuma-agent.service 2>&1 | sed 's/^/VNUMA-TEST status: /'
journalctl -b -u vnuma-agent.service --no-pager -o cat 2>&1 | tail -40 | sed 's/^/VNUMA-TEST journal: /'
# systemd's own start message, which the tail above can miss behind the agent's lines (and the
# console's status line is not always printed).
journalctl -b -u vnuma-agent.service --no-pager -o cat _PID=1 2>&1 | grep -m1 '^Started ' | sed 's/^/VNUMA-TEST systemd: /'
echo "VNUMA-TEST agent-after=$(systemctl is-active vnuma-agent.service) restarts=$(systemctl show -p NRestarts --value vnuma-agent.service)"
echo "VNUMA-TEST done"
SH
sed -i "s/@PORT@/$port/" "$root/usr/local/sbin/vnuma-test-report"
chmod 0755 "$root/usr/local/sbin/vnuma-test-report"
cat >"$root/etc/systemd/system/vnuma-test-report.service" <<'UNIT'
[Unit]
Description=vnuma packaging test reporter
[Service]
Type=simple
ExecStart=/usr/local/sbin/vnuma-test-report
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/vnuma-test-report.service "$root/etc/systemd/system/multi-user.target.wants/vnuma-test-report.service"

step "ext4 image"
size_mb=$(( $(du -sm "$root" | cut -f1) + 256 ))
timeout 300 mkfs.ext4 -q -F -L vnuma-root -d "$root" "$WORK/root.img" "${size_mb}M" || die "mkfs.ext4 -d failed"
rm -rf --one-file-system "$root"

step "broker on 127.0.0.1:$port"
# The guest is not a libvirt domain (plain QEMU), so the broker sees it through libvirt's test
# driver: a host with one node of 2 pCPUs and a running, opted-in domain with the guest's uuid,
# its 2 vCPUs pinned 1:1. The broker then treats the Hello as one from a managed VM.
cat >"$WORK/host.xml" <<XML
<node>
  <cpu><nodes>1</nodes><sockets>1</sockets><cores>2</cores><threads>1</threads>
    <active>2</active><mhz>2000</mhz><model>x86_64</model></cpu>
  <memory>4194304</memory>
  <domain type='test'>
    <name>$vm_name</name>
    <uuid>$uuid</uuid>
    <metadata>
      <vnuma:vm xmlns:vnuma="https://vnuma.dev/xmlns/vnuma/1" managed="yes" floor="1"/>
    </metadata>
    <memory unit='KiB'>1048576</memory>
    <vcpu placement='static'>2</vcpu>
    <cputune><vcpupin vcpu='0' cpuset='0'/><vcpupin vcpu='1' cpuset='1'/></cputune>
    <os><type arch='x86_64'>hvm</type></os>
  </domain>
</node>
XML
cat >"$WORK/broker.toml" <<TOML
[broker]
libvirt_uri = "test://$WORK/host.xml"
state_dir = "$WORK/broker/state"
log_level = "debug"
log_file = "$WORK/broker.log"

[agents]
endpoint = "tcp://127.0.0.1:$port"
broker_key_file = "$WORK/broker/broker.key"
key_dir = "$WORK/broker/agents"

[admin]
endpoint = "ipc://$WORK/admin.sock"

[host]
memory_reserve_mb = 512
TOML
"$VNUMA_BROKER_BIN" --config "$WORK/broker.toml" >"$WORK/broker.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  ss -ltn 2>/dev/null | grep -q "127.0.0.1:$port" && break
  kill -0 "${pids[0]}" 2>/dev/null || { cat "$WORK/broker.out" "$WORK/broker.log" 2>/dev/null; die "broker exited"; }
  sleep 0.1
done
ss -ltn | grep -q "127.0.0.1:$port" || { cat "$WORK/broker.out"; die "broker not listening on 127.0.0.1:$port within 10 s"; }

step "boot the guest (TCG, kernel $kver, timeout ${BOOT_TIMEOUT}s)"
serial=$WORK/serial.log
timeout "$BOOT_TIMEOUT" qemu-system-x86_64 -machine q35,accel=tcg -cpu max -smp 2 -m 1024 \
  -kernel "$kernel" -initrd "$initrd" \
  -append "root=/dev/vda rw console=ttyS0 panic=-1 systemd.show_status=1" \
  -drive file="$WORK/root.img",format=raw,if=virtio \
  -netdev user,id=n0 -device virtio-net-pci,netdev=n0 \
  -smbios type=1,uuid="$uuid" \
  -display none -monitor none -serial file:"$serial" -no-reboot &
qemu=$!
pids+=($qemu)
start=$SECONDS
until grep -q "VNUMA-TEST done" "$serial" 2>/dev/null; do
  kill -0 "$qemu" 2>/dev/null || { tail -60 "$serial"; die "QEMU ended before the guest reported (see above)"; }
  ((SECONDS - start < BOOT_TIMEOUT)) || { tail -60 "$serial"; die "no report from the guest within ${BOOT_TIMEOUT}s"; }
  sleep 2
done
echo "guest reported after $((SECONDS - start))s"
grep -a "VNUMA-TEST" "$serial" | tr -d '\r'
grep -aq "Started.*vnuma-agent.service" "$serial" || die "neither the console nor the journal shows systemd starting vnuma-agent.service"
grep -aq "VNUMA-TEST multi-user=active" "$serial" || die "the guest did not reach multi-user.target"
grep -aq "VNUMA-TEST agent=active" "$serial" || die "vnuma-agent.service is not active in the guest"
grep -aq "VNUMA-TEST agent-after=active restarts=0" "$serial" || die "vnuma-agent.service did not stay up"
grep -aq "VNUMA-TEST tcp-to-broker=ok" "$serial" || die "the guest cannot reach the broker at 10.0.2.2:$port"

step "broker saw the guest's Hello (vm $vm_name, uuid $uuid)"
# The broker accepts a Hello only when its vm_uuid is the one the agent's key is bound to
# (key_dir/<uuid>.pub), then logs the VM by name.
start=$SECONDS
until grep -Eq "agent connected vm=$vm_name " "$WORK/broker.log" 2>/dev/null; do
  ((SECONDS - start < HELLO_TIMEOUT)) || { cat "$WORK/broker.log" "$WORK/broker.out" 2>/dev/null | tail -40; die "no Hello from vm $uuid in the broker log within ${HELLO_TIMEOUT}s"; }
  sleep 1
done
grep -m5 -E "vm=($vm_name|$uuid)" "$WORK/broker.log"
ok "the agent in the guest registered with the broker"
