#!/usr/bin/env bash
# Every program answers --help and --version, and every subcommand listed by
# `fedlora --help` answers --help with a usage line and exit status 0.
set -u
bin=${1:?usage: test_cli_help.sh BUILD_DIR}/bin
failures=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

for program in fedlora fedlora-coordinator fedlora-agent; do
    "$bin/$program" --help | grep -q "^Usage: $program" || fail "$program --help has no usage line"
    "$bin/$program" --version | grep -Eq "^$program [0-9]+\.[0-9]+" ||
        fail "$program --version prints no version"
done

# Subcommands are the indented lines of the command list: "  NAME [NAME]   summary".
commands=$("$bin/fedlora" --help | sed -n 's/^  \([a-z][a-z-]*\( [a-z][a-z-]*\)\?\)  .*/\1/p')
[ -n "$commands" ] || fail "fedlora --help lists no subcommands"
while read -r command; do
    [ -n "$command" ] || continue
    # shellcheck disable=SC2086 # a two-word command is two arguments
    output=$("$bin/fedlora" $command --help 2>&1)
    status=$?
    [ "$status" -eq 0 ] || fail "fedlora $command --help exited $status"
    grep -q "^Usage: fedlora $command" <<<"$output" || fail "fedlora $command --help: no usage line"
done <<<"$commands"

"$bin/fedlora" no-such-command 2>/dev/null && fail "an unknown command exited 0"

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "help checked for $(wc -l <<<"$commands") subcommands"
