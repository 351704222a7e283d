#!/usr/bin/env bash
# Builds, defines and starts vnuma test guests (Full vNUMA, TCG), then waits until each prints
# its ready marker on the serial console. A guest of the same name left from an earlier run is
# removed first. Everything (initramfs, domain XML, console log) is generated under --work.
#
# Usage: up.sh --work DIR [--loadtool BIN] [--agent BIN] [--control HOST:PORT]
#              [--boot-timeout S] [--domain-args 'ARGS'] NAME[:make-domain args]...
#   NAME:ARGS       e.g. "vnuma-e2e-a:--weight 200 --floor 1"; ARGS go to make-domain.py
#   --agent BIN     install the agent; its config is DIR/NAME/agent.toml, keys DIR/NAME/keys/
#                   (written by the caller beforehand)
#   --agent-manual  install the agent but let the caller start it (/etc/vnuma-e2e/agent.sh)
#   --domain-args   make-domain.py arguments shared by every guest (e.g. --guest-nodes 2)
# Prints "up: NAME ready in N.Ns" per guest; exits non-zero (after printing the console tail)
# if a guest does not come up within --boot-timeout (default 120 s).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/common.sh"
work='' loadtool='' agent='' control='10.0.2.2:7390' boot_timeout=120 domain_args='' agent_manual=0
specs=()
while (($#)); do
  case $1 in
    --work) work=$2; shift 2 ;;
    --loadtool) loadtool=$2; shift 2 ;;
    --agent) agent=$2; shift 2 ;;
    --agent-manual) agent_manual=1; shift ;;
    --control) control=$2; shift 2 ;;
    --boot-timeout) boot_timeout=$2; shift 2 ;;
    --domain-args) domain_args=$2; shift 2 ;;
    -*) vm_die "unknown option '$1'" ;;
    *) specs+=("$1"); shift ;;
  esac
done
[[ -n $work ]] || vm_die "--work DIR is required"
((${#specs[@]})) || vm_die "no guests named"
"$here/host-setup.sh"
kernel=$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1) || true
[[ -n $kernel ]] || vm_die "no /boot/vmlinuz-* (install linux-image-amd64)"
kver=${kernel#/boot/vmlinuz-}
mkdir -p "$work"
work=$(cd "$work" && pwd)

declare -A started
for spec in "${specs[@]}"; do
  name=${spec%%:*}
  extra=''
  [[ $spec == *:* ]] && extra=${spec#*:}
  vm_is_ours "$name" || vm_die "guest names must be vnuma-e2e-* or vnuma-demo-*, got '$name'"
  dir=$work/$name
  mkdir -p "$dir"
  vm_remove "$name"
  initargs=(--name "$name" --out "$dir/initrd.gz" --kver "$kver" --control "$control")
  [[ -z $loadtool ]] || initargs+=(--loadtool "$loadtool")
  if [[ -n $agent ]]; then
    [[ -f $dir/agent.toml ]] || vm_die "--agent given but $dir/agent.toml is missing"
    initargs+=(--agent "$agent" --agent-config "$dir/agent.toml")
    [[ ! -d $dir/keys ]] || initargs+=(--keys "$dir/keys")
    ((agent_manual == 0)) || initargs+=(--agent-manual)
  fi
  "$here/build-initramfs.sh" "${initargs[@]}" >/dev/null
  rm -f "$dir/console.log"
  # shellcheck disable=SC2086 # word splitting of the extra make-domain arguments is intended
  /usr/bin/python3 "$here/make-domain.py" --name "$name" --kernel "$kernel" --initrd "$dir/initrd.gz" \
    --console-log "$dir/console.log" --out "$dir/domain.xml" $domain_args $extra
  vm_virsh define "$dir/domain.xml" >/dev/null
  vm_virsh start "$name" >/dev/null
  started[$name]=$(date +%s.%N)
done

fail=0
for name in "${!started[@]}"; do
  log=$work/$name/console.log
  deadline=$(($(date +%s) + boot_timeout))
  until grep -qs "VNUMA-E2E-READY name=$name" "$log"; do
    if (($(date +%s) >= deadline)) || [[ $(vm_virsh domstate "$name" 2>/dev/null) != running* ]]; then
      echo "up: $name did not become ready within ${boot_timeout}s; console tail:" >&2
      tail -25 "$log" >&2 2>/dev/null || true
      fail=1
      continue 2
    fi
    sleep 0.2
  done
  awk -v n="$name" -v a="${started[$name]}" -v b="$(date +%s.%N)" 'BEGIN { printf "up: %s ready in %.1fs\n", n, b - a }'
done
exit $fail
