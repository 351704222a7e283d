#!/usr/bin/env bash
# packaging.units: the generated units pass `systemd-analyze verify` without a single warning,
# stay at or below exposure 3.0 in `systemd-analyze security --offline`, and carry the policy
# the daemons need (cgroup write access for the agent, libvirtd ordering for the broker, no
# restart after a config error).
# Usage: verify_units.sh <agent unit> <agent binary> <broker unit> <broker binary>
# verify checks that ExecStart= is executable, so the copies verified here point ExecStart= at
# the built binaries (everything else byte-identical); packaging.deb_install_upgrade verifies the
# installed units inside a Debian root as they are.
source "$(dirname "$0")/lib.sh"
make_workdir units
(($# == 4)) || die "usage: $0 <agent unit> <agent binary> <broker unit> <broker binary>"

check_unit() {
  local unit=$1 binary=$2 name copy out
  name=$(basename "$unit")
  [[ -f $unit ]] || die "$unit missing"
  [[ -x $binary ]] || die "$binary missing: build it first"
  step "$name"
  copy=$WORK/$name
  sed -E "s|^ExecStart=/usr/sbin/${name%.service} |ExecStart=$binary |" "$unit" >"$copy"
  grep -q "^ExecStart=$binary " "$copy" || die "$name: ExecStart= is not /usr/sbin/${name%.service} ..."
  out=$(timeout 60 systemd-analyze verify "$copy" 2>&1) || { echo "$out"; die "$name: systemd-analyze verify failed"; }
  [[ -z $out ]] || { echo "$out"; die "$name: systemd-analyze verify printed warnings"; }
  ok "systemd-analyze verify: clean"
  out=$(timeout 60 systemd-analyze security --offline=true --threshold=30 "$copy" 2>&1) ||
    { echo "$out"; die "$name: exposure above 3.0"; }
  ok "$(grep 'Overall exposure level' <<<"$out")"

  local text; text=$(cat "$unit")
  expect_contains "$text" "Restart=on-failure" "$name"
  expect_contains "$text" "RestartPreventExitStatus=78" "$name"   # vnuma::kExitConfigError
  expect_contains "$text" "NoNewPrivileges=yes" "$name"
  expect_contains "$text" "ProtectSystem=strict" "$name"
  expect_contains "$text" "ProtectHome=yes" "$name"
  expect_contains "$text" "PrivateTmp=yes" "$name"
  expect_contains "$text" "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" "$name"
  expect_contains "$text" "StateDirectory=vnuma" "$name"
  expect_contains "$text" "WantedBy=multi-user.target" "$name"
  if grep -Eq '^(ProtectControlGroups|Delegate)=(yes|true|1|on)' "$unit"; then
    die "$name: ProtectControlGroups=/Delegate= must not be enabled (the daemon writes the whole cgroup tree)"
  fi
  expect_contains "$(grep '^ReadWritePaths=' "$unit")" "/sys/fs/cgroup" "$name ReadWritePaths"
}

check_unit "$1" "$2"
# ProtectKernelTunables mounts /proc/irq read-only and ReadWritePaths= does not reopen it.
if grep -Eq '^ProtectKernelTunables=(yes|true|1|on)' "$1"; then
  die "agent unit: ProtectKernelTunables= must not be enabled (the agent writes /proc/irq)"
fi
expect_contains "$(cat "$1")" "ExecStart=/usr/sbin/vnuma-agent --config /etc/vnuma/vnuma-agent.toml" "agent unit"

check_unit "$3" "$4"
expect_contains "$(grep '^After=' "$3")" "libvirtd.service" "broker After="
expect_contains "$(grep '^Wants=' "$3")" "libvirtd.service" "broker Wants="
expect_contains "$(cat "$3")" "RuntimeDirectory=vnuma" "broker unit"
expect_contains "$(cat "$3")" "ExecStart=/usr/sbin/vnuma-broker --config /etc/vnuma/vnuma-broker.toml" "broker unit"
