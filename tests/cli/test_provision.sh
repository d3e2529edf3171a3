#!/usr/bin/env bash
# fedlora provision writes kits the daemons start from; keys are private;
# distributed keys stay with their site; broken kits stop start-up with a
# message that says what to fix.
set -u
bin=${1:?usage: test_provision.sh BUILD_DIR}/bin
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# expect_error OUTPUT PATTERN: OUTPUT must contain PATTERN.
expect_error() {
    grep -qF -- "$2" <<<"$1" || fail "expected '$2' in: $1"
}

mkdir -p "$work/site-c-machine"
"$bin/fedlora" keygen --name hospital-c --out "$work/site-c-machine" >"$work/keygen.txt" ||
    fail "fedlora keygen failed"
grep -q "signing key" "$work/keygen.txt" || fail "keygen printed no fingerprint"
[ "$(stat -c %a "$work/site-c-machine/hospital-c.key")" = 600 ] || fail "keygen key is not 0600"
"$bin/fedlora" keygen --name hospital-c --out "$work/site-c-machine" >/dev/null 2>&1 &&
    fail "keygen replaced an existing key"

echo '{"vocab_size": 64, "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
 "num_attention_heads": 2}' >"$work/size.json"
"$bin/fedlora" init-model --arch llama --config "$work/size.json" --out "$work/model" >/dev/null ||
    fail "init-model failed"

mkdir -p "$work/data"
for site in a b c; do
    echo '{"text": "Patient reports chest pain on exertion."}' >"$work/data/$site.jsonl"
done

cat >"$work/project.json" <<JSON
{"project": "cardio",
 "coordinator": {"endpoint": "tcp://127.0.0.1:7700", "bind": "tcp://127.0.0.1:7700",
                 "state_dir": "coordinator-state"},
 "sites": [{"name": "hospital-a", "train_files": ["data/a.jsonl"], "base_model_dir": "model"},
           {"name": "hospital-b", "train_files": ["data/b.jsonl"], "base_model_dir": "model"},
           {"name": "hospital-c", "public_key_file": "site-c-machine/hospital-c.pub",
            "train_files": ["data/c.jsonl"], "base_model_dir": "model"}],
 "researchers": [{"name": "alice"}]}
JSON

"$bin/fedlora" provision --project "$work/project.json" --out "$work/kits" >"$work/provision.txt" ||
    fail "fedlora provision failed: $(cat "$work/provision.txt")"
[ "$(grep -c "signing .* CURVE" "$work/provision.txt")" -eq 6 ] ||
    fail "expected 6 fingerprint lines (project, coordinator, 3 sites, 1 researcher)"
for key in project/project.key coordinator/coordinator.key sites/hospital-a/site.key \
    sites/hospital-b/site.key researchers/alice/researcher.key; do
    [ "$(stat -c %a "$work/kits/$key" 2>/dev/null)" = 600 ] || fail "$key missing or not 0600"
done
[ -e "$work/kits/sites/hospital-c/site.key" ] && fail "a distributed site's kit holds a secret key"
grep -q "train_files = $work/data/a.jsonl" "$work/kits/sites/hospital-a/agent.conf" ||
    fail "relative train_files not resolved against the project file"

"$bin/fedlora-coordinator" --config "$work/kits/coordinator/coordinator.conf" --check \
    2>"$work/check.txt" || fail "coordinator kit failed --check: $(cat "$work/check.txt")"
for site in hospital-a hospital-b; do
    "$bin/fedlora-agent" --config "$work/kits/sites/$site/agent.conf" --check 2>"$work/check.txt" ||
        fail "$site kit failed --check: $(cat "$work/check.txt")"
done

# The distributed site points its kit at the key it made itself.
sed -i "s|^key_file = .*|key_file = $work/site-c-machine/hospital-c.key|" \
    "$work/kits/sites/hospital-c/agent.conf"
"$bin/fedlora-agent" --config "$work/kits/sites/hospital-c/agent.conf" --check 2>"$work/check.txt" ||
    fail "distributed site failed --check: $(cat "$work/check.txt")"

# A training file the agent cannot open stops start-up, not the first round.
mv "$work/data/b.jsonl" "$work/data/b.moved"
output=$("$bin/fedlora-agent" --config "$work/kits/sites/hospital-b/agent.conf" --check 2>&1) &&
    fail "an agent started without its training file"
expect_error "$output" "train_files: $work/data/b.jsonl: cannot open"
mv "$work/data/b.moved" "$work/data/b.jsonl"

# A private key readable by others stops start-up.
chmod 644 "$work/kits/sites/hospital-a/site.key"
output=$("$bin/fedlora-agent" --config "$work/kits/sites/hospital-a/agent.conf" --check 2>&1) &&
    fail "an agent started with a world-readable key"
expect_error "$output" "chmod 600"
chmod 600 "$work/kits/sites/hospital-a/site.key"

# Another site's key does not match the manifest entry.
cp "$work/kits/sites/hospital-b/site.key" "$work/kits/sites/hospital-a/site.key"
output=$("$bin/fedlora-agent" --config "$work/kits/sites/hospital-a/agent.conf" --check 2>&1) &&
    fail "an agent started with another site's key"
expect_error "$output" "other public keys for site 'hospital-a'"

# A manifest edited after signing is rejected.
sed -i 's/"hospital-b"/"hospital-x"/' "$work/kits/sites/hospital-b/manifest.json"
output=$("$bin/fedlora-agent" --config "$work/kits/sites/hospital-b/agent.conf" --check 2>&1) &&
    fail "an agent accepted an altered manifest"
expect_error "$output" "signature does not match"

output=$("$bin/fedlora" provision --project "$work/project.json" --out "$work/kits" 2>&1) &&
    fail "provisioning twice into one folder succeeded"
expect_error "$output" "choose an empty --out folder"

sed 's/"hospital-b"/"hospital-a"/' "$work/project.json" >"$work/duplicate.json"
output=$("$bin/fedlora" provision --project "$work/duplicate.json" --out "$work/dup" 2>&1) &&
    fail "a project with a duplicate site was provisioned"
expect_error "$output" "listed twice"

cat >"$work/two.json" <<JSON
{"project": "p", "coordinator": {"endpoint": "tcp://127.0.0.1:7700"},
 "sites": [{"name": "a"}, {"name": "b"}], "researchers": [{"name": "r"}]}
JSON
output=$("$bin/fedlora" provision --project "$work/two.json" --out "$work/two" 2>&1) &&
    fail "a project with two sites was provisioned"
expect_error "$output" "at least 3"

sed 's/"researchers"/"researcher"/' "$work/project.json" >"$work/typo.json"
output=$("$bin/fedlora" provision --project "$work/typo.json" --out "$work/typo" 2>&1) &&
    fail "a project file with a typo was accepted"
expect_error "$output" "unknown field 'researcher'"

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "provisioning checks passed"
