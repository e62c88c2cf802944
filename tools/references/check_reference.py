"""Checks the plain PyTorch decoder (decoder.py) against a model's existing reference.json.

Prints, per model: greedy ids equal or not, and per case the loss difference, the relative L2 error
of d loss / d virtual and the top-5 next tokens. Exits non-zero when they disagree, so the
references written by make_references.py are only trusted on a forward that reproduces these.

  /usr/bin/python3 tools/references/check_reference.py [models/tiny-gpt2 ...]
"""

import json
import os
import sys

import torch

from decoder import Decoder, answer_loss, relative_l2

LOSS_TOLERANCE = 1e-5  # relative
GRAD_TOLERANCE = 1e-4  # relative L2


def greedy(decoder, prompt_ids, steps):
    ids = list(prompt_ids)
    with torch.no_grad():
        for _ in range(steps):
            logits, _ = decoder.forward(decoder.embed(ids), list(range(len(ids))))
            ids.append(int(logits[0, -1].argmax()))
    return ids[len(prompt_ids):]


def case_loss_and_grad(decoder, case):
    """The reference.json convention: inputs_embeds = concat(virtual, wte[prompt + answer])."""
    virtual = torch.tensor(case["virtual"], dtype=decoder.dtype, requires_grad=True)
    ids = case["prompt_ids"] + case["answer_ids"]
    x = torch.cat([virtual, decoder.embed(ids)], dim=0)
    logits, _ = decoder.forward(x, list(range(x.shape[0])))
    loss = answer_loss(logits, virtual.shape[0] + len(case["prompt_ids"]), case["answer_ids"])
    loss.backward()
    return float(loss), virtual.grad, logits[0, -1]


def check(model_dir):
    decoder = Decoder(model_dir)
    with open(os.path.join(model_dir, "reference.json")) as f:
        ref = json.load(f)
    ok = True
    g = ref["greedy"]
    got = greedy(decoder, g["prompt_ids"], len(g["generated_ids"]))
    same = got == g["generated_ids"]
    ok &= same
    print(f"{decoder.name}: greedy {'equal' if same else 'DIFFERENT'} ({len(got)} tokens)")
    for i, case in enumerate(ref["cases"]):
        loss, grad, last = case_loss_and_grad(decoder, case)
        loss_err = abs(loss - case["loss"]) / abs(case["loss"])
        grad_err = relative_l2(grad, case["grad"])
        top5 = [int(t) for t in last.topk(5).indices]
        top5_same = top5 == case["last_logits_top5"]
        ok &= loss_err <= LOSS_TOLERANCE and grad_err <= GRAD_TOLERANCE and top5_same
        print(f"{decoder.name}: case {i} loss {loss:.9f} vs {case['loss']:.9f} (rel {loss_err:.1e}), "
              f"grad rel L2 {grad_err:.1e}, top5 {'equal' if top5_same else 'DIFFERENT ' + str(top5)}")
    return ok


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.normpath(os.path.join(here, "..", ".."))
    dirs = argv or [os.path.join(root, "models", m) for m in ("tiny-gpt2", "tiny-llama", "demo-gpt2")]
    results = [check(d) for d in dirs]
    if not all(results):
        print("reference.json NOT reproduced")
        return 1
    print("reference.json reproduced for every model")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
