#!/bin/sh
# macOS: build dist/SegLab.app and wrap it in a disk image, dist/SegLab-<version>.dmg.
# Run from anywhere on a Mac with Python 3.11+ (Apple silicon or Intel); see installer/README.md.
#
#   installer/macos/make_dmg.sh                       # unsigned: users right-click > Open the first time
#   SEGLAB_SIGN_ID="Developer ID Application: Lab (TEAMID)" installer/macos/make_dmg.sh   # signed
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
python3 installer/build.py "$@"
app=dist/SegLab.app
[ -d "$app" ] || { echo "PyInstaller did not produce $app" >&2; exit 1; }

if [ -n "${SEGLAB_SIGN_ID:-}" ]; then
    # Hardened runtime for notarisation; torch and Qt load their own libraries, so library validation is relaxed.
    codesign --force --deep --options runtime --timestamp \
        --entitlements installer/macos/entitlements.plist --sign "$SEGLAB_SIGN_ID" "$app"
    codesign --verify --deep --strict "$app"
fi

version=$(python3 -c "import core; print(core.__version__)")
dmg="dist/SegLab-$version.dmg"
rm -f "$dmg"
staging=$(mktemp -d)
cp -R "$app" "$staging/"
ln -s /Applications "$staging/Applications"
hdiutil create -volname "SegLab $version" -srcfolder "$staging" -ov -format UDZO "$dmg"
rm -rf "$staging"
echo "wrote $dmg"
echo "notarise (signed builds): xcrun notarytool submit $dmg --keychain-profile <profile> --wait && xcrun stapler staple $dmg"
