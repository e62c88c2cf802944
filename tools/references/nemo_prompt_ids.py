"""Token ids of NeMo v1.15.0's prompt-learning dataset for NeMo's example templates, on
models/demo-gpt2/tokenizer.json: the expected values of PromptBuilderNemoTest.

Run: python3 tools/references/nemo_prompt_ids.py   (needs only the `regex` module)

The dataset code below is NeMo's, from NVIDIA/NeMo tag v1.15.0
(8c785ec5d1dadd952535bd0f68c614f935cbe99c),
nemo/collections/nlp/data/language_modeling/megatron/gpt_prompt_learning_dataset.py:
load_data (lines 133-188), _insert_text_in_template (239-252), _insert_virtual_token_placeholders
(254-265), _truncate_input (267-287), _find_answer_start (289-303), _add_leading_space (305-312),
find_subsequence_location (410-439), kept as written apart from `self`. The tokenizer is a
re-implementation, independent of the Java code, of what NeMo runs: transformers' slow
GPT2Tokenizer (NeMo's AutoTokenizer defaults to use_fast=False) with the pseudo tokens
<prompt_0>... added as additional special tokens (megatron_gpt_prompt_learning_model.py lines
171-173): PreTrainedTokenizer.tokenize splits the text on them and strips the whitespace left and
right of each (special tokens added as plain strings), then GPT-2's regex pre-tokenization and
byte-level BPE with the merges of tokenizer.json.
"""
import json
import os
import re as stdre

import regex as re

HERE = os.path.dirname(os.path.abspath(__file__))
TOKENIZER = os.path.join(HERE, '..', '..', 'models', 'demo-gpt2', 'tokenizer.json')
PSEUDO_BASE = 100000  # pseudo token ids, printed as -1 with their row


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(2 ** 8):
        if b not in bs:
            bs.append(b)
            cs.append(2 ** 8 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


class SlowGpt2:
    PAT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")

    def __init__(self, path, special):
        spec = json.load(open(path, encoding='utf-8'))
        self.vocab = spec['model']['vocab']
        merges = spec['model']['merges']
        merges = [tuple(m.split(' ')) if isinstance(m, str) else tuple(m) for m in merges]
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.byte_encoder = bytes_to_unicode()
        self.special = {t: PSEUDO_BASE + i for i, t in enumerate(special)}
        for t in spec['added_tokens']:
            self.special[t['content']] = t['id']

    def bpe(self, token):
        word = list(token)
        while len(word) > 1:
            pairs = [(self.ranks.get((word[i], word[i + 1]), 1 << 30), i) for i in range(len(word) - 1)]
            rank, _ = min(pairs)
            if rank == 1 << 30:
                break
            first, second = min(pairs)[1], None
            a, b = word[first], word[first + 1]
            out, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == a and word[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            word = out
        return word

    def text_ids(self, text):
        ids = []
        for piece in self.PAT.findall(text):
            encoded = ''.join(self.byte_encoder[b] for b in piece.encode('utf-8'))
            ids.extend(self.vocab[t] for t in self.bpe(encoded))
        return ids

    def text_to_ids(self, text):
        # PreTrainedTokenizer.tokenize: split on special tokens, strip left and right of each
        alternation = '|'.join(stdre.escape(t) for t in sorted(self.special, key=len, reverse=True))
        parts = [p for p in stdre.split('(' + alternation + ')', text)]
        for i, p in enumerate(parts):
            if p in self.special:
                if i + 1 < len(parts):
                    parts[i + 1] = parts[i + 1].lstrip()
                if i > 0:
                    parts[i - 1] = parts[i - 1].rstrip()
        ids = []
        for p in parts:
            if p in self.special:
                ids.append(self.special[p])
            elif p:
                ids.extend(self.text_ids(p))
        return ids


class NemoDataset:
    """The parts of GPTPromptLearningDataset that build one example, as in v1.15.0."""

    def __init__(self, tokenizer, task_templates, pseudo_tokens, max_seq_length, add_bos, add_eos, for_train,
                 eos_id=0, bos_id=0):
        self.tokenizer = tokenizer
        self.task_templates = task_templates
        self.pseudo_tokens = pseudo_tokens
        self.max_seq_length = max_seq_length
        self.add_bos = add_bos
        self.add_eos = add_eos
        self.for_train = for_train
        self.eos_id = eos_id
        self.bos_id = bos_id

    def example(self, doc):
        taskname = doc["taskname"]
        prompt_template = self.task_templates[taskname]["prompt_template"]
        prompt_template_fields = self.task_templates[taskname]["prompt_template_fields"]
        virtual_token_splits = self.task_templates[taskname]["virtual_token_splits"]
        truncation_field = self.task_templates[taskname]['truncate_field']
        answer_only_loss = self.task_templates[taskname]["answer_only_loss"]
        answer_field = self.task_templates[taskname]["answer_field"]
        input_example = prompt_template
        input_example = self._insert_text_in_template(input_example, prompt_template_fields, doc)
        input_example = self._insert_virtual_token_placeholders(input_example, virtual_token_splits)
        input_ids = self.tokenizer.text_to_ids(input_example)
        if self.add_bos:
            input_ids = [self.bos_id] + input_ids
        if self.add_eos:
            input_ids = input_ids + [self.eos_id]
        if len(input_ids) > self.max_seq_length:
            input_ids = self._truncate_input(truncation_field, input_ids, taskname, doc)
        answer_start_idx = None
        if answer_only_loss and self.for_train:
            answer_start_idx = self._find_answer_start(taskname, input_ids, answer_field, doc)
        return input_example, input_ids, answer_start_idx

    def _insert_text_in_template(self, input_example, prompt_template_fields, doc):
        for field in prompt_template_fields:
            if field in doc.keys():
                field_text = doc[field]
                input_example = input_example.replace('{' + field + '}', field_text)
            else:
                input_example = input_example.replace('{' + field + '}', "")
                input_example = input_example.strip()
        return input_example

    def _insert_virtual_token_placeholders(self, input_example, virtual_token_splits):
        total_inserted_tokens = 0
        for idx in range(len(virtual_token_splits)):
            split_start = total_inserted_tokens
            split_end = total_inserted_tokens + virtual_token_splits[idx]
            pseudo_tokens_for_split = "".join(self.pseudo_tokens[split_start:split_end])
            input_example = input_example.replace(f'<|VIRTUAL_PROMPT_{idx}|>', pseudo_tokens_for_split)
            total_inserted_tokens = split_end
        return input_example

    def _truncate_input(self, truncation_field, input_ids, taskname, doc):
        if truncation_field is not None and truncation_field in doc.keys():
            truncation_length = len(input_ids) - self.max_seq_length
            field_text = doc[truncation_field]
            field_text = self._add_leading_space(taskname, truncation_field, field_text)
            field_text_ids = self.tokenizer.text_to_ids(field_text)
            truncated_text_ids = field_text_ids[: -min(truncation_length, len(field_text_ids))]
            field_start, field_end = find_subsequence_location(input_ids, field_text_ids)
            input_ids = input_ids[:field_start] + truncated_text_ids + input_ids[field_end + 1:]
        return input_ids

    def _find_answer_start(self, taskname, input_ids, answer_field, doc):
        answer_text = doc[answer_field]
        answer_text = self._add_leading_space(taskname, answer_field, answer_text)
        answer_text_ids = self.tokenizer.text_to_ids(answer_text)
        num_answer_text_ids = len(answer_text_ids)
        if self.add_eos:
            num_answer_text_ids += 1
        answer_start_idx = len(input_ids) - num_answer_text_ids
        return answer_start_idx

    def _add_leading_space(self, taskname, field_name, field_text):
        prompt_template = self.task_templates[taskname]["prompt_template"]
        field_text_start = prompt_template.find("{" + field_name + "}")
        if field_text_start != 0 and prompt_template[field_text_start - 1] == " ":
            field_text = " " + field_text
        return field_text


def find_subsequence_location(sequence, subsequence):
    assert len(sequence) >= len(subsequence), "subsequence too long"
    start_idx = None
    next_subseq_token = subsequence[0]
    next_subsequence_idx = 1
    for seq_idx, token in enumerate(sequence):
        if token == next_subseq_token:
            if start_idx is None:
                start_idx = seq_idx
            if next_subsequence_idx == len(subsequence):
                end_idx = seq_idx
                return start_idx, end_idx
            else:
                next_subseq_token = subsequence[next_subsequence_idx]
                next_subsequence_idx += 1
        else:
            start_idx = None
            next_subseq_token = subsequence[0]
            next_subsequence_idx = 1
    raise ValueError("Subsequence not found in sequence")


# NeMo v1.15.0 examples/nlp/language_modeling/conf/megatron_gpt_prompt_learning_config.yaml lines 70-100,
# as load_task_templates reads them (megatron_gpt_prompt_learning_model.py lines 198-224)
CONFIG = [
    dict(taskname="boolq",
         prompt_template="<|VIRTUAL_PROMPT_0|> Passage: {passage} <|VIRTUAL_PROMPT_1|> \nQuestion: {question} \nAnswer: {answer}",
         total_virtual_tokens=30, virtual_token_splits=[20, 10], truncate_field="passage", answer_only_loss=True,
         answer_field="answer"),
    dict(taskname="intent_and_slot",
         prompt_template="<|VIRTUAL_PROMPT_0|> intent options: {intent_options} <|VIRTUAL_PROMPT_1|> slot options: {slot_options} <|VIRTUAL_PROMPT_2|> {utterance} \nintent: {intent} \nslot: {slot}",
         total_virtual_tokens=30, answer_only_loss=False, virtual_token_splits=[15, 10, 5], truncate_field=None),
    dict(taskname="rte", prompt_template="<|VIRTUAL_PROMPT_0|>{premise}\n{hypothesis}\nAnswer: {answer}",
         total_virtual_tokens=9, virtual_token_splits=[9], truncate_field=None, answer_only_loss=True,
         answer_field="answer"),
    dict(taskname="squad", prompt_template="<|VIRTUAL_PROMPT_0|> context: {context} question: {question} answer: {answer}",
         total_virtual_tokens=10, virtual_token_splits=[10], truncate_field=None, answer_only_loss=True,
         answer_field="answer"),
]

DOCS = {
    "boolq": {"taskname": "boolq", "passage": "Kamiro lives in Talenburg. Kamiro works as a pilot.",
              "question": "does Kamiro live in Talenburg?", "answer": "yes"},
    "intent_and_slot": {"taskname": "intent_and_slot", "intent_options": "alarm_set, weather_query",
                        "slot_options": "time, place", "utterance": "wake me up at 7 am",
                        "intent": "alarm_set", "slot": "time(7 am)"},
    "rte": {"taskname": "rte", "premise": "Kamiro works as a pilot.", "hypothesis": "Kamiro flies planes.",
            "answer": "entailment"},
    "squad": {"taskname": "squad", "context": "Kamiro lives in Talenburg.", "question": "Where does Kamiro live?",
              "answer": "Talenburg"},
}


def templates():
    out = {}
    for task in CONFIG:
        out[task["taskname"]] = {
            "prompt_template": task["prompt_template"],
            "prompt_template_fields": stdre.findall(r"\{(.*?)\}", task["prompt_template"]),
            "answer_only_loss": task.get("answer_only_loss", False),
            "answer_field": task.get("answer_field", None),
            "truncate_field": task["truncate_field"],
            "total_virtual_tokens": task["total_virtual_tokens"],
            "virtual_token_splits": task["virtual_token_splits"],
        }
    return out


def show(ids):
    return [-1 if i >= PSEUDO_BASE else i for i in ids]


def main():
    pseudo = ["<prompt_%d>" % i for i in range(30)]
    tok = SlowGpt2(TOKENIZER, pseudo)
    tt = templates()
    for name, doc in DOCS.items():
        train = NemoDataset(tok, tt, pseudo, 2048, add_bos=False, add_eos=True, for_train=True)
        text, ids, start = train.example(doc)
        print(name, "training (add_eos, eos id 0):", repr(text))
        print("  ids", show(ids), "answer_start", start)
        # inference: NeMo's generate() builds the dataset with for_train=False, add_eos=False and
        # the answer field left out of the example (the model writes it); intent_and_slot has no
        # answer_field, so its example gives every field
        infer_doc = {k: v for k, v in doc.items() if k != tt[name]["answer_field"]}
        infer = NemoDataset(tok, tt, pseudo, 2048, add_bos=True, add_eos=False, for_train=False)
        text, ids, _ = infer.example(infer_doc)
        print(name, "inference (add_bos, bos id 0):", repr(text))
        print("  ids", show(ids))
    # _truncate_input: boolq's passage cut by 3 tokens
    train = NemoDataset(tok, tt, pseudo, 2048, add_bos=False, add_eos=True, for_train=True)
    _, full, _ = train.example(DOCS["boolq"])
    train.max_seq_length = len(full) - 3
    _, ids, start = train.example(DOCS["boolq"])
    print("boolq truncated to", len(full) - 3, "(add_eos):", show(ids), "answer_start", start)
    print("' yes' ->", tok.text_to_ids(" yes"), "'yes' ->", tok.text_to_ids("yes"), "' ' ->", tok.text_to_ids(" "))


if __name__ == '__main__':
    main()
