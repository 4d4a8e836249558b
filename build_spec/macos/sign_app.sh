#!/usr/bin/env bash
# Sign MIRARI.app with a Developer ID certificate from the environment (the build workflow's secrets):
#
#   MACOS_CERTIFICATE           base64 of a .p12 holding the "Developer ID Application" certificate and key
#   MACOS_CERTIFICATE_PASSWORD  its password
#   MACOS_SIGNING_IDENTITY      e.g. "Developer ID Application: Example Ltd (AB12CD34EF)"
#   build_spec/macos/sign_app.sh dist/MIRARI.app
#
# The certificate goes into a throwaway keychain (searched by codesign, deleted by the runner), every
# binary inside the bundle is signed with the hardened runtime and a secure timestamp (both required for
# notarization), then the whole is verified.
set -euo pipefail
APP="${1%/}"
: "${MACOS_CERTIFICATE:?}" "${MACOS_CERTIFICATE_PASSWORD:?}" "${MACOS_SIGNING_IDENTITY:?}"
HERE="$(cd "$(dirname "$0")" && pwd)"

KEYCHAIN="${RUNNER_TEMP:-$(mktemp -d)}/mirari-signing.keychain-db"
KEYCHAIN_PASSWORD="$(uuidgen)"
P12="$(mktemp)"
trap 'rm -f "$P12"' EXIT
echo "$MACOS_CERTIFICATE" | base64 --decode > "$P12"
security create-keychain -p "$KEYCHAIN_PASSWORD" "$KEYCHAIN"
security set-keychain-settings -lut 21600 "$KEYCHAIN"
security unlock-keychain -p "$KEYCHAIN_PASSWORD" "$KEYCHAIN"
security import "$P12" -k "$KEYCHAIN" -P "$MACOS_CERTIFICATE_PASSWORD" -T /usr/bin/codesign
security set-key-partition-list -S apple-tool:,apple: -s -k "$KEYCHAIN_PASSWORD" "$KEYCHAIN" >/dev/null
# Keep the login keychain in the search list after ours.
read -r -a existing <<< "$(security list-keychains -d user | tr -d '"' | xargs)"
security list-keychains -d user -s "$KEYCHAIN" "${existing[@]}"

codesign --force --deep --options runtime --timestamp --entitlements "$HERE/entitlements.plist" \
  --keychain "$KEYCHAIN" --sign "$MACOS_SIGNING_IDENTITY" "$APP"
codesign --verify --deep --strict --verbose=2 "$APP"
