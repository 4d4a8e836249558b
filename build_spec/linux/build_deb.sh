#!/usr/bin/env bash
# Package the PyInstaller one-folder bundle as a .deb with dpkg-deb (no Debian tooling beyond dpkg).
#
#   build_spec/linux/build_deb.sh <bundle-dir> <icons-dir> <version> <out-dir>
#
# Installs the bundle under /opt/mirari, a /usr/bin/mirari symlink, the .desktop entry and the icons
# (hicolor PNGs + the SVG) under /usr/share. Prints the path of the .deb it wrote.
# DEB_COMPRESSION: dpkg-deb's -Z (default xz, the smallest; tests use none, the fastest).
set -euo pipefail
BUNDLE="$(cd "$1" && pwd)"; ICONS="$(cd "$2" && pwd)"; VERSION="$3"; OUT="$(mkdir -p "$4" && cd "$4" && pwd)"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[ -x "$BUNDLE/mirari" ] || { echo "build_deb: $BUNDLE/mirari is not an executable bundle" >&2; exit 1; }
ARCH="$(dpkg --print-architecture)"
DEB_VERSION="${VERSION//+/\~}"   # a local version like 0+unknown is not a valid Debian upstream version

STAGE="$(mktemp -d)"; trap 'rm -rf "$STAGE"' EXIT
ROOTFS="$STAGE/root"
mkdir -p "$ROOTFS/opt" "$ROOTFS/usr/bin" "$ROOTFS/usr/share/applications" "$ROOTFS/DEBIAN"
cp -a "$BUNDLE" "$ROOTFS/opt/mirari"
ln -s /opt/mirari/mirari "$ROOTFS/usr/bin/mirari"
install -m 0644 "$HERE/mirari.desktop" "$ROOTFS/usr/share/applications/mirari.desktop"
for png in "$ICONS"/mirari-*.png; do
  size="$(basename "$png" .png)"; size="${size#mirari-}"
  [ "$size" -le 512 ] || continue   # hicolor stops at 512x512
  install -D -m 0644 "$png" "$ROOTFS/usr/share/icons/hicolor/${size}x${size}/apps/mirari.png"
done
install -D -m 0644 "$HERE/../../desktop/assets/mirari.svg" "$ROOTFS/usr/share/icons/hicolor/scalable/apps/mirari.svg"
chmod -R u+rwX,go+rX,go-w "$ROOTFS/opt/mirari"

# The newest glibc symbol version any bundled binary needs: the one system library we must require.
GLIBC_MIN="$(find "$ROOTFS/opt/mirari" -type f \( -name '*.so*' -o -name mirari \) -exec objdump -T {} + 2>/dev/null \
  | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1 || true)"
LIBC_DEP="libc6${GLIBC_MIN:+ (>= $GLIBC_MIN)}"

cat > "$ROOTFS/DEBIAN/control" <<CONTROL
Package: mirari
Version: $DEB_VERSION
Architecture: $ARCH
Maintainer: MIRARI Desktop <mirari@localhost>
Installed-Size: $(du -sk "$ROOTFS" | cut -f1)
Depends: $LIBC_DEP, libxcb1, libgl1, libegl1
Recommends: fonts-dejavu-core | fonts-liberation2, xdg-desktop-portal
Suggests: gnome-keyring | kwalletmanager
Section: utils
Priority: optional
Homepage: https://github.com/mirari-desktop/mirari-desktop
Description: local-first desktop workbench for growing your own LLM agent
 MIRARI talks to OpenAI-compatible endpoints and keeps what it learns:
 chats, long-term memory, skills and mirror reviews, in a local SQLite
 database that syncs with your own Supabase project when you sign in.
 API keys stay in the system keychain.
CONTROL

DEB="$OUT/mirari_${DEB_VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group "-Z${DEB_COMPRESSION:-xz}" --build "$ROOTFS" "$DEB" >/dev/null
echo "$DEB"
