"""PEFT interoperability reference for the trainer's adapter files.

Usage:
  peft_reference.py model DIR   writes a random Llama model and a batch (batch.json)
  peft_reference.py check DIR   checks DIR/exported (written by the C trainer) against PEFT's
                                layout, reproduces the C loss with W + scaling * B A, and writes
                                DIR/from_torch, an adapter in PEFT naming, with its loss
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import parity_reference as ref  # noqa: E402

TARGETS = ref.TARGETS


def load_model(folder):
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    return cfg, ref.read_safetensors(os.path.join(folder, "model.safetensors"))


def loss_of(P, cfg, batch):
    """Mean cross-entropy over the batch's rows, each row one record."""
    total, count = 0.0, 0
    T = batch["T"]
    for row in range(batch["B"]):
        span = slice(row * T, (row + 1) * T)
        tokens = [t for t, s in zip(batch["tokens"][span], batch["segments"][span]) if s >= 0]
        targets = batch["targets"][span][:len(tokens)]
        logits = ref.forward(P, None, cfg, tokens)
        total += torch.nn.functional.cross_entropy(logits, torch.tensor(targets),
                                                   ignore_index=ref.IGNORE, reduction="sum").item()
        count += sum(1 for t in targets if t != ref.IGNORE)
    return total / count


def merged(P, cfg, adapter_dir):
    with open(os.path.join(adapter_dir, "adapter_config.json")) as f:
        acfg = json.load(f)
    lora = ref.read_safetensors(os.path.join(adapter_dir, "adapter_model.safetensors"))
    r = acfg["r"]
    scaling = acfg["lora_alpha"] / (math.sqrt(r) if acfg.get("use_rslora") else r)
    out = dict(P)
    for key, a in lora.items():
        if ".lora_A." not in key:
            continue
        base = key.replace("base_model.model.", "", 1).replace(".lora_A.weight", ".weight")
        b = lora[key.replace("lora_A", "lora_B")]
        out[base] = P[base] + scaling * (b @ a)
    return out, acfg, lora


def command_model(folder):
    os.makedirs(folder, exist_ok=True)
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
           "vocab_size": 53, "hidden_size": 32, "intermediate_size": 40, "num_hidden_layers": 2,
           "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8,
           "max_position_embeddings": 128, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
           "rope_scaling": None, "tie_word_embeddings": False}
    P = ref.random_model(cfg, False)
    ref.write_model(folder, cfg, P, False, 1)
    records = ref.make_records(cfg["vocab_size"], [9, 6, 8])
    with open(os.path.join(folder, "batch.json"), "w") as f:
        json.dump(ref.unpacked_batch(records), f)


def check_exported(folder, cfg, P, batch):
    exported = os.path.join(folder, "exported")
    model, acfg, lora = merged(P, cfg, exported)
    for key, value in [("peft_type", "LORA"), ("task_type", "CAUSAL_LM"), ("bias", "none"),
                       ("fan_in_fan_out", False)]:
        assert acfg[key] == value, f"adapter_config.json: {key} is {acfg[key]!r}, expected {value!r}"
    for key in ["r", "lora_alpha", "lora_dropout", "target_modules", "use_rslora",
                "base_model_name_or_path", "inference_mode"]:
        assert key in acfg, f"adapter_config.json: missing {key}"
    assert sorted(acfg["target_modules"]) == sorted(TARGETS), acfg["target_modules"]

    r = acfg["r"]
    H, I = cfg["hidden_size"], cfg["intermediate_size"]
    QD = cfg["num_attention_heads"] * cfg["head_dim"]
    KVD = cfg["num_key_value_heads"] * cfg["head_dim"]
    shapes = {"q_proj": (QD, H), "k_proj": (KVD, H), "v_proj": (KVD, H), "o_proj": (H, QD),
              "gate_proj": (I, H), "up_proj": (I, H), "down_proj": (H, I)}
    expected_keys = set()
    for l in range(cfg["num_hidden_layers"]):
        for t in TARGETS:
            module = "self_attn" if t in TARGETS[:4] else "mlp"
            key = f"base_model.model.model.layers.{l}.{module}.{t}"
            out, inp = shapes[t]
            assert tuple(lora[key + ".lora_A.weight"].shape) == (r, inp), key
            assert tuple(lora[key + ".lora_B.weight"].shape) == (out, r), key
            expected_keys |= {key + ".lora_A.weight", key + ".lora_B.weight"}
    assert set(lora) == expected_keys, sorted(set(lora) ^ expected_keys)

    with open(os.path.join(folder, "c_loss.txt")) as f:
        c_loss = float(f.read())
    torch_loss = loss_of(model, cfg, batch)
    diff = abs(torch_loss - c_loss) / abs(torch_loss)
    print(f"exported adapter: C loss {c_loss:.7f}, PyTorch W + scaling*B*A loss {torch_loss:.7f}, "
          f"relative difference {diff:.3g}")
    assert diff < 1e-5, "exported adapter does not reproduce the C loss"


def write_from_torch(folder, cfg, P, batch):
    out_dir = os.path.join(folder, "from_torch")
    os.makedirs(out_dir, exist_ok=True)
    targets = ["q_proj", "v_proj", "gate_proj"]
    lora = ref.random_adapter(cfg, targets, 3)
    ref.write_safetensors(os.path.join(out_dir, "adapter_model.safetensors"), lora)
    with open(os.path.join(out_dir, "adapter_config.json"), "w") as f:
        json.dump({"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 3, "lora_alpha": 5,
                   "lora_dropout": 0.05, "target_modules": targets, "bias": "none",
                   "fan_in_fan_out": False, "use_rslora": True, "base_model_name_or_path": "x",
                   "inference_mode": True, "modules_to_save": None}, f)
    model, _, _ = merged(P, cfg, out_dir)
    loss = loss_of(model, cfg, batch)
    with open(os.path.join(folder, "torch_loss.txt"), "w") as f:
        f.write(f"{loss:.9f}\n")
    print(f"adapter written by PyTorch: loss {loss:.7f}")


def main():
    command, folder = sys.argv[1], sys.argv[2]
    if command == "model":
        command_model(folder)
        return
    cfg, P = load_model(folder)
    with open(os.path.join(folder, "batch.json")) as f:
        batch = json.load(f)
    check_exported(folder, cfg, P, batch)
    write_from_torch(folder, cfg, P, batch)


if __name__ == "__main__":
    main()
