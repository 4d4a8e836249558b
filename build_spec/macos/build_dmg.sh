#!/usr/bin/env bash
# Wrap the PyInstaller app bundle in a compressed .dmg with an /Applications drop link (hdiutil).
#
#   build_spec/macos/build_dmg.sh <dist/MIRARI.app> <version> <out-dir>
#
# Checks first that the Info.plist written by the spec's BUNDLE is valid and carries the bundle id and
# the version being released. Prints the path of the .dmg it wrote.
set -euo pipefail
APP="${1%/}"; VERSION="$2"; OUT="$(mkdir -p "$3" && cd "$3" && pwd)"
PLIST="$APP/Contents/Info.plist"
[ -f "$PLIST" ] || { echo "build_dmg: $PLIST not found — build the spec on macOS first" >&2; exit 1; }
plutil -lint "$PLIST" >/dev/null
read_plist() { /usr/libexec/PlistBuddy -c "Print :$1" "$PLIST"; }
[ "$(read_plist CFBundleIdentifier)" = "app.mirari.desktop" ] || { echo "build_dmg: wrong bundle id" >&2; exit 1; }
[ "$(read_plist CFBundleShortVersionString)" = "$VERSION" ] \
  || { echo "build_dmg: Info.plist says $(read_plist CFBundleShortVersionString), expected $VERSION" >&2; exit 1; }
[ -f "$APP/Contents/Resources/$(read_plist CFBundleIconFile)" ] || { echo "build_dmg: icon missing" >&2; exit 1; }

STAGE="$(mktemp -d)"; trap 'rm -rf "$STAGE"' EXIT
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"
DMG="$OUT/mirari-$VERSION-macos-$(uname -m).dmg"
hdiutil create -quiet -volname "MIRARI $VERSION" -srcfolder "$STAGE" -fs HFS+ -format UDZO -ov "$DMG"
echo "$DMG"
