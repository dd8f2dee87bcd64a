"""Reply generation, shared by `make eval` and the bot's local engine: one running batch that replies join and
leave between decoding steps (continuous batching).

A decoding step reads the weights once for the whole batch, so concurrent chats and the evaluation's many prompts
cost little more than one. Own loop rather than ``model.generate``, for three reasons:

- a reply that has ended (any of ``runtime.stops.stop_ids``) leaves the batch at once, cache rows included; with
  ``generate`` every finished row keeps being computed until the longest reply is done, and chat replies vary a
  lot in length;
- a new prompt joins the running batch at the next step: it is prefilled (with the other newcomers of that step),
  and its KV-cache rows are appended to the running cache, instead of waiting for the batch to drain;
- with ``prefill_chunk``, a long prompt is prefilled a slice at a time, one slice per decoding step, so the
  replies already running keep getting tokens while it joins instead of stalling for its whole prefill;
- with ``prefix_tokens``, a chat's next turn reuses the keys and values of its previous prompt and reply, and is
  prefilled only from where it differs (what the friend said since, and any difference in how the reply was
  re-tokenized); a prompt also reuses what it shares with the prompts already running (the persona prompt).

Rows are left-padded in one shared cache; each row keeps its own position ids and attention-mask row, so a reply is
what decoding its prompt alone gives: greedy results equal ``generate``'s and each prompt's own greedy decoding
(tests/test_generation.py). Sampling applies the same steps in the same order (repetition penalty, temperature,
top-p) with one random generator per reply, seeded per request: a reply depends on its prompt and seed only, not on
which other replies share the batch (up to floating-point differences in the logits of differently shaped batches,
which can flip a draw that lands exactly on a boundary).

Prefill computes the logits of the last position only: the full [rows, prompt, vocab] logits of a real vocabulary
(152k) would cost gigabytes for nothing. Newcomers of very different lengths are prefilled in separate groups, so a
short prompt is not padded to a long one's length.
"""
from __future__ import annotations

import array
import contextlib
import itertools
from collections import deque
from collections.abc import Collection, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from core.chat_format import prompt_ids, reply_text

from .stops import stop_ids


@dataclass(frozen=True)
class Decoding:
    max_new_tokens: int = 64
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    seed: int = 0


Tag = TypeVar("Tag", bound=Hashable)  # what a row answers: the caller's own handle on it


@dataclass
class _Joining(Generic[Tag]):
    """Prompts on their way into the running batch: left-padded together, prefilled ``done`` columns so far."""
    tags: list[Tag]
    ids: Any        # [rows, width]
    mask: Any       # [rows, width]: 1 = real token
    positions: Any  # [rows, width]
    generators: list
    cache: Any = field(default=None)
    prompts: list[list[int]] = field(default_factory=list)
    done: int = 0  # columns already in the cache (reused from the prefix store, or prefilled)

    def __len__(self) -> int:
        return len(self.tags)

    def keep(self, rows: list[int]) -> None:
        import torch

        index = torch.tensor(rows, device=self.ids.device)
        self.ids, self.mask, self.positions = self.ids[index], self.mask[index], self.positions[index]
        for layer in self.cache.layers:
            if getattr(layer, "keys", None) is not None and layer.keys.numel():
                layer.keys, layer.values = layer.keys[index], layer.values[index]
        self.tags = [self.tags[r] for r in rows]
        self.prompts = [self.prompts[r] for r in rows]
        self.generators = [self.generators[r] for r in rows] if self.generators else []


class Decoder(Generic[Tag]):
    """A running decode batch: ``add`` prompts at any time, ``step`` until they are done.

    Between steps every running row is in one of two states, the same for all rows: its next token's logits are
    known (after a prefill), or its last picked token still has to go through the model (after a step). Picking
    first and running the model lazily lets ``step`` hand back finished replies before computing the others' next
    logits.

    ``prefill_chunk`` (tokens): None prefills what ``add`` gets at once, in ``add``. A number queues it instead;
    every ``step`` then prefills up to that many prompt tokens (rows x columns) before decoding the running rows,
    and prompts join the running batch once their last column is through.

    ``prefix_tokens``: with more than 0, the keys and values of prompts once prefilled and of finished replies
    (prompt and reply), up to that many tokens in all, are kept, and a new prompt that starts like one of them (a
    chat's next turn, or the same persona prompt) is prefilled only from where they differ.

    ``prefill_calls``/``step_calls`` count the model calls of each kind; ``prompt_tokens``/``reused_tokens``, the
    prompt tokens added and those of them that came from the kept replies.
    """

    def __init__(self, model, decoding: Decoding, *, stop_ids: Collection[int], pad_id: int,
                 prefill_chunk: int | None = None, prefix_tokens: int = 0):
        import torch

        if prefill_chunk is not None and prefill_chunk < 1:
            raise ValueError("prefill_chunk must be at least 1 token")
        self.model, self.decoding, self.pad_id, self.prefill_chunk = model, decoding, pad_id, prefill_chunk
        self.device = next(model.parameters()).device
        self._stops = torch.tensor(sorted(stop_ids), device=self.device)
        self._cache_arg = _cache_argument(model)
        self._head = _large_cpu_output_layer(model)
        self.prefill_calls = self.step_calls = 0
        self.prompt_tokens = self.reused_tokens = 0  # prompt tokens added, and how many came from the store
        self._prefixes = _Prefixes(prefix_tokens, self.device) if prefix_tokens > 0 else None
        self._joining: deque[_Joining[Tag]] = deque()
        self._reset()

    def _reset(self) -> None:
        self.tags: list[Tag] = []        # who each running row answers, in batch order
        self._prompts: list[list[int]] = []  # per row
        self._out: list[list[int]] = []  # tokens generated so far, per row
        self._generators: list = []      # per row, when sampling
        # Tensors (Any, like _Joining's), None while no row runs
        self._cache: Any = None          # DynamicCache, rows left-padded to a common length
        self._mask: Any = None           # [rows, cache length]: 1 = real token
        self._next_position: Any = None  # [rows]: position id of the next token fed
        self._seen: Any = None           # [rows, vocab] bool, for the repetition penalty
        self._logits: Any = None         # [rows, vocab]: the next token's logits ...
        self._feed: Any = None           # [rows]: ... or the last picked tokens, not yet run through the model

    def __len__(self) -> int:
        """Rows running and rows still being prefilled."""
        return len(self.tags) + sum(map(len, self._joining))

    @property
    def joining(self) -> int:
        """Rows whose prompt is not fully prefilled yet."""
        return sum(map(len, self._joining))

    def add(self, prompts: Sequence[Sequence[int]], tags: Sequence[Tag],
            seeds: Sequence[int] | None = None) -> None:
        """Queue ``prompts`` to join the running batch (prefilled now without ``prefill_chunk``, else over the
        coming steps); ``seeds``: one per prompt when sampling (default 0)."""
        import torch

        if not prompts:
            return
        if any(len(p) == 0 for p in prompts):
            raise ValueError("empty prompt")
        seeds = list(seeds) if seeds is not None else [0] * len(prompts)
        reused = [self._prefixes.match(p) if self._prefixes is not None else (0, None) for p in prompts]
        self.prompt_tokens += sum(map(len, prompts))
        self.reused_tokens += sum(n for n, _ in reused)
        for group in _length_groups([len(p) - n for p, (n, _) in zip(prompts, reused, strict=True)]):
            # columns: the reused prefixes (already computed, left-padded to the longest), then the rest of each
            # prompt (left-padded): a row's real tokens may have a gap of padding between the two, masked out
            held, width = max(reused[i][0] for i in group), max(len(prompts[i]) - reused[i][0] for i in group)
            ids = torch.full((len(group), held + width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(group), held + width), dtype=torch.long)
            for row, i in enumerate(group):
                p, n = prompts[i], reused[i][0]
                ids[row, held - n:held], ids[row, held + width - (len(p) - n):] = torch.tensor(p[:n]), \
                    torch.tensor(p[n:])
                mask[row, held - n:held] = mask[row, held + width - (len(p) - n):] = 1
            generators = []
            if self.decoding.temperature > 0:
                generators = [torch.Generator(device=self.device).manual_seed(seeds[i]) for i in group]
            self._joining.append(_Joining(
                [tags[i] for i in group], ids.to(self.device), mask.to(self.device),
                (mask.cumsum(-1) - 1).clamp(min=0).to(self.device), generators,
                _held_cache([reused[i] for i in group], held), [list(prompts[i]) for i in group], done=held))
        if self.prefill_chunk is None:
            self._prefill(None)

    def step(self) -> list[tuple[Tag, list[int]]]:
        """One token for every running row (after this step's share of prefill, with ``prefill_chunk``); the rows
        that ended (stop token, not kept, or max_new_tokens reached) leave the batch and are returned as
        (tag, new tokens)."""
        import torch

        if self._joining:
            self._prefill(self.prefill_chunk)
        if not self.tags:
            return []
        self._catch_up()
        token = _pick(self._logits.float(), self._seen, self.decoding, self._generators)
        stopped = torch.isin(token, self._stops).tolist()
        done: list[int] = []
        keep: list[int] = []
        for row, (t, stop) in enumerate(zip(token.tolist(), stopped, strict=True)):
            if not stop:
                self._out[row].append(t)
            (done if stop or len(self._out[row]) >= self.decoding.max_new_tokens else keep).append(row)
        finished = [(self.tags[r], self._out[r]) for r in done]
        if self._prefixes is not None:
            for r in done:
                self._prefixes.put(self._prompts[r] + self._out[r], self._cache, r, self._mask[r].bool())
        self._logits, self._feed = None, token
        if self._seen is not None:
            self._seen[torch.arange(len(token), device=self.device), token] = True
        if done:
            self._keep(keep)
        return finished

    def drop(self, tags: Collection[Tag]) -> None:
        """Remove the rows of ``tags`` (replies nobody waits for any more), running or still being prefilled."""
        if any(t in tags for t in self.tags):
            self._keep([r for r, t in enumerate(self.tags) if t not in tags])
        for group in list(self._joining):
            if any(t in tags for t in group.tags):
                if rows := [r for r, t in enumerate(group.tags) if t not in tags]:
                    group.keep(rows)
                else:
                    self._joining.remove(group)

    def _prefill(self, budget: int | None) -> None:
        """Run queued prompt columns through the model: all of them, or about ``budget`` tokens (at least one
        column). A group whose last column is through joins the running batch."""

        while self._joining and (budget is None or budget > 0):
            group = self._joining[0]
            rows, width = group.ids.shape
            end = width if budget is None else min(width, group.done + max(1, budget // rows))
            if end == width:  # the running rows get their logits too, so all rows are in the same state after it
                self._catch_up()
            logits = self._forward(group.ids[:, group.done:end], group.mask[:, :end],
                                   group.positions[:, group.done:end], group.cache)
            self.prefill_calls += 1
            if budget is not None:
                budget -= rows * (end - group.done)
            group.done = end
            if end == width:
                self._joining.popleft()
                self._join(group, logits)

    def _catch_up(self) -> None:
        """Run the last picked tokens through the model: every row then has its next token's logits."""
        import torch

        if self._feed is None:
            return
        self._mask = torch.cat([self._mask, self._mask.new_ones((len(self._feed), 1))], dim=1)
        self._logits = self._forward(self._feed[:, None], self._mask, self._next_position[:, None], self._cache)
        self.step_calls += 1
        self._next_position = self._next_position + 1
        self._feed = None

    def _forward(self, ids, mask, positions, cache):
        """The last position's logits of ``ids`` run through the model on ``cache``."""
        import torch

        with torch.inference_mode(), _weight_first(self._head):
            return self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                              logits_to_keep=1, **{self._cache_arg: cache}).logits[:, -1, :]

    def _join(self, group: _Joining[Tag], logits) -> None:
        """Append prefilled rows; the shorter of the two caches is left-padded (masked out) to the other's length.
        With a prefix store, their prompts are kept at once: a prompt arriving while they decode reuses what it
        shares with them (the persona prompt, a chat's earlier turns)."""
        import torch

        if self._prefixes is not None:
            for row, prompt in enumerate(group.prompts):
                self._prefixes.put(prompt, group.cache, row, group.mask[row].bool())
        seen = None
        if self.decoding.repetition_penalty != 1.0:  # tokens each row has seen, padding excluded
            seen = torch.zeros((len(group), logits.shape[-1]), dtype=torch.bool, device=self.device)
            seen.scatter_(1, torch.where(group.mask.bool(), group.ids, group.ids[:, -1:]), True)  # pads: last token
        next_position = group.positions[:, -1] + 1
        if not self.tags:
            self._cache = _roomy_cache([(layer.keys, layer.values) for layer in group.cache.layers])
            self._mask, self._next_position, self._logits, self._seen = group.mask, next_position, logits, seen
        else:
            width = max(self._mask.shape[1], group.mask.shape[1])
            for running, new in zip(self._cache.layers, group.cache.layers, strict=True):
                running.hold(torch.cat([_left_pad(running.keys, width, -2), _left_pad(new.keys, width, -2)]),
                             torch.cat([_left_pad(running.values, width, -2), _left_pad(new.values, width, -2)]))
            self._mask = torch.cat([_left_pad(self._mask, width, -1), _left_pad(group.mask, width, -1)])
            self._next_position = torch.cat([self._next_position, next_position])
            self._logits = torch.cat([self._logits, logits])
            if seen is not None:
                self._seen = torch.cat([self._seen, seen])
        self.tags += group.tags
        self._prompts += group.prompts
        self._out += [[] for _ in group.tags]
        self._generators += group.generators

    def _keep(self, rows: list[int]) -> None:
        """Keep only ``rows`` (batch order); cache columns that are padding in every kept row go too."""
        import torch

        if not rows:
            self._reset()
            return
        index = torch.tensor(rows, device=self.device)
        self._mask = self._mask[index]
        lead = int(self._mask.any(0).int().argmax())  # leading columns no kept row attends to
        for layer in self._cache.layers:
            layer.hold(layer.keys[index, :, lead:], layer.values[index, :, lead:])
        self._mask = self._mask[:, lead:]
        self._next_position = self._next_position[index]
        for name in ("_logits", "_feed", "_seen"):
            if (value := getattr(self, name)) is not None:
                setattr(self, name, value[index])
        self.tags = [self.tags[r] for r in rows]
        self._prompts = [self._prompts[r] for r in rows]
        self._out = [self._out[r] for r in rows]
        self._generators = [self._generators[r] for r in rows] if self._generators else []


class _Prefixes:
    """Keys and values of prefilled prompts and of finished replies' whole sequences (prompt and reply), so that a
    later prompt starting the same way (the same chat's next turn: its previous prompt, the reply, then what the
    friend said since; or just the same system prompt) prefills only what comes after. At most ``max_tokens``
    tokens are held, the least recently used go first; a sequence another one extends goes at once.

    Token sequences are compared as bytes (8 per token), so finding the longest common start is a few C-speed
    comparisons per stored sequence rather than a tensor operation per token or per sequence."""

    def __init__(self, max_tokens: int, device):
        import collections

        self.max_tokens, self.device = max_tokens, device
        self._entries: collections.OrderedDict[int, tuple[bytes, list]] = collections.OrderedDict()
        self._ids = itertools.count()
        self.tokens = 0

    def put(self, tokens: list[int], cache, row: int, real) -> None:
        """The sequence ``tokens`` of cache row ``row``: its columns where ``real``; the cache holds every token
        but the last picked ones, which never went through the model."""
        held = int(real.sum())
        if held < 2 or held > self.max_tokens:
            return
        seq = _token_bytes(tokens[:held])
        for key, (other, _) in list(self._entries.items()):  # what this one extends is redundant now
            if seq.startswith(other):
                self._drop(key)
        self._entries[next(self._ids)] = (seq, [(layer.keys[row][:, real], layer.values[row][:, real])
                                                for layer in cache.layers])
        self.tokens += held
        while self.tokens > self.max_tokens:
            self._drop(next(iter(self._entries)))

    def match(self, prompt: Sequence[int]) -> tuple[int, list | None]:
        """(n, per layer (keys, values) of n positions [heads, n, dim]): the longest stored start of ``prompt``,
        at most all but its last token (whose logits the prefill must compute)."""
        if not self._entries or len(prompt) < 2:
            return 0, None
        p = _token_bytes(prompt[:-1])
        best, best_key = 0, None
        for key, (seq, _) in self._entries.items():
            if (same := _common_start(seq, p)) > best:
                best, best_key = same, key
        if best_key is None:
            return 0, None
        self._entries.move_to_end(best_key)
        return best, [(k[:, :best], v[:, :best]) for k, v in self._entries[best_key][1]]

    def _drop(self, key: int) -> None:
        seq, _ = self._entries.pop(key)
        self.tokens -= len(seq) // 8


def _token_bytes(tokens: Sequence[int]) -> bytes:
    return array.array("q", tokens).tobytes()


def _common_start(a: bytes, b: bytes) -> int:
    """Tokens (8 bytes each) at the start of ``a`` and ``b`` that are the same: a binary search on equal
    slices."""
    low, high = 0, min(len(a), len(b)) // 8  # a and b agree on `low` tokens; not on more than `high`
    while low < high:
        mid = (low + high + 1) // 2
        if a[low * 8:mid * 8] == b[low * 8:mid * 8]:
            low = mid
        else:
            high = mid - 1
    return low


def _large_cpu_output_layer(model):
    """The model's output layer if it is a plain Linear of a large vocabulary on the CPU, else None."""
    import torch

    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if type(head) is not torch.nn.Linear or head.weight.device.type != "cpu" or head.weight.numel() < 2**25:
        return None
    return head


@contextlib.contextmanager
def _weight_first(head):
    """While in it, ``head`` (a Linear, or None: nothing changes) computes weight @ inputᵀ instead of
    input @ weightᵀ. Same product; but for the few rows of a decoding step times a real vocabulary's output layer,
    MKL's single-precision GEMM is up to twice as fast this way round (measured on a 2-core AMD EPYC, one thread,
    [151936 x 896] weight: 4 rows 125 -> 68 ms, 16 rows 198 -> 156 ms; 1 row unchanged at 38 ms). Only the output
    layer: it is most of a decoding step's weights there, and the model's forward still applies whatever it applies
    to its logits afterwards."""
    if head is None:
        yield
        return

    def forward(x):
        rows = x.reshape(-1, x.shape[-1])
        out = (head.weight @ rows.T).T
        if head.bias is not None:
            out = out + head.bias
        return out.reshape(*x.shape[:-1], out.shape[-1])

    head.forward = forward
    try:
        yield
    finally:
        del head.forward


def _roomy_cache(layers: list[tuple[Any, Any]]):
    """A DynamicCache of the running batch holding ``layers`` (keys, values) in buffers with room to grow."""
    from transformers import DynamicCache

    roomy = [_roomy_layer_class()() for _ in layers]
    for layer, (keys, values) in zip(roomy, layers, strict=True):
        layer.hold(keys, values)
    cache = DynamicCache()
    cache.layers = roomy
    return cache


_ROOMY_LAYER = None


def _roomy_layer_class():
    """transformers' DynamicLayer, with keys and values that are views of buffers with spare columns: a decoding
    step writes its column in place, where DynamicLayer concatenates, allocating and copying the whole cache of
    every layer at every step (measured on the CPU: most of a 16-row tiny-model step's time at 250 columns)."""
    global _ROOMY_LAYER
    if _ROOMY_LAYER is not None:
        return _ROOMY_LAYER
    from transformers.cache_utils import DynamicLayer

    class RoomyLayer(DynamicLayer):
        def hold(self, keys, values) -> None:
            """Hold exactly these keys and values [rows, heads, columns, dim], with room for more columns."""
            self.is_initialized, self.device = True, keys.device
            self._keys, self._values = _with_room(keys), _with_room(values)
            self._length = keys.shape[-2]
            self._view()

        def update(self, key_states, value_states, *args, **kwargs):
            if not self.is_initialized:
                self.hold(key_states, value_states)
                return self.keys, self.values
            end = self._length + key_states.shape[-2]
            if end > self._keys.shape[-2]:
                assert self.keys is not None and self.values is not None  # views set by hold
                self.hold(torch.cat([self.keys, key_states], dim=-2), torch.cat([self.values, value_states], dim=-2))
                return self.keys, self.values
            self._keys[:, :, self._length:end] = key_states
            self._values[:, :, self._length:end] = value_states
            self._length = end
            self._view()
            return self.keys, self.values

        def _view(self) -> None:
            self.keys, self.values = self._keys[:, :, :self._length], self._values[:, :, :self._length]

    import torch

    _ROOMY_LAYER = RoomyLayer
    return RoomyLayer


def _with_room(t):
    """``t`` [rows, heads, columns, dim] copied into a buffer with half as many columns again (at least 64) spare."""
    columns = t.shape[-2]
    buffer = t.new_empty((*t.shape[:-2], columns + max(64, columns // 2), t.shape[-1]))
    buffer[:, :, :columns] = t
    return buffer


def _held_cache(reused: list[tuple[int, list | None]], held: int):
    """A cache holding each row's reused prefix, left-padded to ``held`` columns (empty when nothing is reused)."""
    from transformers import DynamicCache

    if not held:
        return DynamicCache()
    layers = []
    for j, (k, v) in enumerate(next(kv for n, kv in reused if kv is not None)):  # kv is None where n is 0
        keys = k.new_zeros((len(reused), k.shape[0], held, k.shape[-1]))
        values = v.new_zeros((len(reused), v.shape[0], held, v.shape[-1]))
        for row, (n, kv) in enumerate(reused):
            if kv is not None:
                keys[row, :, held - n:], values[row, :, held - n:] = kv[j]
        layers.append((keys, values))
    return DynamicCache(layers)


def _length_groups(lengths: list[int]) -> list[list[int]]:
    """Indices of prompts to prefill together, longest group first: a prompt shorter than its group's longest by more
    than a quarter (and more than 32 tokens) starts a new group, so little compute goes to padding."""
    groups: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        if groups and lengths[groups[-1][0]] - lengths[i] <= max(32, lengths[groups[-1][0]] // 4):
            groups[-1].append(i)
        else:
            groups.append([i])
    return [sorted(g) for g in groups]  # each in the order given


def decode(model, prompts: list[list[int]], decoding: Decoding, *, stop_ids: Collection[int], pad_id: int,
           max_batch: int | None = None) -> list[list[int]]:
    """The new tokens for each prompt (stop token excluded). At most ``max_batch`` rows decode at once; a finished
    row's place goes to the next waiting prompt at the next step. Prompt i is sampled with seed decoding.seed + i."""
    decoder: Decoder[int] = Decoder(model, decoding, stop_ids=stop_ids, pad_id=pad_id)
    out: list[list[int]] = [[] for _ in prompts]
    waiting = iter(range(len(prompts)))
    limit = max_batch or len(prompts)
    while True:
        newcomers = [i for _, i in zip(range(limit - len(decoder)), waiting, strict=False)]
        decoder.add([prompts[i] for i in newcomers], newcomers, [decoding.seed + i for i in newcomers])
        if not decoder:
            return out
        for i, tokens in decoder.step():
            out[i] = tokens


def generate_replies(model, tokenizer, conversations: list[list[dict]], decoding: Decoding, *,
                     max_prompt_tokens: int, batch_size: int = 16) -> list[str]:
    """One reply per conversation (a message list ending on a user turn); the oldest turns of a too-long
    conversation are evicted exactly as at training time."""
    prompts = [prompt_ids(tokenizer, conv, max_prompt_tokens)[0] for conv in conversations]
    tokens = decode(model, prompts, decoding, stop_ids=stop_ids(tokenizer, model), pad_id=pad_id(tokenizer),
                    max_batch=batch_size)
    return [reply_text(tokenizer.decode(ids, skip_special_tokens=True)) for ids in tokens]


def pad_id(tokenizer) -> int:
    """Padding only ever sits under a zero attention mask; any id does, the tokenizer's own if it has one."""
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


def _left_pad(t, width: int, dim: int):
    import torch.nn.functional as F

    missing = width - t.shape[dim]
    if missing == 0:
        return t
    pad = [0, 0] * (-dim - 1) + [missing, 0]  # F.pad lists (before, after) pairs from the last dimension back
    return F.pad(t, pad)


def _cache_argument(model) -> str:
    """transformers 5.24 renamed forward's ``past_key_values`` to ``cache`` (the old name warns); earlier 5.x
    releases only know the old one."""
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # peft wraps forward in **kwargs
    return "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"


def _pick(logits, seen, decoding: Decoding, generators: list):
    """The next token per row: repetition penalty (as CTRL / transformers define it), then greedy or
    temperature + nucleus sampling, each row drawing from its own generator."""
    import torch

    if seen is not None:
        p = decoding.repetition_penalty
        logits = torch.where(seen, torch.where(logits > 0, logits / p, logits * p), logits)
    if decoding.temperature <= 0:
        return logits.argmax(-1)
    logits = logits / decoding.temperature
    if decoding.top_p < 1.0:
        ordered, order = logits.sort(dim=-1, descending=True)
        probs = ordered.softmax(-1)
        outside = probs.cumsum(-1) - probs > decoding.top_p  # the most likely token always stays
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, ordered.masked_fill(outside, float("-inf")))
    probs = logits.softmax(-1)
    return torch.cat([torch.multinomial(row, 1, generator=g) for row, g in zip(probs, generators, strict=True)])
