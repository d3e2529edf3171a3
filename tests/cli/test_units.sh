#!/usr/bin/env bash
# The systemd units pass systemd-analyze verify, with their programs pointed
# at this build, and cmake --install places everything they name.
set -u
build=${1:?usage: test_units.sh BUILD_DIR}
source_dir=${FL_SOURCE_DIR:?FL_SOURCE_DIR must name the source tree}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

if ! command -v systemd-analyze >/dev/null; then
    echo "FAIL: systemd-analyze is missing (Debian package systemd)"
    exit 1
fi

for unit in fedlora-coordinator fedlora-agent; do
    sed "s|/usr/local/bin|$build/bin|g" "$source_dir/config/systemd/$unit.service" \
        >"$work/$unit.service"
    if ! systemd-analyze verify "$work/$unit.service" >"$work/verify.txt" 2>&1; then
        echo "FAIL: $unit.service: $(cat "$work/verify.txt")"
        failures=$((failures + 1))
    fi
done

DESTDIR="$work/root" cmake --install "$build" --prefix /usr/local >/dev/null || {
    echo "FAIL: cmake --install failed"
    failures=$((failures + 1))
}
for file in bin/fedlora bin/fedlora-coordinator bin/fedlora-agent \
    share/fedlora/fedlora-agent.service share/fedlora/fedlora-coordinator.service; do
    [ -e "$work/root/usr/local/$file" ] || {
        echo "FAIL: cmake --install did not place $file"
        failures=$((failures + 1))
    }
done

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "systemd units verified"
