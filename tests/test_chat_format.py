"""The shared chat format on a real template WITHOUT {% generation %} tags (like Qwen2.5's on the hub)."""
from core.chat_format import IGNORE_INDEX, assistant_spans, encode, prompt_ids

CONV = [
    {"role": "system", "content": "你是林小夏"},
    {"role": "user", "content": "在吗"},
    {"role": "assistant", "content": "在呢~"},
    {"role": "user", "content": "吃饭没"},
    {"role": "assistant", "content": "哈哈哈吃了🐱"},
]


def trained_text(tok, enc):
    return tok.decode([i for i, lab in zip(enc.input_ids, enc.labels, strict=True) if lab != IGNORE_INDEX])


def test_template_has_no_generation_tags(tok):
    assert "{% generation" not in tok.chat_template and "{%- generation" not in tok.chat_template


def test_only_assistant_tokens_carry_labels(tok):
    enc = encode(tok, CONV, 512)
    assert trained_text(tok, enc) == "在呢~<|im_end|>哈哈哈吃了🐱<|im_end|>"
    # every label equals its input id where set
    assert all(lab in (IGNORE_INDEX, i) for i, lab in zip(enc.input_ids, enc.labels, strict=True))
    # the whole conversation is the template's own rendering
    assert tok.decode(enc.input_ids) == tok.apply_chat_template(CONV, tokenize=False)


def test_default_system_prompt_inserted_by_template_is_not_trained(tok):
    enc = encode(tok, CONV[1:], 512)
    assert "You are a helpful assistant." in tok.decode(enc.input_ids)
    assert trained_text(tok, enc) == "在呢~<|im_end|>哈哈哈吃了🐱<|im_end|>"


def test_too_long_drops_oldest_exchange_and_keeps_last_reply(tok):
    full = len(encode(tok, CONV, 512).input_ids)
    enc = encode(tok, CONV, full - 1)
    assert enc.dropped_turns == 2
    text = tok.decode(enc.input_ids)
    assert "在呢~" not in text and text.startswith("<|im_start|>system\n你是林小夏")
    assert trained_text(tok, enc) == "哈哈哈吃了🐱<|im_end|>"


def test_spans_cover_exactly_the_replies(tok):
    text, spans = assistant_spans(tok, CONV)
    assert [text[a:b] for a, b in spans] == ["在呢~<|im_end|>", "哈哈哈吃了🐱<|im_end|>"]


def test_prompt_fits_budget_and_starts_on_user_turn(tok):
    history = CONV + [{"role": "user", "content": "周末去哪"}]
    ids, dropped = prompt_ids(tok, history, 10_000)
    assert dropped == 0 and tok.decode(ids).endswith("<|im_start|>assistant\n")
    short, dropped = prompt_ids(tok, history, len(ids) - 1)
    text = tok.decode(short)
    assert dropped == 2 and len(short) < len(ids)
    assert text.startswith("<|im_start|>system\n你是林小夏<|im_end|>\n<|im_start|>user\n吃饭没")
    minimal, _ = prompt_ids(tok, [CONV[0], history[-1]], 10_000)
    tiny, _ = prompt_ids(tok, history, len(minimal))
    assert tok.decode(tiny).startswith("<|im_start|>system\n你是林小夏<|im_end|>\n<|im_start|>user\n周末去哪")
