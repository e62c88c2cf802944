"""NeMo v1.15.0's prompt encoders in plain PyTorch, and their parameters in Tunestream's flat layout.

Source: NVIDIA/NeMo, tag v1.15.0 (commit 8c785ec5d1dadd952535bd0f68c614f935cbe99c),
``nemo/collections/nlp/modules/common/prompt_encoder.py``:

* ``PromptEncoder`` with ``PromptEncoderType.MLP``: ``embedding = nn.Embedding(total_virtual_tokens,
  token_dim)``; ``mlp_head = Sequential(Linear(token_dim, hidden), ReLU, (num_layers - 2) x
  [Linear(hidden, hidden), ReLU], Linear(hidden, token_dim))``; ``num_layers <= 1`` is rejected.
  No dropout.
* ``PromptEncoder`` with ``PromptEncoderType.LSTM``: ``lstm_head = nn.LSTM(token_dim, hidden,
  num_layers, dropout=lstm_dropout, bidirectional=True, batch_first=True)``; ``mlp_head =
  Sequential(Linear(2 hidden, 2 hidden), ReLU, Linear(2 hidden, token_dim))``.
* ``PromptEncoderMLP`` (``tpmlp``): ``embedding = nn.Embedding(total_virtual_tokens, token_dim)``;
  ``first`` = ColumnParallelLinear(token_dim, hidden, init_method_normal(init_std)),
  ``fused_bias_gelu`` (tanh GELU with the constant 0.79788456), ``second`` =
  RowParallelLinear(hidden, token_dim, init_method_normal(init_std)); Megatron's parallel linears
  start with zero biases. Tensor parallelism of 1 makes them plain linears. No dropout.
* prompt tuning (``embedding``): the task's row of NeMo's prompt table is the parameter.

In every p-tuning encoder NeMo's forward first overwrites the first min(len(taskname ids),
total_virtual_tokens) rows of the learned embedding with the (frozen) word embeddings of the task
name's tokens (``input_embeds[:, 0:length, :] = taskname_embeddings[:, 0:length, :]``). The
encoders here take the learned embedding as it is, like Tunestream's (which has no task-name
input): length 0. See README.md, "Differences".

Tunestream stores weights [in, out] (y = x W + b, as an ONNX MatMul reads them) where torch's
nn.Linear stores [out, in], and keeps one bias per LSTM direction (b_ih + b_hh); ``to_layout`` does
that translation, for parameters and for their gradients alike.
"""

import torch
from torch import nn


def fused_bias_gelu(x):
    """NeMo's bias_gelu (bias already added): tanh GELU with Megatron's rounded sqrt(2/pi)."""
    return x * 0.5 * (1.0 + torch.tanh(0.79788456 * x * (1 + 0.044715 * x * x)))


class NemoEncoder(nn.Module):
    """One of NeMo's encoders for ``virtual`` tokens of width ``hidden`` (the LM's token_dim)."""

    def __init__(self, kind, virtual, hidden, encoder_hidden, num_layers, init_std, dtype=torch.float64):
        super().__init__()
        self.kind = kind
        self.virtual = virtual
        self.hidden = hidden
        self.encoder_hidden = encoder_hidden
        self.num_layers = num_layers
        self.init_std = init_std
        self.embedding = nn.Embedding(virtual, hidden)  # N(0, 1), as nn.Embedding starts
        if kind == "mlp":
            if num_layers <= 1:
                raise ValueError("The MLP prompt encoder must have at least 2 layers (NeMo v1.15.0)")
            layers = [nn.Linear(hidden, encoder_hidden), nn.ReLU()]
            for _ in range(num_layers - 2):
                layers += [nn.Linear(encoder_hidden, encoder_hidden), nn.ReLU()]
            layers.append(nn.Linear(encoder_hidden, hidden))
            self.mlp_head = nn.Sequential(*layers)
        elif kind == "lstm":
            self.lstm_head = nn.LSTM(input_size=hidden, hidden_size=encoder_hidden, num_layers=num_layers,
                                     dropout=0.0, bidirectional=True, batch_first=True)
            self.mlp_head = nn.Sequential(nn.Linear(2 * encoder_hidden, 2 * encoder_hidden), nn.ReLU(),
                                          nn.Linear(2 * encoder_hidden, hidden))
        elif kind == "tpmlp":
            self.first = nn.Linear(hidden, encoder_hidden)
            self.second = nn.Linear(encoder_hidden, hidden)
            for lin in (self.first, self.second):
                nn.init.normal_(lin.weight, mean=0.0, std=init_std)  # init_method_normal(init_std)
                nn.init.zeros_(lin.bias)
        elif kind != "embedding":
            raise ValueError("unknown encoder type " + kind)
        self.to(dtype)

    def forward(self):
        x = self.embedding.weight[None]  # [1, virtual, hidden]; taskname rows: none (see module doc)
        if self.kind == "embedding":
            y = x
        elif self.kind == "mlp":
            y = self.mlp_head(x)
        elif self.kind == "lstm":
            y = self.mlp_head(self.lstm_head(x)[0])
        else:
            y = self.second(fused_bias_gelu(self.first(x)))
        return y[0]

    # ---- Tunestream's flat layout ------------------------------------------------------------
    def to_layout(self, values):
        """[(name, shape, flat values)] in Tunestream's layout from ``values(param)`` (.data or .grad)."""
        out = []

        def add(name, tensor):
            out.append((name, list(tensor.shape), tensor.reshape(-1)))

        if self.kind == "embedding":
            add("embedding", values(self.embedding.weight))
            return out
        add("input_embedding", values(self.embedding.weight))
        if self.kind == "mlp":
            linears = [m for m in self.mlp_head if isinstance(m, nn.Linear)]
            for i, lin in enumerate(linears):
                add(f"layers.{i}.weight", values(lin.weight).t())
                add(f"layers.{i}.bias", values(lin.bias))
        elif self.kind == "tpmlp":
            for name in ("first", "second"):
                lin = getattr(self, name)
                add(f"{name}.weight", values(lin.weight).t())
                add(f"{name}.bias", values(lin.bias))
        else:
            for layer in range(self.num_layers):
                for direction, suffix in (("forward", ""), ("backward", "_reverse")):
                    p = lambda n: getattr(self.lstm_head, f"{n}_l{layer}{suffix}")
                    prefix = f"lstm.{layer}.{direction}."
                    add(prefix + "w_input", values(p("weight_ih")).t())
                    add(prefix + "w_hidden", values(p("weight_hh")).t())
                    add(prefix + "bias", _merged_bias(values(p("bias_ih")), values(p("bias_hh")), values is _grad))
            add("head.0.weight", values(self.mlp_head[0].weight).t())
            add("head.0.bias", values(self.mlp_head[0].bias))
            add("head.1.weight", values(self.mlp_head[2].weight).t())
            add("head.1.bias", values(self.mlp_head[2].bias))
        return out

    def set_from_layout(self, flat_by_name):
        """Inverse of to_layout for the parameters: the merged LSTM bias goes into b_ih, b_hh = 0."""
        with torch.no_grad():
            def put(param, value, transpose=False):
                v = value.reshape(param.shape[::-1] if transpose else param.shape)
                param.copy_(v.t() if transpose else v)

            if self.kind == "embedding":
                put(self.embedding.weight, flat_by_name["embedding"])
                return
            put(self.embedding.weight, flat_by_name["input_embedding"])
            if self.kind == "mlp":
                linears = [m for m in self.mlp_head if isinstance(m, nn.Linear)]
                for i, lin in enumerate(linears):
                    put(lin.weight, flat_by_name[f"layers.{i}.weight"], True)
                    put(lin.bias, flat_by_name[f"layers.{i}.bias"])
            elif self.kind == "tpmlp":
                for name in ("first", "second"):
                    lin = getattr(self, name)
                    put(lin.weight, flat_by_name[f"{name}.weight"], True)
                    put(lin.bias, flat_by_name[f"{name}.bias"])
            else:
                for layer in range(self.num_layers):
                    for direction, suffix in (("forward", ""), ("backward", "_reverse")):
                        p = lambda n: getattr(self.lstm_head, f"{n}_l{layer}{suffix}")
                        prefix = f"lstm.{layer}.{direction}."
                        put(p("weight_ih"), flat_by_name[prefix + "w_input"], True)
                        put(p("weight_hh"), flat_by_name[prefix + "w_hidden"], True)
                        put(p("bias_ih"), flat_by_name[prefix + "bias"])
                        p("bias_hh").zero_()
                put(self.mlp_head[0].weight, flat_by_name["head.0.weight"], True)
                put(self.mlp_head[0].bias, flat_by_name["head.0.bias"])
                put(self.mlp_head[2].weight, flat_by_name["head.1.weight"], True)
                put(self.mlp_head[2].bias, flat_by_name["head.1.bias"])


def _data(p):
    return p.detach()


def _grad(p):
    return p.grad.detach()


def _merged_bias(b_ih, b_hh, gradient):
    """Tunestream's one bias per direction: b_ih + b_hh; its gradient is that of either (they only
    appear summed, so the two gradients are equal)."""
    if not gradient:
        return b_ih + b_hh
    if not torch.allclose(b_ih, b_hh, rtol=0, atol=1e-14):
        raise AssertionError("LSTM b_ih and b_hh gradients differ")
    return b_ih


def parameters_in_layout(encoder):
    return encoder.to_layout(_data)


def gradients_in_layout(encoder):
    return encoder.to_layout(_grad)
