"""The shared decoder: greedy equals transformers' generate, replies join and leave the running batch without
changing what they say, sampling is seeded per reply."""
from __future__ import annotations

import os

import pytest

from helpers import model_calls
from runtime.decoding import Decoder, Decoding, decode, generate_replies

CONVS = [[{"role": "user", "content": text}] for text in
         ("在吗", "周末一起去吃火锅吗？我们好久没见了", "How was your day?", "今天好累啊", "你喜欢猫还是狗",
          "明天下雨吗", "最近在看什么电影？推荐一下", "ok")]


def prompts(tok):
    from core.chat_format import prompt_ids

    return [prompt_ids(tok, c, 200)[0] for c in CONVS]


def stops(tok) -> dict:
    return {"stop_ids": {tok.eos_token_id}}


def alone(model, tok, prompt: list[int], decoding: Decoding, seed: int = 0) -> list[int]:
    return decode(model, [prompt], Decoding(**{**decoding.__dict__, "seed": seed}), **stops(tok))[0]


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
    decoding = Decoding(max_new_tokens=40, repetition_penalty=penalty)
    ours = decode(model, batch, decoding, **stops(tok))
    kwargs = {"do_sample": False, "repetition_penalty": penalty} if penalty != 1.0 else {"do_sample": False}
    assert ours == hf_generate(model, tok, batch, 40, **kwargs)
    assert ours == [alone(model, tok, p, decoding) for p in batch]  # batch == alone


def test_finished_replies_leave_the_batch(model, tok):
    calls, hook = model_calls(model)
    try:
        out = decode(model, prompts(tok), Decoding(max_new_tokens=40), **stops(tok))
    finally:
        hook.remove()
    lengths = sorted(len(o) for o in out)
    assert lengths[0] < lengths[-1]  # replies of different lengths, so rows must have left
    assert calls[0] == (0, tuple(map(len, prompts(tok))))  # one call takes every prompt whole
    sizes = [rows for rows, _ in calls[1:]]
    assert sizes[0] == len(CONVS) and sizes[-1] < len(CONVS) and sizes == sorted(sizes, reverse=True)
    assert len(calls) == min(40, lengths[-1] + 1)  # one call per token of the longest reply (+ its end), no more


@pytest.mark.parametrize("penalty", [1.0, 1.3])
def test_prompts_joining_mid_decode_get_the_reply_they_get_alone(model, tok, penalty):
    """Short prompts start; a longer one joins after two steps, short ones after two more, each in the same model
    call as the running rows' next tokens; each reply equals that prompt decoded alone."""
    decoding = Decoding(max_new_tokens=30, repetition_penalty=penalty)
    by_length = sorted(prompts(tok), key=len)
    waves = [by_length[:3], [by_length[-1]], by_length[3:-1]]
    assert len(by_length[-1]) > len(by_length[2]) + 2
    decoder, got = Decoder(model, decoding, **stops(tok)), {}
    calls, hook = model_calls(model)
    try:
        for wave in waves:
            decoder.add(wave, [tuple(p) for p in wave])
            for _ in range(2):
                got.update(decoder.step())
        while decoder:
            got.update(decoder.step())
    finally:
        hook.remove()
    assert {p: got[tuple(p)] for p in map(tuple, by_length)} == {
        tuple(p): alone(model, tok, p, decoding) for p in by_length}
    joins = [(rows, slices) for rows, slices in calls if slices]
    assert [len(slices) for _, slices in joins] == [3, 1, len(by_length) - 4]
    assert joins[1][0] == 3 and joins[2][0] >= 1  # in with the running rows' tokens
    assert max(rows for rows, _ in calls) > 3  # newcomers really decoded together with the running rows


def test_a_finished_row_makes_room_for_the_next_prompt(model, tok):
    calls, hook = model_calls(model)
    try:
        out = decode(model, prompts(tok), Decoding(max_new_tokens=30), max_batch=3, **stops(tok))
    finally:
        hook.remove()
    assert out == decode(model, prompts(tok), Decoding(max_new_tokens=30), **stops(tok))
    joins = [len(slices) for _, slices in calls if slices]
    assert joins[0] == 3 and len(joins) > 2 and sum(joins) == len(CONVS)
    assert max(rows + len(slices) for rows, slices in calls) == 3


def test_dropped_rows_leave_at_once(model, tok):
    decoding = Decoding(max_new_tokens=20)
    decoder = Decoder(model, decoding, **stops(tok))
    batch = prompts(tok)
    decoder.add(batch, list(range(len(batch))))
    decoder.step()
    decoder.drop({0, 1, 2})
    assert decoder.tags == list(range(3, len(batch)))
    rest = {}
    while decoder:
        rest.update(decoder.step())
    assert rest == {i: alone(model, tok, batch[i], decoding) for i in rest}


def test_sampling_is_seeded_and_a_vanishing_top_p_is_greedy(model, tok):
    def run(**kw):
        return generate_replies(model, tok, CONVS, Decoding(max_new_tokens=24, **kw), max_prompt_tokens=200)

    hot = dict(temperature=1.5, top_p=1.0)
    assert run(**hot, seed=1) == run(**hot, seed=1)
    assert run(**hot, seed=1) != run(**hot, seed=2)
    assert run(temperature=0.8, top_p=1e-6) == run()


@pytest.mark.parametrize("top_p", [1.0, 0.9])
def test_a_sampled_reply_depends_on_its_seed_not_on_its_companions(model, tok, top_p):
    decoding = Decoding(max_new_tokens=24, temperature=1.5, top_p=top_p, repetition_penalty=1.2)
    batch = prompts(tok)
    decoder, got = Decoder(model, decoding, **stops(tok)), {}
    decoder.add(batch[1:5], ["a", "b", "c", "d"], [11, 12, 13, 14])
    got.update(decoder.step())
    decoder.add([batch[0]], ["me"], [7])  # joins a batch already running
    while decoder:
        got.update(decoder.step())
    assert got["me"] == alone(model, tok, batch[0], decoding, seed=7)
    assert got["a"] == alone(model, tok, batch[1], decoding, seed=11)
    assert got["me"] != alone(model, tok, batch[0], decoding, seed=8)


def _hf_nucleus(logits, temperature: float, top_p: float):
    """transformers' own temperature and top-p warpers, softmaxed: the distribution sampling must draw from."""
    from transformers import TemperatureLogitsWarper, TopPLogitsWarper

    warped = TopPLogitsWarper(top_p)(None, TemperatureLogitsWarper(temperature)(None, logits))
    return warped.softmax(-1)


def _logits(spread: float):
    import torch

    return torch.randn(3, 6000, generator=torch.Generator().manual_seed(0)) * spread


@pytest.mark.parametrize("spread", [1.0, 4.0, 12.0])  # flat (a nucleus of thousands of tokens) to peaked
def test_the_nucleus_is_transformers_top_p_set(spread):
    from runtime.decoding import _nucleus

    logits = _logits(spread)
    kept, ids = _nucleus((logits / 0.7).softmax(-1), 0.9)
    for row, k, i in zip(_hf_nucleus(logits, 0.7, 0.9), kept, ids, strict=True):
        assert set(i[k > 0].tolist()) == set(row.nonzero()[:, 0].tolist())


@pytest.mark.parametrize("spread", [4.0, 12.0])  # where the likeliest tokens are drawn often enough to count
def test_nucleus_sampling_draws_from_transformers_top_p_distribution(spread):
    import torch

    from runtime.decoding import pick

    logits, gen, draws = _logits(spread), torch.Generator().manual_seed(1), 6000
    rows = logits.repeat_interleave(draws, 0)
    picked = pick(rows, None, Decoding(temperature=0.7, top_p=0.9), [gen] * len(rows)).view(3, draws)
    for row, got in zip(_hf_nucleus(logits, 0.7, 0.9), picked, strict=True):
        assert set(got.tolist()) <= set(row.nonzero()[:, 0].tolist())  # nothing outside the nucleus
        common = row.argsort(descending=True)[:8]  # the likeliest tokens, each drawn about as often as it should be
        expected = row[common] * draws
        seen = torch.bincount(got, minlength=len(row))[common].float()
        assert ((seen - expected).abs() <= 5 * expected.sqrt() + 5).all(), (seen, expected)


def test_a_weighted_draw_never_lands_on_a_zero_weight():
    import torch

    from runtime.decoding import _draw

    gen = torch.Generator().manual_seed(0)
    weights = torch.tensor([[0.0, 3.0, 0.0, 1.0, 0.0, 0.0]]).repeat(4000, 1)
    drawn = _draw(weights, [gen] * len(weights))
    counts = torch.bincount(drawn, minlength=6).tolist()
    assert counts[0] == counts[2] == counts[4] == counts[5] == 0
    assert 2800 < counts[1] < 3200  # three to one


def test_any_stop_id_ends_a_reply(model, tok):
    decoding = Decoding(max_new_tokens=30)
    batch = prompts(tok)
    free = decode(model, batch, decoding, stop_ids={tok.eos_token_id})
    row = max(range(len(batch)), key=lambda i: len(free[i]))
    extra = free[row][3]  # a token this reply writes: declared a stop id, the reply ends just before it
    cut = decode(model, batch, decoding, stop_ids={tok.eos_token_id, extra})
    assert cut[row] == free[row][:free[row].index(extra)]
    assert all(extra not in reply for reply in cut)


@pytest.mark.parametrize("penalty", [1.0, 1.3])
def test_a_prompt_prefilled_in_slices_gets_the_reply_it_gets_alone(model, tok, penalty):
    """With prefill_chunk, prompts join over several steps, at most that many of their tokens per step (first come
    first), while the running rows keep getting a token every step; every reply equals its prompt decoded alone."""
    decoding = Decoding(max_new_tokens=30, repetition_penalty=penalty)
    endless = {"stop_ids": {len(tok) + 1}}  # no reply ends before max_new_tokens
    by_length = sorted(prompts(tok), key=len)
    short, long = by_length[:3], by_length[-1]
    chunk = 4
    decoder, got = Decoder(model, decoding, prefill_chunk=chunk, **endless), {}
    decoder.add(short, [tuple(p) for p in short])
    while decoder.joining:
        got.update(decoder.step())
    assert decoder.prefill_calls == -(-sum(map(len, short)) // chunk) and not got
    calls, hook = model_calls(model)
    try:
        decoder.add([long], [tuple(long)])
        assert decoder.joining == 1 and len(decoder) == 4 and not calls  # queued, not prefilled yet
        while decoder.joining:
            got.update(decoder.step())
        joining = len(calls)
        while decoder:
            got.update(decoder.step())
    finally:
        hook.remove()
    assert {p: got[tuple(p)] for p in map(tuple, short + [long])} == {
        tuple(p): decode(model, [p], decoding, **endless)[0] for p in short + [long]}
    assert joining == -(-len(long) // chunk)  # one slice of at most 4 tokens per step, in with the 3 running rows
    assert all(rows == 3 and len(slices) == 1 and slices[0] <= chunk for rows, slices in calls[:joining])
    assert sum(slices[0] for _, slices in calls[:joining]) == len(long)


def test_prompts_of_any_lengths_go_in_together_without_padding(model, tok):
    decoding = Decoding(max_new_tokens=20)
    short = prompts(tok)[0]
    long = short + [t for p in prompts(tok)[1:] for t in p][:60]
    calls, hook = model_calls(model)
    try:
        out = decode(model, [short, long], decoding, **stops(tok))
    finally:
        hook.remove()
    assert calls[0] == (0, (len(short), len(long)))
    assert out == [alone(model, tok, short, decoding), alone(model, tok, long, decoding)]


def test_a_prompt_dropped_while_joining_never_joins(model, tok):
    decoding = Decoding(max_new_tokens=20)
    batch = prompts(tok)
    decoder = Decoder(model, decoding, prefill_chunk=2, **stops(tok))
    decoder.add(batch[:2], ["a", "b"])
    decoder.step()  # a first slice of both
    decoder.drop({"a"})
    assert decoder.joining == 1
    got = {}
    while decoder:
        got.update(decoder.step())
    assert got == {"b": alone(model, tok, batch[1], decoding)}


def test_a_chats_next_turn_prefills_only_what_is_new(model, tok):
    """With prefix_tokens, a finished reply's keys and values stay; the chat's next prompt (its previous prompt,
    the reply, a new message) is prefilled from where it differs, alongside a prompt that reuses nothing, and both
    replies equal their prompts decoded alone."""
    from core.chat_format import prompt_ids

    decoding = Decoding(max_new_tokens=16)
    decoder, got = Decoder(model, decoding, prefix_tokens=4096, **stops(tok)), {}
    conv = CONVS[1]
    first = prompt_ids(tok, conv, 400)[0]
    decoder.add([first], ["first"])
    while decoder:
        got.update(decoder.step())
    assert decoder.reused_tokens == 0 and got["first"]
    conv = [*conv, {"role": "assistant", "content": tok.decode(got["first"], skip_special_tokens=True)},
            {"role": "user", "content": "好呀，几点？"}]
    second, fresh = prompt_ids(tok, conv, 400)[0], prompts(tok)[2]
    assert second[:len(first)] == first
    n_second, n_fresh = decoder._prefixes.match(second)[0], decoder._prefixes.match(fresh)[0]
    assert len(first) + len(got["first"]) == n_second  # the whole first turn; from the reply's end on, it differs
    assert n_fresh == len(os.path.commonprefix([first, fresh])) > 0  # another chat: the same template start
    calls, hook = model_calls(model)
    try:
        decoder.add([second, fresh], ["second", "fresh"])
        while decoder:
            got.update(decoder.step())
    finally:
        hook.remove()
    assert decoder.reused_tokens == n_second + n_fresh
    assert calls[0] == (0, (len(second) - n_second, len(fresh) - n_fresh))  # one call for what is new
    assert not any(slices for _, slices in calls[1:])
    assert got["second"] == alone(model, tok, second, decoding)
    assert got["fresh"] == alone(model, tok, fresh, decoding)


def test_a_prompt_reuses_what_it_shares_with_the_replies_running(model, tok):
    """Prompts are kept once prefilled: one arriving while they still decode (another chat, the same persona
    prompt and template start) is prefilled only from where it leaves them, and its reply is still its own."""
    decoding = Decoding(max_new_tokens=16)
    batch = prompts(tok)
    decoder, got = Decoder(model, decoding, prefix_tokens=4096, **stops(tok)), {}
    decoder.add(batch[:2], ["a", "b"])
    got.update(decoder.step())
    assert len(decoder.tags) == 2  # both still decoding
    shared = max(len(os.path.commonprefix([batch[2], p])) for p in batch[:2])
    assert 0 < shared < len(batch[2])
    calls, hook = model_calls(model)
    try:
        decoder.add([batch[2]], ["c"])
        while decoder:
            got.update(decoder.step())
    finally:
        hook.remove()
    assert decoder.reused_tokens == shared
    assert [slices for _, slices in calls if slices] == [(len(batch[2]) - shared,)]
    for tag, prompt in zip("abc", batch, strict=False):
        assert got[tag] == alone(model, tok, prompt, decoding), tag


def test_prompts_reusing_different_lengths_share_one_prefill(model, tok):
    """Rows reusing prefixes of different lengths (or none) go in together, each from where its reuse ends."""
    decoding = Decoding(max_new_tokens=12)
    batch = prompts(tok)
    decoder, got = Decoder(model, decoding, prefix_tokens=4096, **stops(tok)), {}
    decoder.add(batch[:2], ["a", "b"])
    while decoder:
        got.update(decoder.step())
    tail = prompts(tok)[3][-6:]  # the same few tokens after each: equal rest lengths, one group
    extended = [batch[0] + got["a"] + tail, batch[1] + got["b"] + tail, batch[4] + tail]
    calls, hook = model_calls(model)
    try:
        decoder.add(extended, ["a2", "b2", "new"])
        while decoder:
            got.update(decoder.step())
    finally:
        hook.remove()
    assert [len(slices) for _, slices in calls if slices] == [3]
    assert decoder.reused_tokens >= len(batch[0]) + len(batch[1])
    for tag, prompt in zip(["a2", "b2", "new"], extended, strict=True):
        assert got[tag] == alone(model, tok, prompt, decoding), tag


def test_the_kept_replies_stay_within_their_token_budget(model, tok):
    from runtime.decoding import _Prefixes

    decoder = Decoder(model, Decoding(max_new_tokens=8), prefix_tokens=4096, **stops(tok))
    batch = prompts(tok)
    decoder.add(batch, list(range(len(batch))))
    while decoder:
        decoder.step()
    store: _Prefixes = decoder._prefixes
    assert len(store._entries) == len(batch) and store.tokens == sum(len(s) // 8 for s, _ in store._entries.values())
    n, kv = store.match(batch[3] + [7, 8, 9])
    assert n >= len(batch[3]) and kv[0][0].shape[1] == n
    small = Decoder(model, Decoding(max_new_tokens=8), prefix_tokens=2 * max(map(len, batch)), **stops(tok))
    small.add(batch, list(range(len(batch))))
    while small:
        small.step()
    assert 0 < small._prefixes.tokens <= 2 * max(map(len, batch)) and len(small._prefixes._entries) <= 2


def test_a_decoding_step_writes_its_column_in_place(model, tok):
    """The cache buffers have spare columns: steps write into them rather than copying the whole cache, until
    they are full and grow."""
    decoder = Decoder(model, Decoding(max_new_tokens=200), stop_ids={len(tok) + 1})
    decoder.add(prompts(tok)[:3], [0, 1, 2])
    decoder.step()
    store = decoder._store
    columns, buffer = store.columns, store.layers[0][0].data_ptr()
    steps = 0
    while store.columns == columns:
        assert store.layers[0][0].data_ptr() == buffer
        decoder.step()
        steps += 1
    assert steps > 10 and store.columns > columns and store.layers[0][0].data_ptr() != buffer


def test_the_output_layer_computed_weight_first_gives_the_same_logits(model):
    import torch

    from runtime.decoding import _large_cpu_output_layer, _weight_first

    assert _large_cpu_output_layer(model) is None  # the tiny vocabulary: left as it is
    head = torch.nn.Linear(64, 3000, bias=True)
    x = torch.randn(5, 1, 64)
    with _weight_first(head):
        assert "forward" in vars(head)
        weight_first = head(x)
    assert "forward" not in vars(head)  # the module's own forward again
    assert weight_first.shape == (5, 1, 3000)
    torch.testing.assert_close(weight_first, head(x))


@pytest.mark.parametrize("seed", range(3))
def test_rows_coming_and_going_at_random_get_their_own_replies(model, tok, seed):
    """A random schedule of adds (one or several, some continuing an earlier chat), drops and steps, with slices,
    kept prefixes and a repetition penalty: the slots are moved about as rows leave and join, and every reply that
    finishes equals its prompt decoded alone."""
    import random

    rng = random.Random(seed)
    decoding = Decoding(max_new_tokens=12, repetition_penalty=1.3)
    decoder = Decoder(model, decoding, prefill_chunk=rng.choice([3, 16, None]), prefix_tokens=4096, **stops(tok))
    pool, got, asked, dropped = prompts(tok), {}, {}, set()
    for _ in range(60):
        if rng.random() < 0.3:
            for _ in range(rng.randint(1, 3)):
                prompt = rng.choice(pool)
                if got and rng.random() < 0.5:  # a chat's next turn: an earlier prompt, its reply, more
                    tag = rng.choice(list(got))
                    prompt = asked[tag] + got[tag] + rng.choice(pool)[-4:]
                asked[len(asked)] = prompt
                decoder.add([prompt], [len(asked) - 1])
        if decoder.tags and rng.random() < 0.1:
            gone = rng.choice(decoder.tags)
            decoder.drop({gone})
            dropped.add(gone)
        got.update(decoder.step())
    while decoder:
        got.update(decoder.step())
    assert len(got) > 5 and not dropped & set(got)
    for tag, reply in got.items():
        assert reply == alone(model, tok, asked[tag], decoding), tag


def test_a_sliding_window_is_kept_as_transformers_keeps_it():
    """A layer with a sliding window attends to the last `window` positions only, in the prompt and while
    decoding: greedy replies equal generate's, and differ from the same weights without the window."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    dims = dict(vocab_size=300, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, sliding_window=6, max_window_layers=1)
    windowed = Qwen2ForCausalLM(Qwen2Config(use_sliding_window=True, **dims)).eval()
    full = Qwen2ForCausalLM(Qwen2Config(use_sliding_window=False, **dims)).eval()
    full.load_state_dict(windowed.state_dict())
    assert [layer.self_attn.sliding_window for layer in windowed.model.layers] == [None, 6]
    batch = [torch.randint(3, 300, (n,)).tolist() for n in (5, 12, 20)]
    decoding = Decoding(max_new_tokens=15)

    def generate(model, prompt):
        out = model.generate(torch.tensor([prompt]), max_new_tokens=15, do_sample=False, pad_token_id=0)
        return out[0, len(prompt):].tolist()

    ours = decode(windowed, batch, decoding, stop_ids={-1})
    assert ours == [generate(windowed, p) for p in batch]
    assert ours != decode(full, batch, decoding, stop_ids={-1})


def test_attention_it_cannot_do_is_refused():
    import torch

    from runtime import ragged

    batch = ragged.Batch(ragged.Store(torch.device("cpu")), [], [])
    layer = torch.nn.Module()
    layer.layer_idx = 0
    q = torch.zeros(1, 2, 1, 4)
    with pytest.raises(NotImplementedError, match="soft-capping"):
        ragged.attention(layer, q, q, q, None, softcap=30.0, ragged_batch=batch)
