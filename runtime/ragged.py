"""Ragged batches: one model call runs every decoding row's next token and every joining prompt's slice, flattened
into one sequence, and each token attends only to its own row's keys and values.

transformers' models take one sequence length per call, so mixing rows that add one token with prompts that add
hundreds means either padding every row to the longest (compute and cache columns spent on padding) or one call
per kind (a decoding step, then a prefill: for a small model on a CPU each call is mostly fixed cost). Here the
linear layers see the flattened tokens as one row, with no padding; the attention is this module's function,
registered with transformers' AttentionInterface and selected only for the decoder's own calls. It writes each
token's keys and values into its row's slot of a :class:`Store` and attends:

- the decoding rows, one query each, batched over their slots (each row masked to its own length);
- each prompt slice, causally over its row's earlier columns and itself.

Keys and values are stored as the attention receives them (after rotary embedding; a latent-attention model's
expanded heads), left-aligned, so a row's column index is its token's position id. Models whose attention takes
something besides queries, keys, values, a scale and an optional sliding window (logit soft-capping, attention
sinks) are not supported.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

NAME = "chatclone_ragged"


class Store:
    """Keys and values per layer, in buffers of [slots, heads, columns, dim]: slot s holds one row's tokens in
    columns 0..length-1. Buffers are made at the first write (shapes and dtype are the model's) and grow with
    spare room, so a decoding step writes its column in place."""

    def __init__(self, device):
        self.device = device
        self.slots = self.columns = 0  # capacity
        self.layers: list[tuple[Any, Any] | None] = []

    def reserve(self, slots: int, columns: int) -> None:
        """Room for ``slots`` rows of ``columns`` tokens; existing contents are kept."""
        if slots <= self.slots and columns <= self.columns:
            return
        new_slots = max(slots, self.slots) if slots <= self.slots else slots + max(2, slots // 2)
        new_columns = max(columns, self.columns) if columns <= self.columns else columns + max(64, columns // 2)
        for i, kv in enumerate(self.layers):
            if kv is not None:
                self.layers[i] = tuple(_grown(t, new_slots, new_columns) for t in kv)  # type: ignore[assignment]
        self.slots, self.columns = new_slots, new_columns

    def layer(self, index: int, keys, values) -> tuple[Any, Any]:
        """The buffers of layer ``index``, made like ``keys``/``values`` [.., heads, .., dim] if still missing."""
        while len(self.layers) <= index:
            self.layers.append(None)
        if self.layers[index] is None:
            self.layers[index] = (keys.new_zeros((self.slots, keys.shape[-3], self.columns, keys.shape[-1])),
                                  values.new_zeros((self.slots, values.shape[-3], self.columns, values.shape[-1])))
        return self.layers[index]  # type: ignore[return-value]

    def write(self, slot: int, kv: list[tuple[Any, Any]]) -> None:
        """Columns 0..n-1 of ``slot`` from per-layer (keys, values) [heads, n, dim] (kept from an earlier row)."""
        for i, (k, v) in enumerate(kv):
            keys, values = self.layer(i, k.unsqueeze(0), v.unsqueeze(0))
            keys[slot, :, :k.shape[1]], values[slot, :, :v.shape[1]] = k, v

    def take(self, slot: int, n: int) -> list[tuple[Any, Any]]:
        """A copy of columns 0..n-1 of ``slot``, per layer (keys, values) [heads, n, dim]."""
        return [(k[slot, :, :n].clone(), v[slot, :, :n].clone()) for k, v in self._made()]

    def move(self, source: int, target: int, n: int) -> None:
        """Columns 0..n-1 of slot ``source`` into slot ``target``."""
        for keys, values in self._made():
            keys[target, :, :n], values[target, :, :n] = keys[source, :, :n], values[source, :, :n]

    def swap(self, a: int, b: int, n: int) -> None:
        """Exchange columns 0..n-1 of slots ``a`` and ``b``."""
        for keys, values in self._made():
            for t in (keys, values):
                t[[a, b], :, :n] = t[[b, a], :, :n]

    def _made(self) -> list[tuple[Any, Any]]:
        return [kv for kv in self.layers if kv is not None]


def _grown(t, slots: int, columns: int):
    out = t.new_zeros((slots, t.shape[1], columns, t.shape[-1]))
    out[:t.shape[0], :, :t.shape[2]] = t
    return out


@dataclass
class Batch:
    """What one model call holds: the decoding rows (slots 0..len(lengths)-1, one token each, written at column
    ``lengths[slot]``), then ``slices``: (slot, first column, tokens) of prompts on their way in."""
    store: Store
    lengths: list[int]
    slices: list[tuple[int, int, int]]

    def __post_init__(self) -> None:
        import torch

        device = self.store.device
        self.decoding = len(self.lengths)
        self.width = max(self.lengths) + 1 if self.lengths else 0  # the columns the decoding rows attend to
        self.rows = torch.arange(self.decoding, device=device)
        self.columns = torch.tensor(self.lengths, dtype=torch.long, device=device)  # where each row's token goes
        self._masks: dict[tuple[int | None, Any, int], tuple[Any, list[Any]]] = {}

    def masks(self, window: int | None, dtype, group: int) -> tuple[Any, list[Any]]:
        """Additive masks (0 = attend, -inf = not; faster than boolean ones in torch's CPU kernel): the decoding
        rows' [rows, 1, 1, width], and each slice's [1, 1, group x tokens, columns] for queries grouped by key head
        (see :func:`attention`)."""
        key = (window, dtype, group)
        if key not in self._masks:
            import torch

            device = self.store.device
            decoding = None
            if self.decoding:
                columns = torch.arange(self.width, device=device)[None, :]
                decoding = columns <= self.columns[:, None]
                if window is not None:
                    decoding &= columns > self.columns[:, None] - window
                decoding = _additive(decoding[:, None, None, :], dtype)
            slices = []
            for _, start, n in self.slices:
                position = torch.arange(start, start + n, device=device)[:, None]
                columns = torch.arange(start + n, device=device)[None, :]
                mask = columns <= position
                if window is not None:
                    mask &= columns > position - window
                slices.append(_additive(mask.repeat(group, 1)[None, None], dtype))
            self._masks[key] = (decoding, slices)
        return self._masks[key]


def _additive(allowed, dtype):
    import torch

    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill_(~allowed, float("-inf"))


def attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, ragged_batch=None, **kwargs):
    """transformers' attention-function signature: query [1, heads, tokens, dim], key/value [1, kv heads, tokens,
    dim] of the flattened call; returns [1, tokens, heads, value dim].

    With grouped-query attention, the query heads that share a key head are laid out as more queries of that key
    head ([.., kv heads, group x queries, dim]) rather than repeating the keys: no copy, and torch's plain kernel."""
    import torch
    import torch.nn.functional as F

    batch: Batch = ragged_batch
    if batch is None:
        raise RuntimeError(f"{NAME} attention needs the ragged_batch of runtime.decoding.Decoder")
    if kwargs.get("softcap") is not None or kwargs.get("s_aux") is not None:
        raise NotImplementedError(f"{type(module).__name__}: attention with logit soft-capping or sinks")
    keys, values = batch.store.layer(module.layer_idx, key, value)
    heads, kv_heads, dim = query.shape[1], key.shape[1], query.shape[-1]
    group = heads // kv_heads
    window = kwargs.get("sliding_window", getattr(module, "sliding_window", None))
    decoding_mask, slice_masks = batch.masks(window, query.dtype, group)
    out = []
    n = batch.decoding
    if n:
        keys[batch.rows, :, batch.columns] = key[0, :, :n].transpose(0, 1)
        values[batch.rows, :, batch.columns] = value[0, :, :n].transpose(0, 1)
        grouped = query[0, :, :n].transpose(0, 1).reshape(n, kv_heads, group, dim)
        attended = F.scaled_dot_product_attention(grouped, keys[:n, :, :batch.width], values[:n, :, :batch.width],
                                                  attn_mask=decoding_mask, scale=scaling)  # [rows, kv, group, dim]
        out.append(attended.reshape(1, n, heads, -1))
    at = n
    for (slot, start, tokens), mask in zip(batch.slices, slice_masks, strict=True):
        keys[slot, :, start:start + tokens] = key[0, :, at:at + tokens]
        values[slot, :, start:start + tokens] = value[0, :, at:at + tokens]
        grouped = query[:, :, at:at + tokens].reshape(1, kv_heads, group * tokens, dim)
        attended = F.scaled_dot_product_attention(grouped, keys[slot:slot + 1, :, :start + tokens],
                                                  values[slot:slot + 1, :, :start + tokens], attn_mask=mask,
                                                  scale=scaling)  # [1, kv, group x tokens, dim]
        out.append(attended.reshape(1, heads, tokens, -1).transpose(1, 2))
        at += tokens
    return torch.cat(out, dim=1), None


@contextlib.contextmanager
def selected(model):
    """While in it, ``model``'s attention layers use :func:`attention` (registered with transformers under NAME)."""
    from transformers import AttentionInterface

    AttentionInterface.register(NAME, attention)
    config = model.config
    before = config._attn_implementation
    config._attn_implementation = NAME
    try:
        yield
    finally:
        config._attn_implementation = before
