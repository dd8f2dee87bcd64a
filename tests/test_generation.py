"""The shared decoder: greedy equals transformers' generate, finished replies leave the batch, sampling is seeded."""
from __future__ import annotations

import pytest

from runtime.decoding import Decoding, decode, generate_replies

CONVS = [[{"role": "user", "content": text}] for text in
         ("在吗", "周末一起去吃火锅吗？我们好久没见了", "How was your day?", "今天好累啊", "你喜欢猫还是狗",
          "明天下雨吗", "最近在看什么电影？推荐一下", "ok")]


def prompts(tok):
    from core.chat_format import prompt_ids

    return [prompt_ids(tok, c, 200)[0] for c in CONVS]


def hf_generate(model, tok, batch: list[list[int]], max_new: int, **kwargs) -> list[list[int]]:
    import torch

    width = max(map(len, batch))
    ids = torch.tensor([[tok.pad_token_id] * (width - len(p)) + p for p in batch])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in batch])
    out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new, pad_token_id=tok.pad_token_id,
                         eos_token_id=tok.eos_token_id, **kwargs)
    return [[t for t in row[width:].tolist() if t not in (tok.eos_token_id, tok.pad_token_id)] for row in out]


@pytest.mark.parametrize("penalty", [1.0, 1.3])
def test_greedy_equals_transformers_generate(model, tok, penalty):
    batch = prompts(tok)
    ours = decode(model, batch, Decoding(max_new_tokens=40, repetition_penalty=penalty), eos_id=tok.eos_token_id,
                  pad_id=tok.pad_token_id)
    kwargs = {"do_sample": False, "repetition_penalty": penalty} if penalty != 1.0 else {"do_sample": False}
    assert ours == hf_generate(model, tok, batch, 40, **kwargs)
    assert ours == [decode(model, [p], Decoding(max_new_tokens=40, repetition_penalty=penalty),
                           eos_id=tok.eos_token_id, pad_id=tok.pad_token_id)[0] for p in batch]  # batch == alone


def test_finished_replies_leave_the_batch(model, tok):
    sizes: list[int] = []
    hook = model.register_forward_pre_hook(lambda m, args, kw: sizes.append(kw["input_ids"].shape[0]),
                                           with_kwargs=True)
    try:
        out = decode(model, prompts(tok), Decoding(max_new_tokens=40), eos_id=tok.eos_token_id,
                     pad_id=tok.pad_token_id)
    finally:
        hook.remove()
    lengths = sorted(len(o) for o in out)
    assert lengths[0] < lengths[-1]  # replies of different lengths, so rows must have left
    assert sizes[0] == len(CONVS) and sizes[-1] < len(CONVS) and sizes == sorted(sizes, reverse=True)
    assert len(sizes) == min(40, lengths[-1] + 1)  # one step per token of the longest reply (+ its end), no more


def test_sampling_is_seeded_and_a_vanishing_top_p_is_greedy(model, tok):
    def run(**kw):
        return generate_replies(model, tok, CONVS, Decoding(max_new_tokens=24, **kw), max_prompt_tokens=200)

    hot = dict(temperature=1.5, top_p=1.0)
    assert run(**hot, seed=1) == run(**hot, seed=1)
    assert run(**hot, seed=1) != run(**hot, seed=2)
    assert run(temperature=0.8, top_p=1e-6) == run()
