"""The PyTorch side of bench/trainer: the same LoRA step as bench_trainer.

Usage: torch_step.py THREADS
A random model with Qwen2.5-0.5B shapes in plain PyTorch (frozen base
weights, LoRA rank 16 on all seven projections), sequence 512, AdamW; one
warm-up step, then the best of three timed steps. Prints "TORCH_RESULT {json}".
"""
import json
import math
import sys
import time

import torch

V, H, I, L, NH, NKV, HD, T, R = 151936, 896, 4864, 24, 14, 2, 64, 512, 16


class LoRALinear(torch.nn.Module):
    def __init__(self, inp, out, bias):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(out, inp) * 0.02, requires_grad=False)
        self.bias = torch.nn.Parameter(torch.zeros(out), requires_grad=False) if bias else None
        self.lora_a = torch.nn.Parameter((torch.rand(R, inp) * 2 - 1) / math.sqrt(inp))
        self.lora_b = torch.nn.Parameter(torch.zeros(out, R))
        self.scaling = 32.0 / R

    def forward(self, x):
        y = torch.nn.functional.linear(x, self.weight, self.bias)
        return y + self.scaling * ((x @ self.lora_a.t()) @ self.lora_b.t())


def rmsnorm(x, w, eps=1e-6):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    return torch.cat((-x[..., HD // 2:], x[..., :HD // 2]), dim=-1)


class Layer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = torch.nn.Parameter(torch.ones(H), requires_grad=False)
        self.ln2 = torch.nn.Parameter(torch.ones(H), requires_grad=False)
        self.q = LoRALinear(H, NH * HD, True)
        self.k = LoRALinear(H, NKV * HD, True)
        self.v = LoRALinear(H, NKV * HD, True)
        self.o = LoRALinear(NH * HD, H, False)
        self.gate = LoRALinear(H, I, False)
        self.up = LoRALinear(H, I, False)
        self.down = LoRALinear(I, H, False)

    def forward(self, x, cos, sin, mask):
        h = rmsnorm(x, self.ln1)
        q = self.q(h).view(T, NH, HD).transpose(0, 1)
        k = self.k(h).view(T, NKV, HD).transpose(0, 1)
        v = self.v(h).view(T, NKV, HD).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(NH // NKV, dim=0)
        v = v.repeat_interleave(NH // NKV, dim=0)
        att = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(HD) + mask, dim=-1)
        y = (att @ v).transpose(0, 1).reshape(T, NH * HD)
        x = x + self.o(y)
        h = rmsnorm(x, self.ln2)
        return x + self.down(torch.nn.functional.silu(self.gate(h)) * self.up(h))


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Parameter(torch.randn(V, H) * 0.02, requires_grad=False)
        self.layers = torch.nn.ModuleList([Layer() for _ in range(L)])
        self.norm = torch.nn.Parameter(torch.ones(H), requires_grad=False)

    def forward(self, tokens, cos, sin, mask):
        x = self.embed[tokens]
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return rmsnorm(x, self.norm) @ self.embed.t()


def main():
    threads = int(sys.argv[1])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = Model()
    tokens = (torch.arange(T) * 7919 + 13) % V
    targets = torch.cat((tokens[1:], torch.tensor([-100])))
    inv_freq = 1.0 / (1e6 ** (torch.arange(0, HD, 2).float() / HD))
    freqs = torch.arange(T).float()[:, None] * inv_freq[None]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    mask = torch.full((T, T), float("-inf")).triu(1)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=2e-4, weight_decay=0.0)

    def step():
        optimizer.zero_grad(set_to_none=True)
        logits = model(tokens, cos, sin, mask)
        loss = torch.nn.functional.cross_entropy(logits, targets, ignore_index=-100)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        return loss.item()

    step()
    times = []
    for _ in range(3):
        start = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - start)
    seconds = min(times)
    print(f"torch {torch.__version__}, {threads} threads: step best {seconds:.3f} s, "
          f"mean {sum(times) / len(times):.3f} s, {T / seconds:.1f} tokens/s, loss {loss:.4f}")
    print("TORCH_RESULT " + json.dumps({"tokens_per_s": round(T / seconds, 2),
                                        "step_s": round(seconds, 3)}))


if __name__ == "__main__":
    main()
