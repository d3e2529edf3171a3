"""Recomputes every round of a federated job from the sites' dumped deltas.

For FedAvg with server learning rate 1, the global adapter after round r must
equal the adapter of round r plus the weighted mean of the sites' clipped
deltas, within one quantisation step (secure aggregation rounds each value
stochastically to a multiple of clip_bound / (2^(bits-1) - 1)).

Each round is recomputed from the sites that the job history lists as
participating, in the attempt that completed, so a round that lost a site
checks that secure aggregation removed the dropped site's masks. Each site's
reported clipped_values must equal the count of its delta's values outside
[-clip_bound, clip_bound].

Usage: check_aggregate.py WORK_DIR DUMP_DIR SITES
"""
import json
import struct
import sys

import numpy as np

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
MODULE = {"q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn",
          "o_proj": "self_attn", "gate_proj": "mlp", "up_proj": "mlp", "down_proj": "mlp"}


def read_floats(path):
    return np.fromfile(path, dtype="<f4")


def read_safetensors(path):
    with open(path, "rb") as handle:
        size = struct.unpack("<Q", handle.read(8))[0]
        header = json.loads(handle.read(size))
        data = handle.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        tensors[name] = np.frombuffer(data[begin:end], dtype="<f4").reshape(entry["shape"])
    return tensors


def arena_from_peft(path, targets, layers):
    """Lays PEFT tensors out as the trainer's arena: every A, then every B."""
    tensors = read_safetensors(path)
    parts = []
    for kind in ("A", "B"):
        for target in TARGETS:
            if target not in targets:
                continue
            for layer in range(layers):
                key = "base_model.model.model.layers.%d.%s.%s.lora_%s.weight" % (
                    layer, MODULE[target], target, kind)
                parts.append(tensors[key].ravel())
    return np.concatenate(parts)


def main():
    work, dump, sites = sys.argv[1], sys.argv[2], int(sys.argv[3])
    job = json.load(open(work + "/job.json"))
    secagg = job["secure_aggregation"]
    step = secagg["clip_bound"] / (2 ** (secagg["bits"] - 1) - 1)
    rounds = job["rounds"]
    layers = job["base_model"]["config"]["num_hidden_layers"]
    all_names = ["site-%d" % (i + 1) for i in range(sites)]
    history = json.load(open("%s/state/coordinator/jobs/%s/history.json" % (work, job["id"])))
    participants, attempts, clipped = {}, {}, {}
    for entry in history["rounds"]:
        if entry["outcome"] == "completed":
            sites_in = [s for s in entry["sites"] if s["participated"]]
            participants[entry["round"]] = [s["site"] for s in sites_in]
            attempts[entry["round"]] = entry.get("attempt", 0)
            clipped[entry["round"]] = {s["site"]: s.get("clipped_values") for s in sites_in}
    failures = 0

    for number in range(1, rounds + 1):
        names = participants.get(number, all_names)
        next_names = participants.get(number + 1, all_names)
        print("round %d (attempt %d): sites %s" % (number, attempts.get(number, 0),
                                                   ", ".join(names)))
        prefix = [dump + "/%s-r%d-a%d-" % (name, number, attempts.get(number, 0))
                  for name in names]
        inputs = [read_floats(p + "adapter.bin") for p in prefix]
        for other in inputs[1:]:
            if not np.array_equal(other, inputs[0]):
                print("FAIL: round %d: sites received different global adapters" % number)
                failures += 1
        raw = [read_floats(p + "delta.bin") for p in prefix]
        for name, delta in zip(names, raw):
            outside = int(np.count_nonzero(np.abs(delta) > np.float32(secagg["clip_bound"])))
            reported = clipped.get(number, {}).get(name)
            print("round %d: %s clipped %d values, reported %s" % (number, name, outside, reported))
            if reported is not None and reported != outside:
                print("FAIL: round %d: %s reported %d clipped values, its delta has %d"
                      % (number, name, reported, outside))
                failures += 1
        deltas = [np.clip(delta, -secagg["clip_bound"], secagg["clip_bound"]) for delta in raw]
        weights = [min(json.load(open(p + "metrics.json"))["examples"], secagg["max_weight"])
                   for p in prefix]
        mean = sum(w * d.astype(np.float64) for w, d in zip(weights, deltas)) / sum(weights)
        expected = inputs[0].astype(np.float64) + mean

        if number < rounds:
            actual = read_floats(dump + "/%s-r%d-a%d-adapter.bin"
                                 % (next_names[0], number + 1, attempts.get(number + 1, 0)))
        else:
            peft = "%s/state/coordinator/jobs/%s/round-%d/adapter/adapter_model.safetensors" % (
                work, job["id"], number)
            actual = arena_from_peft(peft, job["lora"]["targets"], layers)
        difference = float(np.max(np.abs(actual.astype(np.float64) - expected)))
        print("round %d: max |global - (previous + weighted mean delta)| = %.3g (step %.3g)"
              % (number, difference, step))
        if difference > step * 1.001 + 1e-7:
            print("FAIL: round %d differs by more than one quantisation step" % number)
            failures += 1
        if float(np.max(np.abs(mean))) == 0.0:
            print("FAIL: round %d: the sites' deltas are all zero" % number)
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
