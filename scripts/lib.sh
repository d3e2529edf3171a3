# Shared by the scripts in this folder: package installation and the build.
# Source it; do not run it.

FEDLORA_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Debian 12 packages that building, testing and running fedlora need.
FEDLORA_PACKAGES=(
    build-essential cmake pkg-config
    libzmq3-dev libprotobuf-c-dev protobuf-c-compiler libsodium-dev libopenblas-dev
    libjansson-dev libpcre2-dev libutf8proc-dev libcmocka-dev
    clang libclang-rt-14-dev
    python3 python3-torch python3-numpy
    chromium systemd
)

# Node.js runs the reference tokenizer (@lenml/tokenizers) of the tokenizer
# parity tests and benchmark. Debian ships it as nodejs plus npm; other builds
# (NodeSource) put npm inside their nodejs package and conflict with Debian's
# npm, so the packages are only requested when the commands are missing.
if ! command -v node >/dev/null; then
    FEDLORA_PACKAGES+=(nodejs npm)
elif ! command -v npm >/dev/null; then
    FEDLORA_PACKAGES+=(npm)
fi

# Installs the packages in FEDLORA_PACKAGES (and any given as arguments) that
# are missing, and only those.
fl_install_packages() {
    local wanted=("${FEDLORA_PACKAGES[@]}" "$@")
    local missing=()
    local package
    for package in "${wanted[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$package")
        fi
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        echo "All ${#wanted[@]} required Debian packages are installed."
        return 0
    fi

    echo "Installing missing Debian packages: ${missing[*]}"
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null; then
            echo "error: need root or sudo to install: ${missing[*]}" >&2
            echo "       install them as root, then run this script again." >&2
            return 1
        fi
        sudo=sudo
    fi
    $sudo apt-get update -q || return 1
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
        "${missing[@]}" || return 1
}

# fl_npm_ci DIR: installs DIR's npm packages from its package-lock.json when
# node_modules is missing or older than the lock file.
fl_npm_ci() {
    local dir=$1
    local stamp="$dir/node_modules/.package-lock.json"
    if [ -f "$stamp" ] && [ ! "$dir/package-lock.json" -nt "$stamp" ]; then
        return 0
    fi
    echo "Installing npm packages in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || {
        echo "error: npm ci failed in $dir; check that the npm registry is reachable" >&2
        return 1
    }
}

# fl_build DIR [cmake options...]: configures and builds the project in DIR.
fl_build() {
    local dir=$1
    shift
    cmake -S "$FEDLORA_ROOT" -B "$dir" "$@" >"$dir.configure.log" 2>&1 || {
        cat "$dir.configure.log" >&2
        echo "error: cmake configure failed; see $dir.configure.log" >&2
        return 1
    }
    cmake --build "$dir" -j "$(nproc)"
}

# Prints a free TCP port on 127.0.0.1.
fl_free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# fl_wait_job JOB_STATE_DIR SECONDS: prints each round of the job as the
# coordinator records it (outcome, duration, each site's validation loss
# before training) and returns when the job ends; fails unless it completed.
fl_wait_job() {
    /usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys, time
state, limit = sys.argv[1], float(sys.argv[2])
shown, deadline = 0, time.time() + limit
while time.time() < deadline:
    try:
        status = json.load(open(state + "/state.json"))["status"]
        rounds = json.load(open(state + "/history.json"))["rounds"]
    except (OSError, ValueError):
        time.sleep(0.5)
        continue
    for record in rounds[shown:]:
        losses = "  ".join("%s %.3f" % (s["site"], s["val_loss"]) for s in record["sites"]
                           if "val_loss" in s)
        print("round %d %-9s %5.1f s  validation loss before training: %s" % (
            record["round"], record["outcome"], record["duration_s"], losses), flush=True)
    shown = len(rounds)
    if status in ("completed", "failed", "aborted"):
        sys.exit(0 if status == "completed" else "the job ended as " + status)
    time.sleep(0.5)
sys.exit("the job did not finish within %.0f s" % limit)
PY
}
