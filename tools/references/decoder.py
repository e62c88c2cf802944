"""Plain PyTorch forward of the project's GPT-2 and Llama ONNX exports, from their initializers.

The weights are read from ``model.onnx`` with the ``onnx`` package; each initializer is given the
name of the PyTorch module whose node consumes it (the TorchScript exporter names nodes after their
module, e.g. ``/m/model/layers.0/self_attn/q_proj/MatMul``), so deduplicated or renamed initializers
(``onnx::MatMul_686``, shared all-ones norm weights) still land in the right place. Nothing here
runs ONNX Runtime: the forward is written out in torch, in float64 by default, so it is an
independent reference for the project's ONNX graphs and their gradients.

Interface of ``Decoder.forward`` (batch 1 kept explicit):
  inputs_embeds [B, T, hidden], position_ids [B, T] (int64),
  past: list per layer of (key, value), each [B, kv_heads, P, head_dim], or None
  returns logits [B, T, vocab] and presents (past concatenated with the new keys/values), as the
  Optimum "text-generation-with-past" export does. The attention mask is all ones: every token sees
  the whole past and the tokens up to itself.
"""

import json
import math
import os
import re

import onnx
import torch
from onnx import numpy_helper


def _module_path(node_name):
    """'/m/transformer/h.0/attn/c_attn/Gemm' -> 'transformer.h.0.attn.c_attn'."""
    parts = [p for p in node_name.split("/") if p]
    if parts and parts[0] == "m":
        parts = parts[1:]
    return ".".join(parts[:-1])


def read_weights(onnx_path, dtype=torch.float64):
    """Module-path-named weights of an export: '<module>.weight' / '<module>.bias'."""
    graph = onnx.load(onnx_path).graph
    inits = {t.name: t for t in graph.initializer}
    alias = {n.output[0]: n.input[0] for n in graph.node if n.op_type == "Identity"}

    def init(name):
        name = alias.get(name, name)
        if name not in inits:
            return None
        return torch.from_numpy(numpy_helper.to_array(inits[name]).copy()).to(dtype)

    weights = {}
    for n in graph.node:
        path = _module_path(n.name)
        if n.op_type == "Gather":
            w = init(n.input[0])
            if w is not None:
                weights[path + ".weight"] = w
        elif n.op_type == "Gemm":
            attrs = {a.name: a for a in n.attribute}
            trans_a = "transA" in attrs and attrs["transA"].i != 0
            alpha = attrs["alpha"].f if "alpha" in attrs else 1.0
            beta = attrs["beta"].f if "beta" in attrs else 1.0
            if trans_a or alpha != 1.0 or beta != 1.0:
                raise ValueError("unexpected Gemm attributes in " + n.name)
            w = init(n.input[1])
            if "transB" in attrs and attrs["transB"].i:
                w = w.t().contiguous()
            weights[path + ".weight"] = w  # [in, out]
            if len(n.input) > 2 and init(n.input[2]) is not None:
                weights[path + ".bias"] = init(n.input[2])
        elif n.op_type == "MatMul":
            w = init(n.input[1])
            if w is not None:
                weights[path + ".weight"] = w  # [in, out]
        elif n.op_type == "LayerNormalization":
            weights[path + ".weight"] = init(n.input[1])
            weights[path + ".bias"] = init(n.input[2])
        elif n.op_type == "Mul" and re.search(r"(layernorm|norm)$", path):
            for i in n.input:
                w = init(i)
                if w is not None:
                    weights[path + ".weight"] = w
    return weights


class Decoder:
    """GPT-2 or Llama decoder with weights from an ONNX export."""

    def __init__(self, model_dir, dtype=torch.float64):
        self.dir = model_dir
        self.name = os.path.basename(os.path.normpath(model_dir))
        with open(os.path.join(model_dir, "config.json")) as f:
            self.config = json.load(f)
        self.dtype = dtype
        self.w = read_weights(os.path.join(model_dir, "model.onnx"), dtype)
        c = self.config
        self.kind = c["model_type"]
        if self.kind == "gpt2":
            self.layers = c["n_layer"]
            self.hidden = c["n_embd"]
            self.heads = c["n_head"]
            self.kv_heads = self.heads
            self.head_dim = self.hidden // self.heads
            self.eps = c["layer_norm_epsilon"]
            self.embedding = self.w["transformer.wte.weight"]
        elif self.kind == "llama":
            self.layers = c["num_hidden_layers"]
            self.hidden = c["hidden_size"]
            self.heads = c["num_attention_heads"]
            self.kv_heads = c["num_key_value_heads"]
            self.head_dim = c.get("head_dim") or self.hidden // self.heads
            self.eps = c["rms_norm_eps"]
            rope = c.get("rope_parameters") or {}
            self.rope_theta = rope.get("rope_theta", c.get("rope_theta", 10000.0))
            if rope.get("rope_type", "default") != "default":
                raise ValueError("only default rotary embeddings are implemented")
            self.embedding = self.w["model.embed_tokens.weight"]
        else:
            raise ValueError("unsupported model_type " + self.kind)
        self.vocab = self.embedding.shape[0]

    # ---- building blocks -------------------------------------------------------------------
    def _attention(self, q, k, v, past_len):
        """q [B,H,T,D], k/v [B,KV,P+T,D] -> [B,T,H*D]; token i sees keys 0..past_len+i."""
        b, h, t, d = q.shape
        rep = self.heads // self.kv_heads
        if rep > 1:
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        scores = q @ k.transpose(-1, -2) / math.sqrt(d)
        total = k.shape[2]
        allowed = torch.arange(total)[None, :] <= (past_len + torch.arange(t))[:, None]
        scores = scores.masked_fill(~allowed, float("-inf"))
        probs = torch.softmax(scores, dim=-1)
        return (probs @ v).transpose(1, 2).reshape(b, t, h * d)

    def _split(self, x, heads):
        b, t, _ = x.shape
        return x.view(b, t, heads, self.head_dim).transpose(1, 2)

    def _rotary(self, x, position_ids):
        d = self.head_dim
        inv = 1.0 / (self.rope_theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
        freqs = position_ids.to(torch.float64)[:, :, None] * inv[None, None, :]
        emb = torch.cat([freqs, freqs], dim=-1)
        cos = emb.cos().to(x.dtype)[:, None, :, :]
        sin = emb.sin().to(x.dtype)[:, None, :, :]
        x1, x2 = x[..., : d // 2], x[..., d // 2:]
        rotated = torch.cat([-x2, x1], dim=-1)
        return x * cos + rotated * sin

    def _rms(self, x, weight):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * weight

    # ---- forward ---------------------------------------------------------------------------
    def embed(self, ids):
        return self.embedding[torch.as_tensor(ids, dtype=torch.long)]

    def forward(self, inputs_embeds, position_ids, past=None):
        if inputs_embeds.dim() == 2:
            inputs_embeds = inputs_embeds[None]
        position_ids = torch.as_tensor(position_ids, dtype=torch.long)
        if position_ids.dim() == 1:
            position_ids = position_ids[None]
        past_len = 0 if past is None else past[0][0].shape[2]
        if self.kind == "gpt2":
            return self._gpt2(inputs_embeds, position_ids, past, past_len)
        return self._llama(inputs_embeds, position_ids, past, past_len)

    def _gpt2(self, x, pos, past, past_len):
        w = self.w
        ln = torch.nn.functional.layer_norm
        h = x + w["transformer.wpe.weight"][pos]
        presents = []
        for i in range(self.layers):
            p = f"transformer.h.{i}."
            a = ln(h, (self.hidden,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], self.eps)
            qkv = a @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
            q, k, v = qkv.split(self.hidden, dim=-1)
            q, k, v = self._split(q, self.heads), self._split(k, self.heads), self._split(v, self.heads)
            if past is not None:
                k = torch.cat([past[i][0], k], dim=2)
                v = torch.cat([past[i][1], v], dim=2)
            presents.append((k, v))
            o = self._attention(q, k, v, past_len)
            h = h + o @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
            m = ln(h, (self.hidden,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], self.eps)
            f = m @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"]
            f = 0.5 * f * (1 + torch.tanh(math.sqrt(2 / math.pi) * (f + 0.044715 * f.pow(3))))  # gelu_new
            h = h + f @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
        h = ln(h, (self.hidden,), w["transformer.ln_f.weight"], w["transformer.ln_f.bias"], self.eps)
        return h @ w["lm_head.weight"], presents

    def _llama(self, x, pos, past, past_len):
        w = self.w
        h = x
        presents = []
        for i in range(self.layers):
            p = f"model.layers.{i}."
            a = self._rms(h, w[p + "input_layernorm.weight"])
            q = self._rotary(self._split(a @ w[p + "self_attn.q_proj.weight"], self.heads), pos)
            k = self._rotary(self._split(a @ w[p + "self_attn.k_proj.weight"], self.kv_heads), pos)
            v = self._split(a @ w[p + "self_attn.v_proj.weight"], self.kv_heads)
            if past is not None:
                k = torch.cat([past[i][0], k], dim=2)
                v = torch.cat([past[i][1], v], dim=2)
            presents.append((k, v))
            o = self._attention(q, k, v, past_len)
            h = h + o @ w[p + "self_attn.o_proj.weight"]
            m = self._rms(h, w[p + "post_attention_layernorm.weight"])
            gate = m @ w[p + "mlp.gate_proj.weight"]
            up = m @ w[p + "mlp.up_proj.weight"]
            h = h + (torch.nn.functional.silu(gate) * up) @ w[p + "mlp.down_proj.weight"]
        h = self._rms(h, w["model.norm.weight"])
        return h @ w["lm_head.weight"], presents


def answer_loss(logits, answer_start, answer_ids):
    """Mean cross-entropy of answer_ids, each predicted from the position before it.

    logits [1, T, V] over the whole input; answer token j sits at position answer_start + j.
    """
    rows = logits[0, answer_start - 1: answer_start - 1 + len(answer_ids)]
    return torch.nn.functional.cross_entropy(rows, torch.as_tensor(answer_ids, dtype=torch.long))


def relative_l2(actual, expected):
    actual = torch.as_tensor(actual, dtype=torch.float64)
    expected = torch.as_tensor(expected, dtype=torch.float64)
    return float((actual - expected).norm() / expected.norm())
