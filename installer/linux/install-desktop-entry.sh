#!/bin/sh
# Add SegLab to the desktop's application menu for the current user (no root needed), or remove it again.
#
#   ./install-desktop-entry.sh [APP_DIR]        # APP_DIR: the folder holding the SegLab executable
#   ./install-desktop-entry.sh --uninstall
#
# APP_DIR defaults to this script's folder when SegLab sits beside it (the script is copied into the built
# bundle), else to dist/SegLab of the checkout this script belongs to.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
data_home=${XDG_DATA_HOME:-$HOME/.local/share}
applications="$data_home/applications"
icons="$data_home/icons/hicolor/256x256/apps"
bin_dir="$HOME/.local/bin"

refresh() {
    command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$applications" || true
    command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$data_home/icons/hicolor" || true
}

if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$applications/seglab.desktop" "$icons/seglab.png"
    [ -L "$bin_dir/seglab" ] && rm -f "$bin_dir/seglab"
    refresh
    echo "SegLab removed from the application menu (the application folder itself was left alone)."
    exit 0
fi

if [ $# -ge 1 ]; then
    app_dir=$1
elif [ -x "$here/SegLab" ]; then
    app_dir=$here
else
    app_dir="$here/../../dist/SegLab"
fi
if [ ! -x "$app_dir/SegLab" ]; then
    echo "No SegLab executable in $app_dir: build it first (python3.11 installer/build.py) or name its folder." >&2
    exit 2
fi
app_dir=$(cd "$app_dir" && pwd)

mkdir -p "$applications" "$icons" "$bin_dir"
sed "s|@APP_DIR@|$app_dir|g" "$here/seglab.desktop" > "$applications/seglab.desktop"
chmod 644 "$applications/seglab.desktop"
cp "$here/seglab.png" "$icons/seglab.png"
ln -sf "$app_dir/SegLab" "$bin_dir/seglab"
refresh
echo "SegLab is in the application menu; 'seglab' runs it from a terminal (if $bin_dir is on your PATH)."
