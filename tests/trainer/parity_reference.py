"""Reference decoder in plain PyTorch for the trainer's parity tests.

Usage: parity_reference.py OUT_DIR
Writes one folder per case under OUT_DIR, each with a random Hugging Face
model (config.json + safetensors written here with struct and json), a PEFT
adapter with random A and B, the batches (case.json) and the reference
results of one training step (expected.safetensors): logits, loss, the
gradient of every trained tensor and its value after one AdamW step.

The packed batch puts two records in row 0 and one record plus padding in
row 1; the reference runs every record alone, so the C trainer's packed
result must equal unpacked training.
"""
import json
import math
import os
import struct
import sys

import torch

torch.manual_seed(1234)
torch.set_num_threads(1)

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
IGNORE = -100


# ---------------------------------------------------------------------------
# safetensors without the safetensors package


def write_safetensors(path, tensors, dtype="F32"):
    header = {"__metadata__": {"format": "pt"}}
    blobs = []
    offset = 0
    for name, tensor in tensors.items():
        tensor = tensor.detach().contiguous()
        if dtype == "BF16":
            raw = tensor.to(torch.bfloat16).view(torch.int16).numpy().tobytes()
        else:
            raw = tensor.float().numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    base = 8 + length
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        assert entry["dtype"] == "F32", entry["dtype"]
        values = torch.frombuffer(bytearray(data[base + begin:base + end]), dtype=torch.float32)
        out[name] = values.reshape(entry["shape"]).clone()
    return out


# ---------------------------------------------------------------------------
# the model


def inv_freq_of(cfg):
    dim = cfg["head_dim"]
    base = cfg["rope_theta"]
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    scaling = cfg.get("rope_scaling") or {}
    kind = scaling.get("rope_type", scaling.get("type"))
    if kind == "linear":
        inv_freq = inv_freq / scaling["factor"]
    elif kind == "llama3":
        factor = scaling["factor"]
        low = scaling["low_freq_factor"]
        high = scaling["high_freq_factor"]
        old = scaling["original_max_position_embeddings"]
        low_wavelen = old / low
        high_wavelen = old / high
        wavelen = 2 * math.pi / inv_freq
        llama = torch.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * llama / factor + smooth * llama
        medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
        inv_freq = torch.where(medium, smoothed, llama)
    return inv_freq


def rmsnorm(x, weight, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def linear(P, lora, cfg, x, layer, module, target):
    prefix = f"model.layers.{layer}.{module}.{target}"
    y = x @ P[prefix + ".weight"].t()
    if prefix + ".bias" in P:
        y = y + P[prefix + ".bias"]
    key = f"base_model.model.{prefix}"
    if lora is not None and key + ".lora_A.weight" in lora:
        a = lora[key + ".lora_A.weight"]
        b = lora[key + ".lora_B.weight"]
        y = y + cfg["lora_scaling"] * ((x @ a.t()) @ b.t())
    return y


def forward(P, lora, cfg, tokens):
    """Logits [T, V] of one record (positions 0..T-1, causal attention)."""
    T = len(tokens)
    H, nh, nkv, hd = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    eps = cfg["rms_norm_eps"]
    x = P["model.embed_tokens.weight"][torch.tensor(tokens)]
    freqs = torch.arange(T).float()[:, None] * inv_freq_of(cfg)[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    mask = torch.full((T, T), float("-inf")).triu(1)
    window = cfg.get("sliding_window") or 0
    if cfg["model_type"] == "mistral" and window > 0:
        # Mistral attends to the last `window` positions only: t - s < window.
        mask = mask + torch.full((T, T), float("-inf")).tril(-window)
    for l in range(cfg["num_hidden_layers"]):
        h = rmsnorm(x, P[f"model.layers.{l}.input_layernorm.weight"], eps)
        q = linear(P, lora, cfg, h, l, "self_attn", "q_proj").view(T, nh, hd)
        k = linear(P, lora, cfg, h, l, "self_attn", "k_proj").view(T, nkv, hd)
        v = linear(P, lora, cfg, h, l, "self_attn", "v_proj").view(T, nkv, hd)
        if cfg["model_type"] == "qwen3":
            q = rmsnorm(q, P[f"model.layers.{l}.self_attn.q_norm.weight"], eps)
            k = rmsnorm(k, P[f"model.layers.{l}.self_attn.k_norm.weight"], eps)
        q = q * cos[:, None, :] + rotate_half(q) * sin[:, None, :]
        k = k * cos[:, None, :] + rotate_half(k) * sin[:, None, :]
        group = nh // nkv
        k = k.repeat_interleave(group, dim=1)
        v = v.repeat_interleave(group, dim=1)
        scores = torch.einsum("thd,shd->hts", q, k) / math.sqrt(hd) + mask
        att = torch.softmax(scores, dim=-1)
        y = torch.einsum("hts,shd->thd", att, v).reshape(T, nh * hd)
        x = x + linear(P, lora, cfg, y, l, "self_attn", "o_proj")
        h = rmsnorm(x, P[f"model.layers.{l}.post_attention_layernorm.weight"], eps)
        gate = linear(P, lora, cfg, h, l, "mlp", "gate_proj")
        up = linear(P, lora, cfg, h, l, "mlp", "up_proj")
        x = x + linear(P, lora, cfg, torch.nn.functional.silu(gate) * up, l, "mlp", "down_proj")
    x = rmsnorm(x, P["model.norm.weight"], eps)
    head = P["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else P["lm_head.weight"]
    return x @ head.t()


# ---------------------------------------------------------------------------
# random models, adapters and batches


def random_model(cfg, bf16):
    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    nh, nkv, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    P = {"model.embed_tokens.weight": torch.randn(V, H) * 0.5}
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        P[p + "input_layernorm.weight"] = 1 + 0.1 * torch.randn(H)
        P[p + "self_attn.q_proj.weight"] = torch.randn(nh * hd, H) / math.sqrt(H)
        P[p + "self_attn.k_proj.weight"] = torch.randn(nkv * hd, H) / math.sqrt(H)
        P[p + "self_attn.v_proj.weight"] = torch.randn(nkv * hd, H) / math.sqrt(H)
        if cfg["model_type"] == "qwen2":
            P[p + "self_attn.q_proj.bias"] = 0.1 * torch.randn(nh * hd)
            P[p + "self_attn.k_proj.bias"] = 0.1 * torch.randn(nkv * hd)
            P[p + "self_attn.v_proj.bias"] = 0.1 * torch.randn(nkv * hd)
        if cfg["model_type"] == "qwen3":
            P[p + "self_attn.q_norm.weight"] = 1 + 0.1 * torch.randn(hd)
            P[p + "self_attn.k_norm.weight"] = 1 + 0.1 * torch.randn(hd)
        P[p + "self_attn.o_proj.weight"] = torch.randn(H, nh * hd) / math.sqrt(nh * hd)
        P[p + "post_attention_layernorm.weight"] = 1 + 0.1 * torch.randn(H)
        P[p + "mlp.gate_proj.weight"] = torch.randn(I, H) / math.sqrt(H)
        P[p + "mlp.up_proj.weight"] = torch.randn(I, H) / math.sqrt(H)
        P[p + "mlp.down_proj.weight"] = torch.randn(H, I) / math.sqrt(I)
    P["model.norm.weight"] = 1 + 0.1 * torch.randn(H)
    if not cfg["tie_word_embeddings"]:
        P["lm_head.weight"] = torch.randn(V, H) / math.sqrt(H)
    if bf16:
        P = {k: v.to(torch.bfloat16).float() for k, v in P.items()}
    return P


def random_adapter(cfg, targets, rank):
    H, I = cfg["hidden_size"], cfg["intermediate_size"]
    QD = cfg["num_attention_heads"] * cfg["head_dim"]
    KVD = cfg["num_key_value_heads"] * cfg["head_dim"]
    shapes = {"q_proj": (QD, H), "k_proj": (KVD, H), "v_proj": (KVD, H), "o_proj": (H, QD),
              "gate_proj": (I, H), "up_proj": (I, H), "down_proj": (H, I)}
    lora = {}
    for l in range(cfg["num_hidden_layers"]):
        for t in targets:
            module = "self_attn" if t in TARGETS[:4] else "mlp"
            out, inp = shapes[t]
            key = f"base_model.model.model.layers.{l}.{module}.{t}"
            bound = 1 / math.sqrt(inp)
            lora[key + ".lora_A.weight"] = (torch.rand(rank, inp) * 2 - 1) * bound
            # B is random (not PEFT's zeros) so that A receives a gradient.
            lora[key + ".lora_B.weight"] = torch.randn(out, rank) * 0.1
    return lora


def make_records(V, lengths):
    records = []
    for n in lengths:
        tokens = torch.randint(0, V, (n,)).tolist()
        targets = tokens[1:] + [IGNORE]
        targets[0] = IGNORE  # a masked prompt token
        records.append((tokens, targets))
    return records


def packed_batch(records):
    T = len(records[0][0]) + len(records[1][0])
    rows = [[records[0], records[1]], [records[2]]]
    batch = {"B": 2, "T": T, "tokens": [], "targets": [], "positions": [], "segments": []}
    for row in rows:
        used = 0
        for index, (tokens, targets) in enumerate(row):
            batch["tokens"] += tokens
            batch["targets"] += targets
            batch["positions"] += list(range(len(tokens)))
            batch["segments"] += [index] * len(tokens)
            used += len(tokens)
        batch["tokens"] += [0] * (T - used)
        batch["targets"] += [IGNORE] * (T - used)
        batch["positions"] += [0] * (T - used)
        batch["segments"] += [-1] * (T - used)
    return batch


def unpacked_batch(records):
    T = max(len(tokens) for tokens, _ in records)
    batch = {"B": len(records), "T": T, "tokens": [], "targets": [], "positions": [],
             "segments": []}
    for tokens, targets in records:
        pad = T - len(tokens)
        batch["tokens"] += tokens + [0] * pad
        batch["targets"] += targets + [IGNORE] * pad
        batch["positions"] += list(range(len(tokens))) + [0] * pad
        batch["segments"] += [0] * len(tokens) + [-1] * pad
    return batch


# ---------------------------------------------------------------------------
# one case


def write_model(folder, cfg, P, bf16, shards):
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({k: v for k, v in cfg.items() if not k.startswith("lora_")}, f, indent=1)
    dtype = "BF16" if bf16 else "F32"
    if shards == 1:
        write_safetensors(os.path.join(folder, "model.safetensors"), P, dtype)
        return
    names = list(P)
    half = len(names) // 2
    weight_map = {}
    for index, part in enumerate([names[:half], names[half:]]):
        file = f"model-{index + 1:05d}-of-00002.safetensors"
        write_safetensors(os.path.join(folder, file), {n: P[n] for n in part}, dtype)
        weight_map.update({n: file for n in part})
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f)


def run_case(out_dir, name, arch, overrides, mode, targets, rank=4, alpha=8.0, rslora=False,
             bf16=False, shards=1):
    folder = os.path.join(out_dir, name)
    os.makedirs(os.path.join(folder, "adapter"), exist_ok=True)
    classes = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM",
               "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM"}
    cfg = {"architectures": [classes[arch]], "model_type": arch, "hidden_act": "silu",
           "vocab_size": 61, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
           "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8,
           "max_position_embeddings": 256, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
           "rope_scaling": None, "tie_word_embeddings": False}
    cfg.update(overrides)
    cfg["lora_scaling"] = alpha / (math.sqrt(rank) if rslora else rank)
    P = random_model(cfg, bf16)
    write_model(folder, cfg, P, bf16, shards)

    lora = None
    if mode != "full":
        lora = random_adapter(cfg, targets, rank)
        write_safetensors(os.path.join(folder, "adapter", "adapter_model.safetensors"), lora)
        with open(os.path.join(folder, "adapter", "adapter_config.json"), "w") as f:
            json.dump({"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": rank,
                       "lora_alpha": alpha, "lora_dropout": 0.0, "target_modules": targets,
                       "bias": "none", "fan_in_fan_out": False, "use_rslora": rslora,
                       "base_model_name_or_path": name, "inference_mode": False}, f)

    records = make_records(cfg["vocab_size"], [7, 5, 9])
    optim = {"lr": 1e-3, "weight_decay": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
             "max_grad_norm": 0.5}

    # step: trainable tensors
    if mode == "full":
        trained = P
    elif mode == "frozen_a":
        trained = {k: v for k, v in lora.items() if "lora_B" in k}
    else:
        trained = lora
    for tensor in trained.values():
        tensor.requires_grad_(True)

    # step: loss over every record run alone, normalised by all target tokens
    count = sum(sum(1 for t in targets if t != IGNORE) for _, targets in records)
    loss = 0.0
    logits = []
    for tokens, targets in records:
        out = forward(P, lora, cfg, tokens)
        logits.append(out.detach())
        loss = loss + torch.nn.functional.cross_entropy(out, torch.tensor(targets),
                                                        ignore_index=IGNORE, reduction="sum")
    loss = loss / count
    loss.backward()

    # step: logits in the packed layout, with a mask of real positions
    batch = packed_batch(records)
    V = cfg["vocab_size"]
    packed_logits = torch.zeros(batch["B"] * batch["T"], V)
    mask = torch.zeros(batch["B"] * batch["T"])
    spans = [(0, logits[0]), (len(records[0][0]), logits[1]), (batch["T"], logits[2])]
    for start, block in spans:
        packed_logits[start:start + block.shape[0]] = block
        mask[start:start + block.shape[0]] = 1

    expected = {"logits": packed_logits, "logits_mask": mask, "loss": loss.detach().reshape(1)}
    for key, tensor in trained.items():
        expected["grad." + key] = tensor.grad.clone()

    # step: clipping and one AdamW step (no decay on 1-D tensors in full mode)
    params = list(trained.values())
    torch.nn.utils.clip_grad_norm_(params, optim["max_grad_norm"])
    decay = [p for p in params if p.dim() == 2]
    no_decay = [p for p in params if p.dim() != 2]
    groups = [{"params": decay, "weight_decay": optim["weight_decay"]}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    opt = torch.optim.AdamW(groups, lr=optim["lr"], betas=(optim["beta1"], optim["beta2"]),
                            eps=optim["eps"])
    opt.step()
    for key, tensor in trained.items():
        expected["after." + key] = tensor.detach().clone()
    write_safetensors(os.path.join(folder, "expected.safetensors"), expected)

    case = {"mode": mode, "optim": optim, "batch": batch, "unpacked": unpacked_batch(records)}
    with open(os.path.join(folder, "case.json"), "w") as f:
        json.dump(case, f)
    print(f"{name}: reference loss {loss.item():.6f}")


def main():
    out_dir = sys.argv[1]
    llama3 = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
              "high_freq_factor": 4.0, "original_max_position_embeddings": 64}
    run_case(out_dir, "llama_gqa_untied", "llama", {}, "lora", TARGETS)
    run_case(out_dir, "qwen2_bias_tied", "qwen2", {"tie_word_embeddings": True}, "lora",
             ["q_proj", "v_proj", "down_proj"], rank=2, alpha=4.0, rslora=True)
    run_case(out_dir, "qwen3_norms_frozen_a", "qwen3", {"head_dim": 16}, "frozen_a", TARGETS)
    run_case(out_dir, "llama3_rope_bf16", "llama",
             {"rope_scaling": llama3, "head_dim": 16, "num_attention_heads": 2},
             "lora", ["q_proj", "k_proj", "o_proj", "up_proj"], bf16=True)
    run_case(out_dir, "mistral_linear_sharded", "mistral",
             {"rope_scaling": {"type": "linear", "factor": 2.0}, "sliding_window": 4096},
             "lora", TARGETS, shards=2)
    run_case(out_dir, "mistral_sliding_window", "mistral", {"sliding_window": 4}, "lora",
             ["k_proj", "v_proj"], rank=2)
    run_case(out_dir, "full_qwen2_untied", "qwen2", {}, "full", [])
    run_case(out_dir, "full_qwen3_tied", "qwen3", {"tie_word_embeddings": True}, "full", [])


if __name__ == "__main__":
    main()
