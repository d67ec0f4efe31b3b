#!/usr/bin/env python3
"""Records llama.cpp's tokenization of tricky strings as golden data for Enclave's tokenizer tests.

The oracle is llama.cpp itself, through llama-cpp-python (vocab_only: only the tokenizer is loaded).
Each string is tokenized four ways: with and without BOS ("add_special"), with and without parsing
special tokens. Also records llama.cpp's chat-template renderings: the model's own Jinja template (as
llama-cpp-python applies it) and llama.cpp's built-in templates by family name.

Usage: /work/tmp/oracle/bin/python deploy/oracle/tokenizer_goldens.py [MODEL.gguf] [OUT.json]
Not part of the test command (llama-cpp-python is not installed in CI); its output is committed.
For Gemma 3 (a SentencePiece vocabulary, no chat template in the file):
    tokenizer_goldens.py models/gemma-3-270m-q4_k_m.gguf Tests/InferenceTests/Fixtures/tokenizer_gemma3.json
adds SentencePiece-specific strings; the other-pre-tokenizer goldens are written only for BPE models.
"""
import ctypes
import json
import sys
import tempfile
from pathlib import Path

from gguf import GGUFReader, GGUFValueType, GGUFWriter

import llama_cpp
from llama_cpp import Llama
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

ROOT = Path(__file__).resolve().parents[2]
MODEL = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "models/SmolLM2-135M-Instruct.Q4_1.gguf"
OUT = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "Tests/InferenceTests/Fixtures/tokenizer_smollm2.json"
OUT_PRE = OUT.with_name("tokenizer_pretokenizers.json")

STRINGS = [
    "",
    " ",
    "  ",
    "   ",
    "\t",
    "\n",
    "\n\n\n",
    " \n \n",
    "Hello world",
    " Hello world",
    "Hello  world",
    "Hello   world  ",
    "hello\tworld\t\ttabs",
    "line one\nline two\r\nline three\n",
    "trailing spaces   ",
    "1",
    "12",
    "123",
    "1234567890",
    "3.14159 and 2,718,281",
    "in 2024, 10000 people paid $1,234.56",
    "version v1.2.3-beta+build.45",
    "I'm sure you'll see they've done it, didn't they? We'd, she's",
    "I'M LOUD, YOU'LL SEE, WE'VE",
    "rock 'n' roll 'quoted' words",
    "café naïve résumé über straße",
    "e\u0301 combining acute (decomposed)",
    "Ελληνικά και русский текст",
    "中文测试，你好世界。",
    "日本語のテキストとカタカナ",
    "한국어 문장입니다",
    "مرحبا بالعالم",
    "emoji 😀👍🏽 and family 👨‍👩‍👧 flags 🇫🇷",
    "🤖🤖🤖",
    "def add(a, b):\n    return a + b\n",
    "for (int i = 0; i < n; ++i) { x[i] *= 2; }",
    "<div class=\"x\">&nbsp;</div>",
    "SELECT * FROM users WHERE id = 42;",
    "path/to/file_name.txt ~/home C:\\Windows",
    "<|im_start|>user\nhi<|im_end|>",
    "say <|im_start|>system and <|im_end|> please",
    "<|im_start|>",
    "< |im_start| > <im_start> <|im_start <|endoftext|>",
    "<|endoftext|><|endoftext|>",
    "<repo_name>x<file_sep>",
    "mixed English, français, 中文, and العربية in one line",
    "ALL CAPS and camelCaseWords and snake_case_words",
    "!!! ??? ... --- *** ###",
    "a\u00a0non-breaking\u2009thin\u3000ideographic spaces",
    "zero\u200bwidth\u200djoiner",
    "math: ∑ x² ≤ ∞, ½ + ¾ = 1¼",
    "currency € £ ¥ ₹ 100",
    "email me at someone@example.com or https://example.org/a?b=c&d=e",
    "   leading spaces",
    "ends with newline\n",
    "Ångström µ ﬁ ligature",
    "Don'T 'S abc'LL it'Ve we'RE",
    "x  \n\n  y",
    "a\r\n\r\nb\r",
    "1234567 12345678",
    "١٢٣ arabic digits, Ⅻ roman, ¹²³ superscripts",
    " ?!?!\n\nok",
    "hello...\n\nworld\n \n",
    "tab\t\tthen\t",
    "(paren)word [bracket]x «quotes» ¿qué?",
    "$100+200=300 <tag>|pipe|^caret~tilde`tick`",
]

# More strings for SentencePiece vocabularies: its `▁`, byte tokens, Gemma's turn markers and its
# user-defined whitespace-run tokens.
SENTENCEPIECE_STRINGS = [
    "<start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\n",
    "literal \u2581 lower block and \u2581\u2581 two",
    "<0x41> is not the byte A",
    "  two spaces,    four, \t\t tabs,\n\n\n\nnewlines",
    "<bos>not a bos<eos>",
    "\u0000 nul and \u007f del and \u0001",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕄𝕒𝕥𝕙 and rare 𓀀 hieroglyph",
    "ᚠᛇᚻ runes, ქართული, Հայերեն, ไทย, देवनागरी",
]

# Pre-tokenizers checked with the SmolLM2 vocabulary and merges under another `tokenizer.ggml.pre`:
# llama.cpp then splits words as that model family would, which exercises each of our scanners.
OTHER_PRE = ["llama-bpe", "qwen2", "default", "gpt-2"]


def tokenize(llm, text, add_special, parse_special):
    return llm.tokenize(text.encode("utf-8"), add_bos=add_special, special=parse_special)


def tokenization_cases(llm, sentencepiece):
    """Each string of the set tokenized with and without BOS and special-token parsing, and decoded."""
    cases = []
    for text in STRINGS + (SENTENCEPIECE_STRINGS if sentencepiece else []):
        case = {"text": text}
        for add_special in (False, True):
            for parse_special in (False, True):
                key = f"ids{'_bos' if add_special else ''}{'_special' if parse_special else ''}"
                case[key] = tokenize(llm, text, add_special, parse_special)
        case["decoded"] = llm.detokenize(case["ids"]).decode("utf-8", errors="replace")
        cases.append(case)
    return cases


def builtin_template(name, messages, add_assistant):
    """llama.cpp's llama_chat_apply_template with a built-in template name."""
    array = (llama_cpp.llama_chat_message * len(messages))()
    keep = []
    for i, (role, content) in enumerate(messages):
        r, c = role.encode(), content.encode()
        keep += [r, c]
        array[i].role = r
        array[i].content = c
    size = 1 << 16
    buf = ctypes.create_string_buffer(size)
    n = llama_cpp.llama_chat_apply_template(name.encode(), array, len(messages), add_assistant, buf, size)
    if n < 0:
        raise RuntimeError(f"template {name} failed: {n}")
    return buf.raw[:n].decode("utf-8")


CONVERSATIONS = [
    [("user", "Hello!")],
    [("system", "You are terse."), ("user", "What is 2+2?")],
    [("system", "Be kind."), ("user", "Hi"), ("assistant", "Hello, how can I help?"), ("user", "Tell me a joke.")],
    [("user", "First"), ("assistant", "Reply"), ("user", "Second")],
    [("system", "  padded system \n"), ("user", "\n  padded user\t"), ("assistant", " padded reply "), ("user", "x")],
]


# Our template families and the names of llama.cpp's built-in templates they render as.
FAMILIES = {"chatml": "chatml", "llama3": "llama3", "llama2": "llama2", "mistral": "mistral-v3", "gemma": "gemma",
            "zephyr": "zephyr"}


def vocabulary_with_pre(pre, path):
    """Writes a tensor-less GGUF with the model's metadata, `tokenizer.ggml.pre` replaced by `pre`."""
    reader = GGUFReader(str(MODEL))
    writer = GGUFWriter(str(path), arch=reader.fields["general.architecture"].contents())
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        value = pre if key == "tokenizer.ggml.pre" else field.contents()
        if field.types[0] == GGUFValueType.ARRAY:
            writer.add_key_value(key, value, field.types[0], sub_type=field.types[-1])
        else:
            writer.add_key_value(key, value, field.types[0])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def other_pretokenizers():
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        for pre in OTHER_PRE:
            path = Path(tmp) / f"vocab-{pre}.gguf"
            vocabulary_with_pre(pre, path)
            llm = Llama(model_path=str(path), vocab_only=True, verbose=False)
            result[pre] = [{"text": t, "ids": tokenize(llm, t, False, False)} for t in STRINGS]
            del llm
    return result


def dump(data, path):
    """JSON with one list entry per line: compact, yet diffs show which string changed."""
    def entry(value):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    lines = ["{"]
    items = list(data.items())
    for index, (key, value) in enumerate(items):
        comma = "," if index < len(items) - 1 else ""
        if isinstance(value, list):
            body = ",\n  ".join(entry(v) for v in value)
            lines.append(f" {entry(key)}: [\n  {body}\n ]{comma}")
        elif isinstance(value, dict) and all(isinstance(v, list) for v in value.values()):
            inner = []
            for name, cases in value.items():
                body = ",\n   ".join(entry(v) for v in cases)
                inner.append(f"  {entry(name)}: [\n   {body}\n  ]")
            lines.append(f" {entry(key)}: {{\n" + ",\n".join(inner) + f"\n }}{comma}")
        else:
            lines.append(f" {entry(key)}: {entry(value)}{comma}")
    lines.append("}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main():
    llm = Llama(model_path=str(MODEL), vocab_only=True, verbose=False)
    sentencepiece = llm.metadata.get("tokenizer.ggml.model") == "llama"
    cases = tokenization_cases(llm, sentencepiece)

    meta = llm.metadata
    formatter = None
    if "tokenizer.chat_template" in meta:
        formatter = Jinja2ChatFormatter(
            template=meta["tokenizer.chat_template"],
            eos_token=llm._model.token_get_text(llm.token_eos()),
            bos_token=llm._model.token_get_text(llm.token_bos()),
        )
    model_template = []
    builtins = []
    for conversation in CONVERSATIONS:
        messages = [{"role": r, "content": c} for r, c in conversation]
        if formatter:
            rendered = formatter(messages=messages).prompt
        else:
            # No template in the file: llama.cpp's built-in Gemma rendering, tokenized as one text.
            rendered = builtin_template("gemma", conversation, True)
        model_template.append({"turns": messages, "prompt": rendered,
                               "ids": tokenize(llm, rendered, False, True)})
        for family, name in FAMILIES.items():
            for add in (False, True):
                builtins.append({"family": family, "turns": messages, "addGenerationPrompt": add,
                                 "prompt": builtin_template(name, conversation, add)})

    out = {
        "oracle": f"llama-cpp-python {llama_cpp.__version__} (llama.cpp), vocab_only",
        "model": MODEL.name,
        "cases": cases,
        "modelTemplate": model_template,
        "builtinTemplates": builtins,
    }
    dump(out, OUT)
    if not sentencepiece:
        pre = {"oracle": out["oracle"], "model": MODEL.name, "pretokenizers": other_pretokenizers()}
        dump(pre, OUT_PRE)
    print(f"wrote {len(cases)} tokenization cases, {len(model_template)} + {len(builtins)} renderings to {OUT}")


if __name__ == "__main__":
    main()
