"""The embedded tiny base: built once per checkout and cached under models/ (tests/conftest.py), loaded like any hub
model."""
from __future__ import annotations

import json
import re
import shutil
import unicodedata

from scripts.make_sample import PERSONA_MARKERS  # the sample persona's style markers (scripts/persona.toml)
from training import tiny_base
from training.generic_corpus import TOPICS, generic_conversations

TRICKY = [
    "你好，世界！今天吃了吗？",
    "Hello, world! How's it going?",
    " 123456 7890 3.14159",
    "2024年3月1日 12:30，¥88.00",
    "😀😂👍🏻❤️🤦‍♂️🐱",
    "全角：，。！？【】（）《》“”…",
    "~～~~ 好的~",
    "[旺柴][捂脸][破涕为笑]哈哈哈",
    "冲鸭！绝了🐱",
    "café naïve",
    "\t\n  multiple   spaces\n\n",
    "ＡＢＣ１２３",
    "𠮷野家 ሀ ꙮ",  # rare characters: only the byte-level alphabet covers them
    "don't I'LL we've",
    "한국어 日本語 ひらがな",
    "<|im_start|>user\nhi<|im_end|>\n",
]

# Not in the corpus verbatim (asserted below), so generation is on unseen wording.
HELD_OUT = ["晚上想吃点啥？", "周末准备干嘛？", "最近上班忙不忙？", "What's for dinner tonight?",
            "Doing anything fun this weekend?", "How was your Monday?"]


# --- generic corpus (no model needed) ---------------------------------------------------------------------------

def test_corpus_is_deterministic_and_well_formed():
    convs = generic_conversations(3000, seed=0)
    assert convs == generic_conversations(3000, seed=0)
    assert convs != generic_conversations(3000, seed=1)
    assert len(convs) == 3000
    for conv in convs:
        assert 1 <= len(conv) // 2 <= 3 and len(conv) % 2 == 0
        assert [m["role"] for m in conv] == ["user", "assistant"] * (len(conv) // 2)
        assert all(m["content"].strip() and "{" not in m["content"] for m in conv)  # every slot filled
    texts = [m["content"] for conv in convs for m in conv]
    assert any("\u4e00" <= ch <= "\u9fff" for t in texts[:50] for ch in t)  # Chinese present
    assert sum(t.isascii() for t in texts) > len(texts) / 3  # English present
    assert len(set(texts)) > 1000  # varied wording, not a handful of strings
    assert len(TOPICS) == 9


def test_corpus_never_uses_persona_markers():
    for seed in (0, 1, 2):
        for conv in generic_conversations(3000, seed=seed):
            for m in conv:
                assert not any(mark in m["content"] for mark in PERSONA_MARKERS), m


def test_held_out_prompts_are_not_in_corpus():
    users = {m["content"] for conv in generic_conversations(3000, seed=0) for m in conv if m["role"] == "user"}
    assert not users & set(HELD_OUT)


# --- tokenizer ---------------------------------------------------------------------------------------------------

def test_reloads_as_qwen2_tokenizer_with_identical_ids(base_dir, tok):
    from tokenizers import Tokenizer

    assert type(tok).__name__ == "Qwen2Tokenizer"
    raw = Tokenizer.from_file(str(base_dir / "tokenizer.json"))  # what was trained, before transformers rebuilt it
    for text in TRICKY:
        ids = tok(text, add_special_tokens=False)["input_ids"]
        assert ids == raw.encode(text, add_special_tokens=False).ids, text
        assert tok.decode(ids) == unicodedata.normalize("NFC", text), text  # NFC normaliser, like Qwen2
    assert len(tok) == tiny_base.VOCAB_SIZE
    assert (tok.pad_token, tok.pad_token_id) == ("<|endoftext|>", 0)
    assert tok.convert_tokens_to_ids("<|im_start|>") == 1
    assert (tok.eos_token, tok.eos_token_id) == ("<|im_end|>", 2)
    assert tok("<|im_start|>assistant\n", add_special_tokens=False)["input_ids"][0] == 1  # special, not split


def test_tokenizer_files_alone_load_as_qwen2(base_dir, tok, tmp_path):
    from transformers import AutoTokenizer

    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        shutil.copy(base_dir / name, tmp_path / name)
    alone = AutoTokenizer.from_pretrained(tmp_path)  # no config.json to infer the class from
    assert type(alone).__name__ == "Qwen2Tokenizer"
    for text in TRICKY:
        assert alone(text)["input_ids"] == tok(text)["input_ids"], text
    assert alone.chat_template == tok.chat_template


def test_common_characters_emoji_and_wechat_codes_are_compact(tok):
    def n(text: str) -> int:
        return len(tok(text, add_special_tokens=False)["input_ids"])

    for ch in "你好我们的是了吃饭天气工作周末电影猫狗学习谢谢":
        assert n(ch) == 1, ch
    for emoji in "😀😂👍🙏🎉🔥🐱🐶":
        assert n(emoji) == 1, emoji
    assert n("[旺柴]") <= 2 and n("[捂脸]") <= 2
    assert n("assistant") == 1 and n("user") == 1 and n("system") == 1
    assert tok.decode(tok("ꙮ")["input_ids"]) == "ꙮ"  # unseen character: byte fallback, still lossless


def test_every_common_hanzi_is_one_token(tok):
    level1 = tiny_base.gb2312_level1()
    assert len(level1) == 3755
    split = [ch for ch in level1 if len(tok(ch, add_special_tokens=False)["input_ids"]) != 1]
    assert not split, split[:20]  # so greedy generation cannot stop or loop in the middle of a character


# --- chat template -----------------------------------------------------------------------------------------------

def test_chat_template_renders_chatml_like_qwen(tok):
    assert not re.search(r"\{%-?\s*(end)?generation", tok.chat_template)  # like hub templates: no such tags
    conv = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "你好"},
            {"role": "assistant", "content": "你好，我在。"}]
    assert tok.apply_chat_template(conv, tokenize=False) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\n你好<|im_end|>\n"
        "<|im_start|>assistant\n你好，我在。<|im_end|>\n")
    assert tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
                                   add_generation_prompt=True) == (
        f"<|im_start|>system\n{tiny_base.DEFAULT_SYSTEM}<|im_end|>\n"
        "<|im_start|>user\nhi<|im_end|>\n"
        "<|im_start|>assistant\n")
    assert not tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False).endswith(
        "assistant\n")


# --- model and cache ---------------------------------------------------------------------------------------------

def test_model_shape_and_generation_config(base_dir, model):
    assert type(model).__name__ == "Qwen2ForCausalLM"
    n_params = sum(p.numel() for p in model.parameters())
    assert 400_000 < n_params < 2_000_000
    cfg = model.config
    assert (cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads, cfg.num_key_value_heads) == (128, 2, 4, 2)
    # untied: LoRA on embed_tokens and lm_head (config.toml) then merges into two tensors, not one shared one
    assert not cfg.tie_word_embeddings and cfg.max_position_embeddings == 1024
    assert (cfg.eos_token_id, cfg.pad_token_id) == (2, 0)
    assert (model.generation_config.eos_token_id, model.generation_config.pad_token_id) == (2, 0)
    assert (base_dir / "model.safetensors").is_file()
    stamp = json.loads((base_dir / tiny_base.STAMP).read_text())
    assert stamp["version"] == tiny_base.VERSION and stamp["seed"] == 0 and stamp["parameters"] == n_params


def test_greedy_replies_are_plain_and_stop_at_im_end(tok, model):
    import torch

    for prompt in HELD_OUT:
        enc = tok.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                      return_tensors="pt", return_dict=True)
        with torch.no_grad():
            out = model.generate(**enc, max_new_tokens=48, do_sample=False)
        new = out[0, enc["input_ids"].shape[1]:].tolist()
        assert new[-1] == tok.eos_token_id, (prompt, tok.decode(new))  # stopped at <|im_end|>, not max length
        reply = tok.decode(new, skip_special_tokens=True).strip()
        assert reply and "<|im_start|>" not in tok.decode(new), prompt
        assert not any(mark in reply for mark in PERSONA_MARKERS), (prompt, reply)


def test_second_call_uses_cache_without_rebuilding(base_dir, monkeypatch):
    stamp = base_dir / tiny_base.STAMP
    before = stamp.stat().st_mtime_ns

    def no_build(*args, **kwargs):
        raise AssertionError("rebuilt although the cached folder is valid")

    monkeypatch.setattr(tiny_base, "build_tiny_base", no_build)
    assert tiny_base.ensure_tiny_base(base_dir.parent, progress=False) == base_dir
    assert stamp.stat().st_mtime_ns == before
    assert [p.name for p in base_dir.parent.iterdir()] == [base_dir.name]  # no temp folders left behind


def test_stale_or_partial_folder_is_not_trusted(base_dir, tmp_path):
    copy = tmp_path / base_dir.name
    shutil.copytree(base_dir, copy)
    assert tiny_base._is_ready(copy, 0)
    assert not tiny_base._is_ready(copy, 1)  # other seed
    stamp = json.loads((copy / tiny_base.STAMP).read_text())
    (copy / tiny_base.STAMP).write_text(json.dumps({**stamp, "version": "old"}))
    assert not tiny_base._is_ready(copy, 0)
    (copy / tiny_base.STAMP).write_text(json.dumps(stamp))
    (copy / "model.safetensors").unlink()  # stamp present but weights missing
    assert not tiny_base._is_ready(copy, 0)
