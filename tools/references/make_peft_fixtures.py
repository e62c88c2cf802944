#!/usr/bin/python3
"""Hand-written PEFT prompt-learning adapters for the Java tests (issue 10, point 5).

There is no `peft` package here, so this script writes what PEFT's `save_pretrained` writes, by hand, following
huggingface/peft at 5d602fdbff04c33c1c4de55cda9d4ae1d7cb7e40:

- `adapter_config.json`: the config dataclass as JSON, sorted keys, indent 2 (src/peft/config.py,
  PeftConfigMixin.save_pretrained); fields of PromptLearningConfig and of the three configs under src/peft/tuners/;
- `adapter_model.safetensors`: one tensor `prompt_embeddings` (src/peft/tuners/tuners_utils.py,
  BasePromptEncoder._get_adapter_state_dict), metadata {"format": "pt"} as safetensors' torch `save_file` writes;
  the safetensors layout (8-byte little-endian header length, JSON header padded with spaces to 8 bytes, raw
  little-endian data) from the safetensors README.

The tensor is `[num_virtual_tokens, token_dim]` for PROMPT_TUNING and P_TUNING (for P_TUNING the prompt encoder's
output: PeftModel.get_prompt_embedding_to_save runs the encoder), and `[num_virtual_tokens, 2 * num_layers *
token_dim]` for PREFIX_TUNING, which PeftModel.get_prompt (src/peft/peft_model.py) views as
(batch, tokens, 2 * layers, heads, head_dim), permutes [2, 0, 3, 1, 4] and splits into per-layer (key, value) pairs of
[batch, heads, tokens, head_dim]: index 2l is layer l's key, 2l + 1 its value. For grouped-query attention
(tiny-llama: 4 heads, 2 kv heads) PEFT sets num_attention_heads = kv heads and token_dim = kv heads * head_dim
(_prepare_prompt_learning_config, src/peft/utils/other.py). `peft-reference.json` next to a prefix holds those
per-layer keys and values as get_prompt computes them, so the Java test does not derive them with the code it tests,
and the greedy ids (and first logits) of tools/references/decoder.py's PyTorch forward with that prefix as the past.

Run with Debian's interpreter: /usr/bin/python3 tools/references/make_peft_fixtures.py
"""
import json
import os
import struct

import torch

import decoder as reference_decoder

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models")
DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}


def safetensors_bytes(tensors, metadata):
    header = {"__metadata__": metadata}
    data = b""
    for name, t in tensors.items():
        t = t.contiguous()
        raw = t.view(torch.int16).numpy().tobytes() if t.dtype in (torch.float16, torch.bfloat16) \
            else t.numpy().astype("<f4").tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def base_config(peft_type, model, tokens, token_dim, layers, heads):
    return {
        "auto_mapping": None,
        "base_model_name_or_path": "models/" + model,
        "inference_mode": False,
        "modules_to_save": None,
        "num_attention_heads": heads,
        "num_layers": layers,
        "num_transformer_submodules": 1,
        "num_virtual_tokens": tokens,
        "peft_type": peft_type,
        "peft_version": "0.17.1",
        "revision": None,
        "task_type": "CAUSAL_LM",
        "token_dim": token_dim,
    }


def write(model, name, config, tensor):
    directory = os.path.join(ROOT, model, "peft", name)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "adapter_config.json"), "w") as f:
        f.write(json.dumps(config, indent=2, sort_keys=True))
    with open(os.path.join(directory, "adapter_model.safetensors"), "wb") as f:
        f.write(safetensors_bytes({"prompt_embeddings": tensor}, {"format": "pt"}))
    return directory


PROMPT_IDS = [553, 329, 424, 279]  # "What does parrot live" in both tiny models' byte-level BPE; no leading
# space: NeMo-exact prompts strip the whitespace after a virtual-token marker
GREEDY_TOKENS = 8


def greedy_with_prefix(model, past, virtual_tokens):
    """Greedy ids after PROMPT_IDS with PEFT's prefix as past keys/values; positions start at the prefix length, as
    transformers counts them from the cache length. Stops at the model's end-of-sequence id."""
    dec = reference_decoder.Decoder(os.path.join(ROOT, model))
    with open(os.path.join(ROOT, model, "config.json")) as f:
        eos = json.load(f).get("eos_token_id")
    eos = set(eos if isinstance(eos, list) else [eos])
    past = [(k.double(), v.double()) for k, v in past]
    ids = list(PROMPT_IDS)
    position = virtual_tokens
    step = ids
    out = []
    first_logits = None
    for _ in range(GREEDY_TOKENS):
        logits, past = dec.forward(dec.embed(step), list(range(position, position + len(step))), past)
        position += len(step)
        if first_logits is None:
            first_logits = logits[0, -1].tolist()
        token = int(torch.argmax(logits[0, -1]))
        out.append(token)
        if token in eos:
            break
        step = [token]
    return out, first_logits


def prefix_reference(directory, config, tensor, model):
    """The per-layer keys and values of PeftModel.get_prompt for a batch of one, and greedy ids served with them."""
    layers, heads = config["num_layers"], config["num_attention_heads"]
    head_dim = config["token_dim"] // heads
    past = tensor.float().unsqueeze(0).view(1, config["num_virtual_tokens"], layers * 2, heads, head_dim)
    past = past.permute([2, 0, 3, 1, 4]).split(2)  # num_transformer_submodules = 1
    reference = {"source": "PeftModel.get_prompt, huggingface/peft 5d602fdbff04c33c1c4de55cda9d4ae1d7cb7e40",
                 "layers": layers, "kv_heads": heads, "head_dim": head_dim,
                 "virtual_tokens": config["num_virtual_tokens"],
                 "keys": [p[0, 0].reshape(-1).tolist() for p in past],     # [heads, tokens, head_dim] each
                 "values": [p[1, 0].reshape(-1).tolist() for p in past]}
    greedy, logits = greedy_with_prefix(model, [(p[0], p[1]) for p in past], config["num_virtual_tokens"])
    reference["prompt_ids"] = PROMPT_IDS
    reference["greedy_ids"] = greedy
    reference["first_logits"] = logits
    with open(os.path.join(directory, "peft-reference.json"), "w") as f:
        json.dump(reference, f)


def main():
    g = torch.Generator().manual_seed(20261130)

    def randn(*shape, scale=0.5):
        return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).float()

    # tiny-gpt2: hidden 64, 2 layers, 4 heads of 16
    config = base_config("PROMPT_TUNING", "tiny-gpt2", 4, 64, 2, 4)
    config.update({"prompt_tuning_init": "RANDOM", "prompt_tuning_init_text": None, "tokenizer_kwargs": None,
                   "tokenizer_name_or_path": None})
    write("tiny-gpt2", "prompt-tuning", config, randn(4, 64))
    write("tiny-gpt2", "prompt-tuning-bf16", config, randn(4, 64).to(torch.bfloat16))

    config = base_config("P_TUNING", "tiny-gpt2", 4, 64, 2, 4)
    config.update({"encoder_dropout": 0.0, "encoder_hidden_size": 128, "encoder_num_layers": 2,
                   "encoder_reparameterization_type": "MLP"})
    write("tiny-gpt2", "p-tuning", config, randn(4, 64))

    config = base_config("PREFIX_TUNING", "tiny-gpt2", 3, 64, 2, 4)
    config.update({"encoder_hidden_size": 64, "prefix_projection": False})
    tensor = randn(3, 2 * 2 * 64)
    prefix_reference(write("tiny-gpt2", "prefix-tuning", config, tensor), config, tensor, "tiny-gpt2")

    # tiny-llama: hidden 64, 2 layers, 4 heads of 16, 2 kv heads: PEFT's GQA rule gives token_dim 32, heads 2
    config = base_config("PREFIX_TUNING", "tiny-llama", 3, 2 * 16, 2, 2)
    config.update({"encoder_hidden_size": 32, "prefix_projection": False})
    tensor = randn(3, 2 * 2 * 32)
    prefix_reference(write("tiny-llama", "prefix-tuning", config, tensor), config, tensor, "tiny-llama")


if __name__ == "__main__":
    main()
