#!/usr/bin/env python3
"""Writes the two tiny tokenizer.json fixtures of the `table --tokenizer` tests (stdlib only; run from this
directory). Both follow the Hugging Face tokenizers JSON format (tokenizers 0.21) and have no merges: the
tests only decode ids one by one, which uses the vocabulary, the added tokens and the decoder.

- byte_level_bpe.tokenizer.json: DeepSeek-V3-like byte-level BPE. Ids 0..44 are the 45-token vocabulary of
  golden_hash.json lookup_construction.raw_tokens (id 33 is "Ãĳ", the byte-level form of "Ñ": the golden
  raw token "ÃĳX" disagrees with its decoded "Ñ"), special tokens 0..2 also in added_tokens as DeepSeek-V3
  has them; then " .", ".", " …", "ok ." (changed by clean_up_tokenization) and two added tokens beyond
  the model vocabulary.
- byte_fallback_bpe.tokenizer.json: Llama/SentencePiece-like BPE with byte_fallback, "▁" for spaces and the
  decoder Replace("▁"→" ") → ByteFallback → Fuse → Strip(1 leading " ").
"""
import json

GOLDEN_45 = [
    "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>", "The", "the", "Ġthe", "THE", "ĠThe",
    "ĠĠthe", "ĉtheĊ", "Ã©", "e", "Ãī", "cafÃ©", "cafe", "ĠcafÃ©", "Ġ", "ĠĠ", "Ċ", "ĉ", "ĠĊĠ", "ĊĊ", "čĊ",
    "ï¬ģ", "fi", "ï¼¡", "a", "âĳł", "1", "âĢ", "Ģ", "xâ", "Ìģ", "Ãĳ", "n", "Ã±", "Hello", "Ġhello",
    "HELLOĠ", "ÃŁ", "ss", "Âł", "Î©", "Ïī", "âĦ¦",
]


def added(id_, content, special):
    return {"id": id_, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": not special, "special": special}


def bpe(vocab, unk, byte_fallback):
    return {"type": "BPE", "dropout": None, "unk_token": unk, "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": byte_fallback, "byte_fallback": byte_fallback,
            "ignore_merges": False, "vocab": {t: i for i, t in enumerate(vocab)}, "merges": []}


def byte_level():
    vocab = GOLDEN_45 + ["Ġ.", ".", "ĠâĢ¦", "okĠ."]
    n = len(vocab)
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(i, vocab[i], True) for i in range(3)]
                        + [added(n, "<think>", False), added(n + 1, "<｜tool▁call｜>", True)],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": bpe(vocab, None, False),
    }


def byte_fallback():
    vocab = ["<unk>", "<s>", "</s>", "<0x0A>", "<0x20>", "<0xC3>", "<0xA9>", "<0xE2>", "<0x41>", "▁", "▁▁",
             "▁the", "▁The", "the", "The", "▁café", "cafe", "é", "É", "▁▁▁", "ﬁ", "fi", "▁\u2126", "ω", "▁.",
             "▁'s", "\u0301"]
    n = len(vocab)
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(i, vocab[i], True) for i in range(3)] + [added(n, "<|im_start|>", True)],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "▁"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
        "pre_tokenizer": None,
        "post_processor": None,
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
            {"type": "ByteFallback"},
            {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": bpe(vocab, "<unk>", True),
    }


for name, tok in (("byte_level_bpe", byte_level()), ("byte_fallback_bpe", byte_fallback())):
    with open(name + ".tokenizer.json", "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, indent=1)
        f.write("\n")
