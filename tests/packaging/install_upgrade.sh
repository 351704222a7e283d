#!/usr/bin/env bash
# packaging.deb_install_upgrade / packaging.rpm_install_upgrade: installs each package into a
# clone of a Debian 12 debootstrap root (with the package's dependencies) and runs its real
# maintainer scripts (dpkg inside the root / rpm --root, which chroots for scriptlets):
#   install    -> files, state dir 0750, CURVE key pair generated (secret 0600), unit enabled
#   change the config, upgrade to the release-bumped package
#              -> changed config kept (no .dpkg-dist/.rpmnew), same keys, unit still enabled
#   remove     -> binary and unit gone, unit disabled, config and keys kept (rpm: .rpmsave)
#   deb only: reinstall -> enabled again with the same keys; purge -> config, keys, dirs gone
# Usage: install_upgrade.sh deb|rpm
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/guestroot.sh"
fmt=${1:?usage: $0 deb|rpm}
[[ $fmt == deb || $fmt == rpm ]] || die "usage: $0 deb|rpm"
make_workdir "$fmt-install"

# Z85 alphabet (ZeroMQ RFC 32), 40 characters for a CURVE key.
z85_key='^[][0-9a-zA-Z.:+=^!/*?&<>(){}@%$#-]{40}$'

in_root() { with_chroot_mounts "$root" timeout 300 chroot "$root" "$@"; }
pkg_install() {  # pkg_install <package file>
  local f; f=/tmp/$(basename "$1")
  cp "$1" "$root$f"
  if [[ $fmt == deb ]]; then
    in_root env DEBIAN_FRONTEND=noninteractive dpkg -i "$f"
  else
    local op=-i
    rpm --root "$root" --dbpath /var/lib/rpm -q "$pkg" >/dev/null 2>&1 && op=-U
    with_chroot_mounts "$root" timeout 300 rpm --root "$root" --dbpath /var/lib/rpm "$op" --nodeps "$root$f"
  fi
}
pkg_remove() {
  if [[ $fmt == deb ]]; then in_root dpkg -r "$pkg"
  else with_chroot_mounts "$root" timeout 300 rpm --root "$root" --dbpath /var/lib/rpm -e --nodeps "$pkg"; fi
}
pkg_version() {
  if [[ $fmt == deb ]]; then chroot "$root" dpkg-query -W -f '${Status} ${Version}' "$pkg" 2>/dev/null || true
  else rpm --root "$root" --dbpath /var/lib/rpm -q --qf '%{VERSION}-%{RELEASE}' "$pkg" 2>/dev/null || true; fi
}
expect_version() {
  local want=$1 got; got=$(pkg_version)
  [[ $got == *"$want" ]] || die "$pkg: installed version '$got', expected '$want'"
}
enabled_link() { echo "$root/etc/systemd/system/multi-user.target.wants/$pkg.service"; }
expect_enabled() {
  [[ -L $(enabled_link) ]] || die "$pkg.service is not enabled after $1"
  [[ $(readlink "$(enabled_link)") == */systemd/system/$pkg.service ]] || die "bad enable link $(readlink "$(enabled_link)")"
}
keys_digest() { sha256sum "$root/etc/vnuma/$key.key" "$root/etc/vnuma/$key.pub" | awk '{print $1}'; }

for pkg in vnuma-agent vnuma-broker; do
  key=$(key_name_of "$pkg")
  config=$(config_of "$pkg")
  if [[ $fmt == deb ]]; then v1=$(deb_file "$pkg"); v2=$(deb_file "$pkg" "$BUMPED_RELEASE")
  else v1=$(rpm_file "$pkg"); v2=$(rpm_file "$pkg" "$BUMPED_RELEASE"); fi
  require_packages "$v1" "$v2"
  root=$WORK/root-$pkg
  step "$pkg: preparing a Debian root with the dependencies of $(basename "$(deb_file "$pkg")")"
  require_packages "$(deb_file "$pkg")"
  clone_root "$(deps_root "$(deb_file "$pkg")")" "$root"

  step "$pkg: install $(basename "$v1")"
  pkg_install "$v1"
  expect_version "$VNUMA_VERSION-$VNUMA_RELEASE"
  [[ -x $root/usr/sbin/$pkg ]] || die "/usr/sbin/$pkg not installed"
  [[ -f $root/lib/systemd/system/$pkg.service ]] || die "unit not installed"
  [[ $(stat -c %a "$root/var/lib/vnuma") == 750 ]] || die "/var/lib/vnuma mode $(stat -c %a "$root/var/lib/vnuma")"
  [[ -f $root/etc/vnuma/$key.key && -f $root/etc/vnuma/$key.pub ]] || die "no key pair in /etc/vnuma after install"
  [[ $(stat -c %a "$root/etc/vnuma/$key.key") == 600 ]] || die "$key.key mode $(stat -c %a "$root/etc/vnuma/$key.key")"
  grep -Eq "$z85_key" "$root/etc/vnuma/$key.pub" || die "$key.pub holds no Z85 CURVE key: $(cat "$root/etc/vnuma/$key.pub")"
  [[ $pkg != vnuma-broker || -d $root/etc/vnuma/agents ]] || die "/etc/vnuma/agents not created"
  expect_enabled install
  keys=$(keys_digest)
  if [[ $fmt == deb ]]; then
    out=$(in_root systemd-analyze verify "$pkg.service" 2>&1) || { echo "$out"; die "systemd-analyze verify in the root failed"; }
    [[ -z $out ]] || { echo "$out"; die "systemd-analyze verify in the root printed warnings"; }
    ok "installed unit passes systemd-analyze verify inside the root"
  fi
  ok "installed: keys generated, state dir, unit enabled"

  [[ -n $config ]] || die "$pkg ships no config file, so the upgrade cannot be checked"
  marker="# local change by packaging.${fmt}_install_upgrade $$"
  echo "$marker" >>"$root$config"

  step "$pkg: upgrade to $(basename "$v2")"
  pkg_install "$v2"
  expect_version "$VNUMA_VERSION-$BUMPED_RELEASE"
  grep -qxF "$marker" "$root$config" || die "upgrade lost the local change in $config"
  leftovers=$(find "$root$(dirname "$config")" -regextype posix-extended -regex '.*\.(dpkg-(dist|new|old)|rpmnew|rpmsave)$')
  [[ -z $leftovers ]] || die "upgrade left $leftovers"
  [[ $(keys_digest) == "$keys" ]] || die "upgrade changed the key pair"
  expect_enabled upgrade
  ok "upgraded: config change kept, keys unchanged, still enabled"

  step "$pkg: remove"
  pkg_remove
  [[ ! -e $root/usr/sbin/$pkg ]] || die "binary left after removal"
  [[ ! -e $root/lib/systemd/system/$pkg.service ]] || die "unit left after removal"
  [[ ! -e $(enabled_link) ]] || die "unit still enabled after removal"
  [[ $(keys_digest) == "$keys" ]] || die "removal touched the key pair"
  if [[ $fmt == deb ]]; then
    [[ $(pkg_version) == "deinstall ok config-files"* ]] || die "state after dpkg -r: $(pkg_version)"
    grep -qxF "$marker" "$root$config" || die "dpkg -r removed the changed config"
  else
    grep -qxF "$marker" "$root$config.rpmsave" || die "rpm -e did not keep the changed config as .rpmsave"
  fi
  ok "removed: disabled, config and keys kept"

  if [[ $fmt == deb ]]; then
    step "$pkg: reinstall, then purge"
    pkg_install "$v2"
    expect_enabled reinstall
    [[ $(keys_digest) == "$keys" ]] || die "reinstall changed the key pair"
    grep -qxF "$marker" "$root$config" || die "reinstall lost the changed config"
    in_root dpkg -P "$pkg"
    [[ -z $(pkg_version) || $(pkg_version) == "unknown"* || $(pkg_version) == "not-installed"* ]] || die "state after purge: $(pkg_version)"
    for f in "$config" "/etc/vnuma/$key.key" "/etc/vnuma/$key.pub" /etc/vnuma /var/lib/vnuma; do
      [[ ! -e $root$f ]] || die "$f left after purge"
    done
    ok "reinstalled (enabled again, same keys), purged (config, keys and directories gone)"
  fi
  rm -rf --one-file-system "$root"
done
