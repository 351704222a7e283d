# Debian 12 root filesystems for the install/upgrade tests and the test guest; sourced after
# lib.sh. Two cached layers under $CACHE_DIR (kept between runs, rebuilt when their inputs change):
#   base-bookworm      debootstrap --variant=minbase --include=<GUEST_BASE_PACKAGES>
#   deps-<hash>        base + the Depends: of the given .debs (apt-get inside the root)
# Tests never modify a cached layer: they clone it (clone_root) into their work directory.

GUEST_SUITE=bookworm
GUEST_BASE_PACKAGES=systemd-sysv,udev,kmod
DEBOOTSTRAP_TIMEOUT=${VNUMA_DEBOOTSTRAP_TIMEOUT:-1200}
APT_TIMEOUT=${VNUMA_APT_TIMEOUT:-900}

# The Debian mirror apt on this machine uses for $GUEST_SUITE (sources.list or deb822 .sources).
guest_mirror() {
  python3 - "$GUEST_SUITE" <<'PY'
import glob, re, sys
suite = sys.argv[1]
files = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")) \
        + sorted(glob.glob("/etc/apt/sources.list.d/*.sources"))
for path in files:
    try:
        text = open(path).read()
    except OSError:
        continue
    if path.endswith(".sources"):
        for stanza in re.split(r"\n\s*\n", text):
            fields = {}
            for line in stanza.splitlines():
                m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
                if m:
                    fields[m.group(1).lower()] = m.group(2).split()
            if "deb" in fields.get("types", []) and suite in fields.get("suites", []) \
                    and fields.get("uris"):
                print(fields["uris"][0]); sys.exit(0)
    else:
        for line in text.splitlines():
            parts = re.sub(r"\[[^]]*\]", "", line.split("#")[0]).split()
            if len(parts) >= 3 and parts[0] == "deb" and parts[2] == suite:
                print(parts[1]); sys.exit(0)
sys.exit("no 'deb' source for suite %s in /etc/apt" % suite)
PY
}

# base_root: prints the path of the cached debootstrap root, creating it when needed.
base_root() {
  local dir=$CACHE_DIR/base-$GUEST_SUITE mirror stamp
  mirror=$(guest_mirror)
  stamp="debootstrap --variant=minbase --include=$GUEST_BASE_PACKAGES $GUEST_SUITE $mirror"
  if [[ -f $dir/.vnuma-stamp && $(cat "$dir/.vnuma-stamp") == "$stamp" ]]; then
    echo "$dir"; return 0
  fi
  mkdir -p "$CACHE_DIR"
  rm -rf --one-file-system "$dir" "$dir.tmp"
  echo "debootstrap into $dir from $mirror (cached for later runs)" >&2
  if ! timeout "$DEBOOTSTRAP_TIMEOUT" debootstrap --variant=minbase --include="$GUEST_BASE_PACKAGES" \
      "$GUEST_SUITE" "$dir.tmp" "$mirror" >"$CACHE_DIR/debootstrap.log" 2>&1; then
    tail -20 "$CACHE_DIR/debootstrap.log" >&2
    die "debootstrap failed (log: $CACHE_DIR/debootstrap.log)"
  fi
  echo "$stamp" >"$dir.tmp/.vnuma-stamp"
  mv "$dir.tmp" "$dir"
  echo "$dir"
}

# deb_depends <deb...>: package names from the Depends: of the debs (first alternative,
# versions dropped), sorted, one per line.
deb_depends() {
  local deb
  for deb in "$@"; do dpkg-deb -f "$deb" Depends; done | tr ',' '\n' |
    sed -E 's/\|.*//; s/\(.*\)//; s/:any//; s/^[[:space:]]+//; s/[[:space:]]+$//' | grep -v '^$' | sort -u
}

# with_chroot_mounts <root> <command...>: runs the command with /proc mounted in <root> (dpkg,
# apt and systemctl inside it need it), unmounting it afterwards whatever happens.
with_chroot_mounts() {
  local root=$1 rc=0; shift
  mount -t proc proc "$root/proc"
  "$@" || rc=$?
  umount -l "$root/proc" || true
  return $rc
}

# deps_root <deb...>: prints the path of a cached root = base + the debs' dependencies.
deps_root() {
  local base deps hash dir
  base=$(base_root)
  deps=$(deb_depends "$@")
  hash=$(printf '%s\n%s\n' "$(cat "$base/.vnuma-stamp")" "$deps" | sha256sum | cut -c1-12)
  dir=$CACHE_DIR/deps-$hash
  if [[ -f $dir/.vnuma-deps ]]; then echo "$dir"; return 0; fi
  rm -rf --one-file-system "$dir" "$dir.tmp"
  cp -a "$base" "$dir.tmp"
  cp /etc/resolv.conf "$dir.tmp/etc/resolv.conf"
  local deps_line; deps_line=$(tr '\n' ' ' <<<"$deps")
  echo "installing into $dir: $deps_line" >&2
  if ! with_chroot_mounts "$dir.tmp" timeout "$APT_TIMEOUT" chroot "$dir.tmp" /bin/sh -c \
      "export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq --no-install-recommends $deps_line && apt-get clean" \
      >"$CACHE_DIR/deps-$hash.log" 2>&1; then
    tail -20 "$CACHE_DIR/deps-$hash.log" >&2
    rm -rf --one-file-system "$dir.tmp"
    die "installing the dependencies into the guest root failed (log: $CACHE_DIR/deps-$hash.log)"
  fi
  echo "$deps" >"$dir.tmp/.vnuma-deps"
  mv "$dir.tmp" "$dir"
  echo "$dir"
}

# clone_root <cached root> <destination>
clone_root() {
  cp -a --reflink=auto "$1" "$2"
}
