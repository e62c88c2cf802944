"""Writes the PyTorch references the Java tests compare with (see README.md).

  /usr/bin/python3 tools/references/make_references.py

1. Checks the plain PyTorch decoder against every model's reference.json (check_reference.py) and
   stops if it does not reproduce them.
2. models/tiny-gpt2/encoders-reference.json: NeMo v1.15.0's prompt encoders (nemo_encoders.py),
   parameters in Tunestream's layout, their output table, the tiny-gpt2 answer loss of
   reference.json's case 0 with that table as the virtual tokens, d loss / d table and
   d loss / d parameters.
3. models/<model>/deep-prompt-reference.json for tiny-gpt2, tiny-llama and demo-gpt2: PEFT prefix
   tuning (per-layer key/value prefixes), its loss and gradient, and the prefix exactness check.

Everything runs in float64 from the float32 ONNX weights; deterministic (fixed torch seeds).
"""

import json
import os
import sys

import torch

import check_reference
from decoder import Decoder, answer_loss
from nemo_encoders import NemoEncoder, gradients_in_layout, parameters_in_layout

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
PARAMETER_DIGITS = 6  # inputs are rounded to these significant digits: their decimals are exact
OUTPUT_DIGITS = 10  # outputs keep these (relative error 1e-10, far below any tolerance used)

NEMO = ("NVIDIA/NeMo v1.15.0 (8c785ec5d1dadd952535bd0f68c614f935cbe99c) "
        "nemo/collections/nlp/modules/common/prompt_encoder.py")
PEFT = ("huggingface/peft 5d602fdbff04c33c1c4de55cda9d4ae1d7cb7e40: src/peft/tuners/prefix_tuning/model.py "
        "(PrefixEncoder), src/peft/peft_model.py (PeftModel.get_prompt, PeftModelForCausalLM.forward, "
        "_adjust_prompt_learning_kwargs), src/peft/utils/other.py (_prepare_prompt_learning_config: "
        "grouped-query attention)")


def rounded(values, digits):
    return [float(f"{v:.{digits}g}") for v in torch.as_tensor(values).reshape(-1).tolist()]


def model_dir(name):
    return os.path.join(ROOT, "models", name)


def write(path, doc):
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {os.path.relpath(path, ROOT)} ({os.path.getsize(path) // 1024} KB)")


# ---- prompt encoders ----------------------------------------------------------------------------

ENCODERS = [
    # name, type, encoder_hidden, num_layers
    ("embedding", "embedding", 1, 1),
    ("mlp-2", "mlp", 16, 2),
    ("mlp-3", "mlp", 12, 3),
    ("tpmlp", "tpmlp", 16, 2),
    ("lstm-1", "lstm", 8, 1),
    ("lstm-2", "lstm", 6, 2),
]
INIT_STD = 0.023
MOVE_STD = 0.05  # every initial parameter is moved by N(0, MOVE_STD) so no path sits at an exact zero


def encoder_reference(decoder, case, name, kind, encoder_hidden, num_layers, seed):
    virtual = len(case["virtual"])
    torch.manual_seed(seed)
    enc = NemoEncoder(kind, virtual, decoder.hidden, encoder_hidden, num_layers, INIT_STD)
    layout = parameters_in_layout(enc)
    flat = {}
    for tensor_name, _, values in layout:
        moved = values + MOVE_STD * torch.randn(values.shape, dtype=values.dtype)
        flat[tensor_name] = torch.tensor(rounded(moved, PARAMETER_DIGITS), dtype=torch.float64)
    enc.set_from_layout(flat)
    enc.zero_grad()

    table = enc()
    table.retain_grad()
    ids = case["prompt_ids"] + case["answer_ids"]
    x = torch.cat([table, decoder.embed(ids)], dim=0)
    logits, _ = decoder.forward(x, list(range(x.shape[0])))
    loss = answer_loss(logits, virtual + len(case["prompt_ids"]), case["answer_ids"])
    loss.backward()

    params = parameters_in_layout(enc)
    grads = gradients_in_layout(enc)
    for (n, _, p), (m, _, g) in zip(params, grads):
        assert n == m and torch.equal(p, flat[n]), n
    print(f"  {name}: {sum(p.numel() for _, _, p in params)} parameters, loss {float(loss):.6f}, "
          f"|d loss/d params| {float(torch.cat([g for _, _, g in grads]).norm()):.3e}")
    return {
        "name": name,
        "type": kind,
        "virtual_tokens": virtual,
        "hidden": decoder.hidden,
        "encoder_hidden": encoder_hidden,
        "num_layers": num_layers,
        "init_std": INIT_STD,
        "layout": [{"name": n, "shape": s} for n, s, _ in params],
        "parameters": [v for _, _, p in params for v in p.tolist()],
        "table": rounded(table.detach(), OUTPUT_DIGITS),
        "loss": float(loss),
        "table_gradient": rounded(table.grad, OUTPUT_DIGITS),
        "gradient": [v for _, _, g in grads for v in rounded(g, OUTPUT_DIGITS)],
    }


def encoders_file():
    decoder = Decoder(model_dir("tiny-gpt2"))
    with open(os.path.join(decoder.dir, "reference.json")) as f:
        case = json.load(f)["cases"][0]
    print("prompt encoders on tiny-gpt2, reference.json case 0:")
    encoders = [encoder_reference(decoder, case, *spec, seed=1000 + i) for i, spec in enumerate(ENCODERS)]
    write(os.path.join(decoder.dir, "encoders-reference.json"), {
        "written_by": "tools/references/make_references.py",
        "source": NEMO,
        "model": decoder.name,
        "convention": (
            "Each encoder is NeMo v1.15.0's, without the task-name rows (see tools/references/README.md), "
            "dropout 0. 'parameters' is the flat vector in Tunestream's ParameterLayout order ('layout'): "
            "Linear weights stored [in, out] (torch's transposed), one LSTM bias per direction (torch's "
            "b_ih + b_hh), LSTM weights w_input [in, 4 units] and w_hidden [units, 4 units] with torch's gate "
            "order i, f, g, o. They were drawn with NeMo/PyTorch's initialisation, moved by N(0, 0.05) and "
            "rounded to 6 significant digits, so the decimals here are exactly the values used. 'table' is the "
            "encoder output [virtual_tokens, hidden], row-major. 'loss' is the tiny-gpt2 answer loss of "
            "reference.json case 0 (prompt_ids, answer_ids; its convention) with 'table' as the virtual "
            "tokens; 'table_gradient' = d loss / d table and 'gradient' = d loss / d parameters (layout order). "
            "Float64 throughout; outputs to 10 significant digits."),
        "case": {"prompt_ids": case["prompt_ids"], "answer_ids": case["answer_ids"]},
        "encoders": encoders,
    })


# ---- deep prompts (prefix tuning) ---------------------------------------------------------------

PREFIX_TOKENS = 10


def prefix_to_peft(decoder, past):
    """Per-layer (key, value) [1, kv_heads, P, head_dim] -> PEFT's prefix embedding [P, L*2*kv_heads*head_dim].

    PEFT's get_prompt views the embedding output as [batch, P, 2L, heads, head_dim] and permutes it to
    [2L, batch, heads, P, head_dim], split in pairs: entry 2l is layer l's key, 2l + 1 its value.
    """
    stacked = torch.stack([t for layer in past for t in layer])  # [2L, 1, H, P, D]
    return stacked.permute(1, 3, 0, 2, 4).reshape(stacked.shape[3], -1)


def peft_to_prefix(decoder, embedding):
    p = embedding.shape[0]
    view = embedding.view(1, p, decoder.layers * 2, decoder.kv_heads, decoder.head_dim)
    kv = view.permute(2, 0, 3, 1, 4)
    return [(kv[2 * i], kv[2 * i + 1]) for i in range(decoder.layers)]


def deep_prompt_loss(decoder, embedding, case, position_start):
    past = peft_to_prefix(decoder, embedding)
    ids = case["prompt_ids"] + case["answer_ids"]
    positions = list(range(position_start, position_start + len(ids)))
    logits, _ = decoder.forward(decoder.embed(ids), positions, past)
    return answer_loss(logits, len(case["prompt_ids"]), case["answer_ids"]), logits


def exactness(decoder, ids, split, dtype):
    """Prefix = keys/values of ids[:split] (positions 0..split-1); then ids[split:] on top of it."""
    dec = decoder if dtype == decoder.dtype else Decoder(decoder.dir, dtype)
    with torch.no_grad():
        full, _ = dec.forward(dec.embed(ids), list(range(len(ids))))
        _, past = dec.forward(dec.embed(ids[:split]), list(range(split)))
        rest = ids[split:]
        after, _ = dec.forward(dec.embed(rest), list(range(split, len(ids))), past)
        from_zero, _ = dec.forward(dec.embed(rest), list(range(len(rest))), past)
    return full[0, split:], after[0], from_zero[0]


def deep_prompt_file(name):
    decoder = Decoder(model_dir(name))
    with open(os.path.join(decoder.dir, "reference.json")) as f:
        ref = json.load(f)
    case, other = ref["cases"][0], ref["cases"][1]
    p = PREFIX_TOKENS
    # a realistic, reproducible prefix: the keys/values of the first P prompt tokens of the other case
    with torch.no_grad():
        _, past = decoder.forward(decoder.embed(other["prompt_ids"][:p]), list(range(p)))
    prefix = torch.tensor(rounded(prefix_to_peft(decoder, past), PARAMETER_DIGITS), dtype=torch.float64)
    prefix = prefix.view(p, -1)
    assert all(torch.allclose(a, b, atol=1e-5) for la, lb in zip(peft_to_prefix(decoder, prefix), past)
               for a, b in zip(la, lb)), "PEFT layout round trip"

    embedding = prefix.clone().requires_grad_(True)
    loss, logits = deep_prompt_loss(decoder, embedding, case, p)
    loss.backward()
    grad = embedding.grad
    top5 = [int(t) for t in logits[0, -1].topk(5).indices]

    alt = prefix.clone().requires_grad_(True)
    alt_loss, _ = deep_prompt_loss(decoder, alt, case, 0)
    alt_loss.backward()

    ids = case["prompt_ids"] + case["answer_ids"]
    split = p
    full, after, from_zero = exactness(decoder, ids, split, torch.float64)
    full32, after32, _ = exactness(decoder, ids, split, torch.float32)
    exact64 = float((full - after).abs().max())
    exact32 = float((full32 - after32).abs().max())
    zero_diff = float((full - from_zero).abs().max())
    # the loss of the case with the prefix made of its own first tokens: the answer loss of the full run
    print(f"{name}: deep prompt loss {float(loss):.6f} (positions from 0: {float(alt_loss):.6f}), "
          f"|grad| {float(grad.norm()):.3e}; exactness max |Δlogits| {exact64:.1e} (float64), "
          f"{exact32:.1e} (float32), {zero_diff:.1e} with positions restarting at 0")
    if exact64 > 1e-9:
        raise AssertionError(f"{name}: a prefix of real keys/values does not reproduce the full run ({exact64})")

    write(os.path.join(decoder.dir, "deep-prompt-reference.json"), {
        "written_by": "tools/references/make_references.py",
        "source": PEFT,
        "model": decoder.name,
        "convention": (
            "PEFT prefix tuning on a causal LM (prefix_projection false): the trainable parameter is "
            "prompt_encoder.embedding.weight [num_virtual_tokens, layers*2*kv_heads*head_dim]; get_prompt views "
            "it as [batch, P, 2*layers, kv_heads, head_dim] and permutes to [2*layers, batch, kv_heads, P, "
            "head_dim]: entry 2l is past_key_values.l.key, 2l+1 past_key_values.l.value ([batch, kv_heads, P, "
            "head_dim], the ONNX export's past inputs). With grouped-query attention PEFT sizes the prefix with "
            "num_key_value_heads (token_dim = head_dim * kv_heads). So element [p, ((2l+kv)*kv_heads + h)*head_dim "
            "+ d] of 'prefix' is past[l][kv][0, h, p, d] (kv 0 = key, 1 = value). Keys are the cached keys "
            "(for Llama: after rotary embedding; prefix keys are never rotated again). The real tokens follow "
            "the prefix: attention_mask is ones over P + T, position_ids run P..P+T-1 (transformers derives them "
            "from the cache length when PEFT passes none; PEFT offsets explicit ones by num_virtual_tokens). "
            "'loss' is the mean cross-entropy of answer_ids, each predicted from the position before it "
            "(no soft-prompt virtual tokens in the input); 'gradient' = d loss / d prefix in the same layout. "
            "'prefix' is the keys/values of prefix_source_ids at positions 0..P-1, rounded to 6 significant "
            "digits (the decimals are the values used). Float64; outputs to 10 significant digits."),
        "num_virtual_tokens": p,
        "layers": decoder.layers,
        "kv_heads": decoder.kv_heads,
        "head_dim": decoder.head_dim,
        "prefix_source_ids": other["prompt_ids"][:p],
        "prefix": [v for row in prefix.tolist() for v in row],
        "cases": [{
            "prompt_ids": case["prompt_ids"],
            "answer_ids": case["answer_ids"],
            "first_position_id": p,
            "loss": float(loss),
            "gradient": rounded(grad, OUTPUT_DIGITS),
            "gradient_l2": float(grad.norm()),
            "last_logits_top5": top5,
        }],
        "positions_from_zero": {
            "note": "the same case with position_ids 0..T-1 after the prefix (not PEFT's convention), for comparison",
            "loss": float(alt_loss),
            "gradient_l2": float(alt.grad.norm()),
        },
        "exactness": {
            "note": ("ids = prompt_ids + answer_ids of the case. Prefix = the keys/values ('present') of ids[:split] "
                     "run at positions 0..split-1; running ids[split:] at positions split.. on top of it gives the "
                     "logits of the full run at those positions. 'last_logits' are the full run's logits at the "
                     "last position; max_abs_difference_* what PyTorch found between the two paths"),
            "ids": ids,
            "split": split,
            "last_logits": rounded(full[-1], OUTPUT_DIGITS),
            "answer_loss": float(answer_loss(full[None], len(case["prompt_ids"]) - split, case["answer_ids"])),
            "max_abs_difference_float64": exact64,
            "max_abs_difference_float32": exact32,
            "max_abs_difference_if_positions_restart_at_0": zero_diff,
        },
    })


def main():
    if check_reference.main([]) != 0:
        return 1
    encoders_file()
    for name in ("tiny-gpt2", "tiny-llama", "demo-gpt2"):
        deep_prompt_file(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
