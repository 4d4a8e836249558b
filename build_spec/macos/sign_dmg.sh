#!/usr/bin/env bash
# Sign the .dmg (with the identity sign_app.sh imported) and, when Apple credentials are set, notarize
# and staple it so Gatekeeper opens it without a warning:
#
#   MACOS_SIGNING_IDENTITY                       as for sign_app.sh (run first)
#   APPLE_ID, APPLE_TEAM_ID, APPLE_APP_PASSWORD  an Apple ID, its team and an app-specific password
#   build_spec/macos/sign_dmg.sh dist/mirari-0.1.0-macos-arm64.dmg
set -euo pipefail
DMG="$1"
: "${MACOS_SIGNING_IDENTITY:?}"
codesign --force --timestamp --sign "$MACOS_SIGNING_IDENTITY" "$DMG"
codesign --verify --verbose=2 "$DMG"
if [ -z "${APPLE_ID:-}" ] || [ -z "${APPLE_TEAM_ID:-}" ] || [ -z "${APPLE_APP_PASSWORD:-}" ]; then
  echo "sign_dmg: APPLE_ID / APPLE_TEAM_ID / APPLE_APP_PASSWORD not all set: signed, not notarized"
  exit 0
fi
xcrun notarytool submit "$DMG" --apple-id "$APPLE_ID" --team-id "$APPLE_TEAM_ID" \
  --password "$APPLE_APP_PASSWORD" --wait --timeout 30m
xcrun stapler staple "$DMG"
xcrun stapler validate "$DMG"
