#!/usr/bin/env python3
"""Writes the tiny random-weight GGUF files the engine's architecture tests compare with llama.cpp.

Each file is a two-layer model of one architecture with Q8_0 weights drawn from a seeded generator and
a small vocabulary learned here from a fixed text, written with PyPI's `gguf` package (not with our own
writer, so a misreading of the format on our side cannot cancel out):
  - tiny-qwen3.gguf      qwen3: per-head query/key RMSNorm, key_length 32 (queries wider than the model),
                         byte-level BPE vocabulary with the qwen2 pre-tokenizer, a ChatML template;
  - tiny-phi3.gguf       phi3: fused attn_qkv, fused gate+up in ffn_up, untied output, SentencePiece vocabulary;
  - tiny-llama-spm.gguf  llama with a SentencePiece vocabulary (Llama 2 / Mistral family): grouped KV heads,
                         byte fallback, [INST] control tokens and Mistral's v3 chat template.
The files are deterministic for pinned `gguf` and `numpy` (deploy/install-deps.sh); the goldens record
each file's SHA-256, so a drift in the generator fails the tests by name instead of comparing other weights.

Usage: python deploy/tiny_models.py OUTPUT_DIR      (the test venv's python; made by the tests themselves)
Goldens: deploy/oracle/tiny_goldens.py runs this and llama.cpp over the files (not part of CI).
"""
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType, GGUFWriter, TokenType
from gguf.quants import quantize

# Fixed training text for the vocabularies: prose, code and digits.
TEXT = """The patient was admitted to the hospital with a fever and a cough. The doctor said that the
results of the test were normal, and the nurse wrote them in the record. Once upon a time, in a small
village by the sea, there lived an old fisherman and his wife. def fibonacci(n): return n if n < 2 else
fibonacci(n - 1) + fibonacci(n - 2). In 2024, 10000 people paid $1,234.56 for the tickets. Hello world!
What is the capital of France? It is Paris, and the capital of Italy is Rome."""

MERGES = 120  # merges learned for each vocabulary
LONGROPE_ORIGINAL_CONTEXT = 512  # tiny-phi3-longrope: longer contexts take the long factors

CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
# Mistral's v3 template as its model files ship it (shortened to the parts llama.cpp looks for).
MISTRAL_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
    "{% if loop.last and tools is not none %}{{ '[AVAILABLE_TOOLS] [' }}{{ tools|tojson }}{{ '][/AVAILABLE_TOOLS]' }}"
    "{% endif %}{{ '[INST] ' + message['content'] + '[/INST]' }}{% elif message['role'] == 'assistant' %}"
    "{{ ' ' + message['content']|trim + eos_token }}{% endif %}{% endfor %}")


def learn_merges(words, count):
    """Byte-pair merges over `words` (lists of symbols): the most frequent adjacent pair each round, ties
    broken by the pair's text, so the result depends on nothing but the input."""
    words = [list(w) for w in words]
    merges = []
    for _ in range(count):
        pairs = {}
        for w in words:
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + 1
        if not pairs:
            break
        best = max(pairs, key=lambda p: (pairs[p], p))
        merges.append(best)
        for w in words:
            i = 0
            while i < len(w) - 1:
                if (w[i], w[i + 1]) == best:
                    w[i:i + 2] = [w[i] + w[i + 1]]
                i += 1
    return merges


def byte_level_alphabet():
    """GPT-2's printable stand-ins for the 256 bytes."""
    visible = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars, extra = {}, 0
    for b in range(256):
        if b in visible:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return chars


def bpe_vocabulary():
    """A byte-level BPE vocabulary (as Qwen's): 256 byte symbols, learned merges, ChatML specials."""
    alphabet = byte_level_alphabet()
    words = []
    for i, word in enumerate(TEXT.replace("\n", " ").split(" ")):
        text = (" " if i else "") + word
        words.append([alphabet[b] for b in text.encode()])
    merges = learn_merges(words, MERGES)
    tokens = [alphabet[b] for b in range(256)] + [a + b for a, b in merges]
    types = [TokenType.NORMAL] * len(tokens)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tokens += specials
    types += [TokenType.CONTROL] * len(specials)
    return tokens, types, [f"{a} {b}" for a, b in merges]


def spm_vocabulary(extra_controls):
    """A SentencePiece vocabulary (as Llama 2's): <unk> <s> </s>, the 256 byte tokens, the characters of
    the text, and pieces learned by merging, each scored so earlier merges win."""
    tokens = ["<unk>", "<s>", "</s>"] + extra_controls
    types = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL] + [TokenType.CONTROL] * len(extra_controls)
    scores = [0.0] * len(tokens)
    for b in range(256):
        tokens.append(f"<0x{b:02X}>")
        types.append(TokenType.BYTE)
        scores.append(0.0)
    words = [list("\u2581" + w) for w in TEXT.replace("\n", " ").split(" ")]
    characters = sorted({c for w in words for c in w})
    for c in characters:
        tokens.append(c)
        types.append(TokenType.NORMAL)
        scores.append(-1000.0)
    for rank, (a, b) in enumerate(learn_merges(words, MERGES)):
        if a + b not in tokens:
            tokens.append(a + b)
            types.append(TokenType.NORMAL)
            scores.append(-float(rank))
    return tokens, types, scores


class Model:
    """Writes one model's tensors: Q8_0 matrices and f32 norm vectors from one seeded generator."""

    def __init__(self, writer, seed):
        self.writer = writer
        self.rng = np.random.default_rng(seed)

    def matrix(self, name, rows, cols, scale):
        values = (self.rng.uniform(-1, 1, size=(rows, cols)) * scale).astype(np.float32)
        self.writer.add_tensor(name, quantize(values, GGMLQuantizationType.Q8_0),
                               raw_dtype=GGMLQuantizationType.Q8_0)

    def vector(self, name, count, center):
        values = (center + self.rng.uniform(-0.1, 0.1, size=count)).astype(np.float32)
        self.writer.add_tensor(name, values)


def common(writer, arch, dim, hidden, heads, kv_heads, layers, rope_base):
    writer.add_name(f"tiny-{arch}")
    writer.add_context_length(4096)
    writer.add_embedding_length(dim)
    writer.add_feed_forward_length(hidden)
    writer.add_block_count(layers)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_freq_base(rope_base)
    writer.add_layer_norm_rms_eps(1e-6)


def finish(writer, path):
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    print(path)


def write_qwen3(path):
    dim, hidden, heads, kv_heads, head_dim, layers = 64, 128, 4, 2, 32, 2
    writer = GGUFWriter(path, "qwen3")
    common(writer, "qwen3", dim, hidden, heads, kv_heads, layers, 1_000_000.0)
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    tokens, types, merges = bpe_vocabulary()
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_eos_token_id(tokens.index("<|im_end|>"))
    writer.add_bos_token_id(tokens.index("<|endoftext|>"))
    writer.add_add_bos_token(False)
    writer.add_chat_template(CHATML_TEMPLATE)
    m = Model(writer, 3)
    m.matrix("token_embd.weight", len(tokens), dim, 1.0)
    for l in range(layers):
        m.vector(f"blk.{l}.attn_norm.weight", dim, 1.0)
        m.matrix(f"blk.{l}.attn_q.weight", heads * head_dim, dim, 0.3)
        m.matrix(f"blk.{l}.attn_k.weight", kv_heads * head_dim, dim, 0.3)
        m.matrix(f"blk.{l}.attn_v.weight", kv_heads * head_dim, dim, 0.3)
        m.vector(f"blk.{l}.attn_q_norm.weight", head_dim, 1.0)
        m.vector(f"blk.{l}.attn_k_norm.weight", head_dim, 1.0)
        m.matrix(f"blk.{l}.attn_output.weight", dim, heads * head_dim, 0.2)
        m.vector(f"blk.{l}.ffn_norm.weight", dim, 1.0)
        m.matrix(f"blk.{l}.ffn_gate.weight", hidden, dim, 0.3)
        m.matrix(f"blk.{l}.ffn_up.weight", hidden, dim, 0.3)
        m.matrix(f"blk.{l}.ffn_down.weight", dim, hidden, 0.2)
    m.vector("output_norm.weight", dim, 1.0)
    finish(writer, path)


def spm_tokenizer(writer, extra_controls, template):
    tokens, types, scores = spm_vocabulary(extra_controls)
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_add_space_prefix(True)
    if template:
        writer.add_chat_template(template)
    return len(tokens)


def write_phi3(path, longrope=False):
    dim, hidden, heads, layers = 64, 128, 4, 2
    writer = GGUFWriter(path, "phi3")
    common(writer, "phi3", dim, hidden, heads, heads, layers, 10000.0)
    writer.add_rope_dimension_count(dim // heads)
    if longrope:
        # Phi 3.5's LongRoPE, as its converter writes it: the context trained before the extension, the
        # multiplier of cos and sin, and two sets of frequency divisors (the tensors, below).
        writer.add_rope_scaling_orig_ctx_len(LONGROPE_ORIGINAL_CONTEXT)
        writer.add_rope_scaling_attn_factors(1.19)
    vocabulary = spm_tokenizer(writer, ["<|endoftext|>", "<|user|>", "<|assistant|>", "<|end|>"], None)
    m = Model(writer, 5)
    m.matrix("token_embd.weight", vocabulary, dim, 1.0)
    for l in range(layers):
        m.vector(f"blk.{l}.attn_norm.weight", dim, 1.0)
        m.matrix(f"blk.{l}.attn_qkv.weight", 3 * dim, dim, 0.3)
        m.matrix(f"blk.{l}.attn_output.weight", dim, dim, 0.2)
        m.vector(f"blk.{l}.ffn_norm.weight", dim, 1.0)
        m.matrix(f"blk.{l}.ffn_up.weight", 2 * hidden, dim, 0.3)
        m.matrix(f"blk.{l}.ffn_down.weight", dim, hidden, 0.2)
    m.vector("output_norm.weight", dim, 1.0)
    m.matrix("output.weight", vocabulary, dim, 0.5)
    if longrope:
        # Divisors growing with the pair's wavelength, the long set further than the short, as in Phi 3.5's.
        pairs = np.arange(dim // heads // 2, dtype=np.float32)
        writer.add_tensor("rope_factors_short.weight", (1 + 0.25 * pairs).astype(np.float32))
        writer.add_tensor("rope_factors_long.weight", (1 + 2.5 * pairs ** 1.5).astype(np.float32))
    finish(writer, path)


def write_phi3_longrope(path):
    write_phi3(path, longrope=True)


def write_llama_spm(path):
    dim, hidden, heads, kv_heads, layers = 64, 128, 4, 2, 2
    writer = GGUFWriter(path, "llama")
    common(writer, "llama", dim, hidden, heads, kv_heads, layers, 10000.0)
    writer.add_rope_dimension_count(dim // heads)
    vocabulary = spm_tokenizer(writer, ["[INST]", "[/INST]"], MISTRAL_TEMPLATE)
    m = Model(writer, 11)
    m.matrix("token_embd.weight", vocabulary, dim, 1.0)
    for l in range(layers):
        m.vector(f"blk.{l}.attn_norm.weight", dim, 1.0)
        m.matrix(f"blk.{l}.attn_q.weight", dim, dim, 0.3)
        m.matrix(f"blk.{l}.attn_k.weight", kv_heads * dim // heads, dim, 0.3)
        m.matrix(f"blk.{l}.attn_v.weight", kv_heads * dim // heads, dim, 0.3)
        m.matrix(f"blk.{l}.attn_output.weight", dim, dim, 0.2)
        m.vector(f"blk.{l}.ffn_norm.weight", dim, 1.0)
        m.matrix(f"blk.{l}.ffn_gate.weight", hidden, dim, 0.3)
        m.matrix(f"blk.{l}.ffn_up.weight", hidden, dim, 0.3)
        m.matrix(f"blk.{l}.ffn_down.weight", dim, hidden, 0.2)
    m.vector("output_norm.weight", dim, 1.0)
    m.matrix("output.weight", vocabulary, dim, 0.5)
    finish(writer, path)


WRITERS = {"tiny-qwen3.gguf": write_qwen3, "tiny-phi3.gguf": write_phi3, "tiny-llama-spm.gguf": write_llama_spm}
# Written beside them; its goldens come from the native llama.cpp (deploy/oracle/longrope_goldens.py).
EXTRA_WRITERS = {"tiny-phi3-longrope.gguf": write_phi3_longrope}


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: tiny_models.py OUTPUT_DIR")
    os.makedirs(sys.argv[1], exist_ok=True)
    for name, write in {**WRITERS, **EXTRA_WRITERS}.items():
        write(os.path.join(sys.argv[1], name))


if __name__ == "__main__":
    main()
