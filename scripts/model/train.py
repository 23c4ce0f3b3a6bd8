"""Trains the bundled model (Mixtral layout, top-2 of 8 experts) or its dense baseline on CPU.

Usage: python3 scripts/model/train.py --arch moe|dense --data CORPUS_DIR --out RUN_DIR [--steps N]
Reads CORPUS_DIR/{train,val}.bin (uint16 token ids from scripts/model/tokenizer.mjs). Writes
RUN_DIR/{arch}.pt (the weights) and RUN_DIR/{arch}.json (loss curve, validation loss, expert load).
Both archs see the same batches in the same order (one seed) and spend the same active parameters
per token: the dense FFN's width is top_k × the expert width.

The chat fine-tune: --init MODEL_DIR --chat --name moe-chat starts from a Hub folder's weights and
fills half of each batch with conversations (CORPUS_DIR/{train,val}_chat.bin and _chat_starts.bin
from scripts/model/chats.mjs), each window from a conversation's BOS; the other half stays prose so
the model keeps its narrative. It reports the validation loss on both before and after.
"""
import argparse
import json
import math
import time

import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'fixtures'))
import make_models as ref  # noqa: E402  (the safetensors reader)

CONFIG = dict(vocab_size=1024, hidden_size=256, num_hidden_layers=4, num_attention_heads=8,
              num_key_value_heads=4, intermediate_size=384, num_local_experts=8, num_experts_per_tok=2,
              rms_norm_eps=1e-5, rope_theta=10000.0, max_position_embeddings=512, bos_token_id=0,
              eos_token_id=1)
AUX_COEF = 0.01  # Switch/Mixtral load-balancing loss weight (Mixtral ships 0.02)


class RMSNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    d = x.shape[-1] // 2
    return torch.cat((-x[..., d:], x[..., :d]), dim=-1)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        H, self.nh, self.nkv = c['hidden_size'], c['num_attention_heads'], c['num_key_value_heads']
        self.hd = H // self.nh
        self.q_proj = nn.Linear(H, self.nh * self.hd, bias=False)
        self.k_proj = nn.Linear(H, self.nkv * self.hd, bias=False)
        self.v_proj = nn.Linear(H, self.nkv * self.hd, bias=False)
        self.o_proj = nn.Linear(self.nh * self.hd, H, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.nh, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.nh // self.nkv
        k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd) + mask
        y = torch.softmax(s, dim=-1) @ v
        return self.o_proj(y.transpose(1, 2).reshape(B, T, -1))


class Experts(nn.Module):
    """E SwiGLU experts stacked: w1 (gate) and w3 (up) [E, I, H], w2 (down) [E, H, I]."""

    def __init__(self, E, H, I):
        super().__init__()
        self.w1 = nn.Parameter(torch.empty(E, I, H))
        self.w3 = nn.Parameter(torch.empty(E, I, H))
        self.w2 = nn.Parameter(torch.empty(E, H, I))

    def expert(self, e, x):
        return (F.silu(x @ self.w1[e].T) * (x @ self.w3[e].T)) @ self.w2[e].T


class MoE(nn.Module):
    """Mixtral's block: softmax over E, top-k, renormalise. Returns (output, aux loss, counts)."""

    def __init__(self, c):
        super().__init__()
        self.E, self.k = c['num_local_experts'], c['num_experts_per_tok']
        self.gate = nn.Linear(c['hidden_size'], self.E, bias=False)
        self.experts = Experts(self.E, c['hidden_size'], c['intermediate_size'])

    def forward(self, x):
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        probs = torch.softmax(self.gate(x), dim=-1)
        w, ids = probs.topk(self.k, dim=-1)
        w = w / w.sum(-1, keepdim=True)
        out = torch.zeros_like(x)
        counts = torch.zeros(self.E)
        for e in range(self.E):
            rows, slot = (ids == e).nonzero(as_tuple=True)
            counts[e] = rows.numel()
            if rows.numel():
                out.index_add_(0, rows, self.experts.expert(e, x[rows]) * w[rows, slot, None])
        # Switch-style balance loss as in transformers' Mixtral: E * sum_e f_e * P_e, where f_e is
        # the share of routed slots and P_e the mean router probability; k when perfectly balanced.
        aux = self.E * (counts / x.shape[0] * probs.mean(0)).sum()
        return out.view(shape), aux, counts


class Dense(nn.Module):
    """The baseline's FFN: one SwiGLU of width k × I, the active parameters of the MoE block."""

    def __init__(self, c):
        super().__init__()
        self.experts = Experts(1, c['hidden_size'], c['num_experts_per_tok'] * c['intermediate_size'])

    def forward(self, x):
        return self.experts.expert(0, x), torch.zeros(()), torch.zeros(1)


class Layer(nn.Module):
    def __init__(self, c, arch):
        super().__init__()
        self.input_layernorm = RMSNorm(c['hidden_size'], c['rms_norm_eps'])
        self.self_attn = Attention(c)
        self.post_attention_layernorm = RMSNorm(c['hidden_size'], c['rms_norm_eps'])
        self.block_sparse_moe = MoE(c) if arch == 'moe' else Dense(c)

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        y, aux, counts = self.block_sparse_moe(self.post_attention_layernorm(x))
        return x + y, aux, counts


class Model(nn.Module):
    def __init__(self, c, arch):
        super().__init__()
        self.c = c
        self.embed_tokens = nn.Embedding(c['vocab_size'], c['hidden_size'])
        self.layers = nn.ModuleList(Layer(c, arch) for _ in range(c['num_hidden_layers']))
        self.norm = RMSNorm(c['hidden_size'], c['rms_norm_eps'])
        self.lm_head = nn.Linear(c['hidden_size'], c['vocab_size'], bias=False)
        for name, p in self.named_parameters():
            if p.dim() > 1:
                # GPT-2's init: residual-branch outputs scaled down by the depth.
                std = 0.02 / math.sqrt(2 * c['num_hidden_layers']) if name.endswith(('o_proj.weight', 'w2')) else 0.02
                nn.init.normal_(p, std=std)

    def forward(self, tokens):
        T = tokens.shape[1]
        hd = self.c['hidden_size'] // self.c['num_attention_heads']
        inv = 1.0 / (self.c['rope_theta'] ** (torch.arange(0, hd, 2).float() / hd))
        f = torch.arange(T).float()[:, None] * inv[None]
        emb = torch.cat((f, f), -1)
        mask = torch.full((T, T), float('-inf')).triu(1)
        x = self.embed_tokens(tokens)
        aux, counts = 0.0, []
        for layer in self.layers:
            x, a, n = layer(x, emb.cos(), emb.sin(), mask)
            aux, counts = aux + a, counts + [n]
        return self.lm_head(self.norm(x)), aux / len(self.layers), torch.stack(counts)


def batches(data, rng, batch, seq, bos):
    """Random windows, each after a BOS (as generation starts): inputs [BOS, d0..], targets [d0..]."""
    off = rng.integers(0, len(data) - seq, batch)
    y = torch.from_numpy(np.stack([data[o:o + seq] for o in off]).astype(np.int64))
    x = torch.cat((torch.full((batch, 1), bos), y[:, :-1]), 1)
    return x, y


def chat_batches(data, starts, rng, batch, seq):
    """Windows from random conversations' BOS: inputs data[o:o+seq], targets one further."""
    off = starts[rng.integers(0, len(starts), batch)]
    win = np.stack([data[o:o + seq + 1] for o in np.minimum(off, len(data) - seq - 1)]).astype(np.int64)
    win = torch.from_numpy(win)
    return win[:, :-1], win[:, 1:]


@torch.no_grad()
def evaluate_chats(model, data, starts, seq):
    """Mean loss over the tokens of every conversation (its first seq + 1 tokens, BOS not scored)."""
    model.eval()
    total, n = 0.0, 0
    ends = np.append(starts[1:], len(data))
    for s, e in zip(starts, ends):
        win = torch.from_numpy(data[s:min(e, s + seq + 1)].astype(np.int64))[None]
        logits, _, _ = model(win[:, :-1])
        total += F.cross_entropy(logits[0], win[0, 1:], reduction='sum').item()
        n += win.shape[1] - 1
    model.train()
    return total / n


def from_hub(model, model_dir):
    """Loads a Hub folder written by export.py: the Mixtral names back to this module's stacked ones."""
    weights, _ = ref.load_checkpoint(Path(model_dir))
    state = {}
    for name, t in model.state_dict().items():
        hub = name if name == 'lm_head.weight' else 'model.' + name
        if '.experts.' in hub:
            prefix, w = hub.rsplit('.', 1)
            state[name] = torch.stack([weights[f'{prefix}.{e}.{w}.weight'] for e in range(t.shape[0])])
        else:
            state[name] = weights[hub]
    model.load_state_dict({k: v.float() for k, v in state.items()})


@torch.no_grad()
def evaluate(model, data, seq, bos, windows=None):
    """Mean loss over the split's non-overlapping windows (the first `windows`, or all), and the share
    of slots per expert."""
    model.eval()
    total, n, counts = 0.0, 0, 0
    starts = list(range(0, len(data) - seq, seq))[:windows]
    for i in range(0, len(starts), 16):
        y = torch.from_numpy(np.stack([data[o:o + seq] for o in starts[i:i + 16]]).astype(np.int64))
        x = torch.cat((torch.full((y.shape[0], 1), bos), y[:, :-1]), 1)
        logits, _, c = model(x)
        total += F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction='sum').item()
        n += y.numel()
        counts = counts + c
    model.train()
    return total / n, (counts / counts.sum(-1, keepdim=True)).tolist()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--arch', choices=['moe', 'dense'], required=True)
    ap.add_argument('--data', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--steps', type=int, default=900)
    ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--seq', type=int, default=256)
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--init', help='a Hub folder to start from (the chat fine-tune)')
    ap.add_argument('--chat', action='store_true', help='half of each batch from the conversations')
    ap.add_argument('--name', help='the run files\' name (default: the arch)')
    ap.add_argument('--val-windows', type=int, help='score only the first N prose validation windows')
    a = ap.parse_args()
    name = a.name or a.arch
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    train = np.fromfile(f'{a.data}/train.bin', dtype=np.uint16)
    val = np.fromfile(f'{a.data}/val.bin', dtype=np.uint16)
    c = CONFIG
    model = Model(c, a.arch)
    before = {}
    if a.init:
        from_hub(model, a.init)
        before['val_loss'] = evaluate(model, val, a.seq, c['bos_token_id'], a.val_windows)[0]
    if a.chat:
        chat = np.fromfile(f'{a.data}/train_chat.bin', dtype=np.uint16)
        chat_starts = np.fromfile(f'{a.data}/train_chat_starts.bin', dtype=np.uint32).astype(np.int64)
        val_chat = np.fromfile(f'{a.data}/val_chat.bin', dtype=np.uint16)
        val_chat_starts = np.fromfile(f'{a.data}/val_chat_starts.bin', dtype=np.uint32).astype(np.int64)
        if a.init:
            before['val_chat_loss'] = evaluate_chats(model, val_chat, val_chat_starts, a.seq)
    if before:
        print('before:', json.dumps(before), flush=True)
    decay = [p for p in model.parameters() if p.dim() > 1]
    rest = [p for p in model.parameters() if p.dim() <= 1]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.1}, {'params': rest, 'weight_decay': 0.0}],
                            lr=a.lr, betas=(0.9, 0.95))
    warmup = max(1, a.steps // 30)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1, (s + 1) / warmup) * (
        0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, s / a.steps)))))
    log = []
    t0 = time.time()
    for step in range(a.steps):
        if a.chat:
            half = a.batch // 2
            xs, ys = zip(batches(train, rng, a.batch - half, a.seq, c['bos_token_id']),
                         chat_batches(chat, chat_starts, rng, half, a.seq))
            x, y = torch.cat(xs), torch.cat(ys)
        else:
            x, y = batches(train, rng, a.batch, a.seq, c['bos_token_id'])
        logits, aux, _ = model(x)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        (loss + AUX_COEF * aux).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 50 == 0 or step == a.steps - 1:
            el = time.time() - t0
            log.append(dict(step=step, loss=loss.item(), aux=float(aux), seconds=round(el, 1)))
            print(f'{name} step {step} loss {loss.item():.4f} aux {float(aux):.4f} '
                  f'{(step + 1) * a.batch * a.seq / el:.0f} tok/s', flush=True)
    train_seconds = time.time() - t0
    val_loss, load = evaluate(model, val, a.seq, c['bos_token_id'], a.val_windows)
    params = sum(p.numel() for p in model.parameters())
    result = dict(arch=a.arch, val_windows=a.val_windows, config=c, steps=a.steps, batch=a.batch, seq=a.seq, lr=a.lr, seed=a.seed,
                  tokens=a.steps * a.batch * a.seq, train_seconds=round(train_seconds), params=params,
                  val_loss=val_loss, val_ppl=math.exp(val_loss), log=log)
    if a.init:
        result.update(init=a.init, before=before)
    if a.chat:
        result['val_chat_loss'] = evaluate_chats(model, val_chat, val_chat_starts, a.seq)
        result['val_chat_ppl'] = math.exp(result['val_chat_loss'])
    if a.arch == 'moe':
        result['expert_load'] = load  # per layer, share of routed slots per expert on the val split
    print(json.dumps({k: v for k, v in result.items() if k != 'log'}))
    torch.save(model.state_dict(), f'{a.out}/{name}.pt')
    with open(f'{a.out}/{name}.json', 'w') as f:
        json.dump(result, f, indent=1)


if __name__ == '__main__':
    main()
