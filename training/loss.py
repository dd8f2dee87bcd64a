"""The training loss, computed only where labels exist and without a tokens × vocabulary logits tensor.

A causal LM's own loss projects every position onto the whole vocabulary (tokens × 151,936 floats on Qwen2.5) and
then keeps the cross-entropy of the positions that carry a label: in a chat dataset only the assistant turns,
about a sixth of the tokens. Here the decoder's final hidden states are taken at the labelled positions only and
projected chunk by chunk; each chunk's logits are dropped as soon as its loss and gradient are known. The output
layer's cost then follows the labelled tokens, and its memory one chunk, whatever the vocabulary.

The value is the model's own: the sum of the token cross-entropies over the labels shifted by one, divided by
``num_items_in_batch`` when Trainer passes it (the labelled tokens of the whole accumulated batch, on every
process) or else by this batch's labelled tokens.

Backends for the projection + cross-entropy, by what the output layer is:
- ``liger``: Liger's fused linear cross-entropy (Triton), for a plain ``nn.Linear`` on a CUDA device when
  liger-kernel is installed (``pip install liger-kernel`` on the GPU machine);
- ``fused``: our chunked autograd function for a plain ``nn.Linear`` elsewhere: each chunk's gradient is taken in
  the forward pass, so the logits are computed once and never kept;
- ``checkpointed``: any other output layer (LoRA on ``lm_head``, a quantized layer): each chunk runs under
  activation checkpointing and is recomputed in the backward pass, so autograd differentiates the module as is.
"""
from __future__ import annotations

import functools
import inspect
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformers import PreTrainedModel, Trainer

IGNORE_INDEX = -100
# fp32 logits of one chunk; the softmax and its gradient reuse that buffer. 64 MiB ≈ 110 rows of a 151,936 vocabulary
CHUNK_BYTES = 64 * 2**20


def chunk_rows_for(vocab_size: int) -> int:
    return max(1, CHUNK_BYTES // (4 * vocab_size))


@functools.cache
def _liger_loss_class():
    try:
        from liger_kernel.transformers.fused_linear_cross_entropy import LigerFusedLinearCrossEntropyLoss
    except ImportError:
        return None
    return LigerFusedLinearCrossEntropyLoss


def backend(hidden: Tensor, head: nn.Module, liger_available: bool | None = None) -> str:
    """Which implementation computes the loss of ``head`` on ``hidden`` (see the module docstring)."""
    if type(head) is not nn.Linear:  # exact type: LoRA and quantized layers are Linear-like but compute more
        return "checkpointed"
    if liger_available is None:
        liger_available = _liger_loss_class() is not None
    return "liger" if hidden.is_cuda and liger_available else "fused"


def _chunk_loss(head: nn.Module, hidden: Tensor, targets: Tensor) -> Tensor:
    return F.cross_entropy(head(hidden).float(), targets, ignore_index=IGNORE_INDEX, reduction="sum")


class _FusedLinearCrossEntropy(torch.autograd.Function):
    """Sum of cross_entropy(hidden @ weight.T + bias, targets) whose gradients are computed chunk by chunk in the
    forward pass (softmax − one-hot, projected back), so no logits outlive their chunk; backward only scales them."""

    @staticmethod
    def forward(ctx, hidden: Tensor, weight: Tensor, bias: Tensor | None, targets: Tensor, rows: int) -> Tensor:
        """``targets`` are all real labels (linear_cross_entropy drops the ignored rows first)."""
        need_h, need_w, need_b = ctx.needs_input_grad[:3]
        grad_h = torch.empty_like(hidden) if need_h else None
        grad_w = torch.zeros_like(weight, dtype=torch.float32) if need_w else None
        grad_b = torch.zeros_like(bias, dtype=torch.float32) if need_b and bias is not None else None
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        for start in range(0, hidden.shape[0], rows):
            h, t = hidden[start:start + rows], targets[start:start + rows]
            logits = F.linear(h, weight, bias).float()
            # softmax in the logits' buffer, in passes that allocate nothing of the chunk's size
            target_logit = logits.gather(1, t[:, None]).squeeze(1)
            top = logits.amax(dim=-1, keepdim=True)
            grad = logits.sub_(top).exp_()
            norm = grad.sum(dim=-1, keepdim=True)
            total += (top.squeeze(1) + norm.log().squeeze(1) - target_logit).sum()  # log-sum-exp − target logit
            if not (need_h or need_w or need_b):
                continue
            grad.div_(norm)
            grad[torch.arange(len(t), device=t.device), t] -= 1
            if grad_b is not None:
                grad_b += grad.sum(0)
            grad = grad.to(weight.dtype)
            if grad_h is not None:
                grad_h[start:start + rows] = grad @ weight
            if grad_w is not None:
                grad_w += (grad.T @ h).float()
        ctx.save_for_backward(grad_h, grad_w, grad_b)
        ctx.weight_dtype = weight.dtype
        return total

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        grad_h, grad_w, grad_b = ctx.saved_tensors
        scale = lambda g: None if g is None else (g * grad_out).to(ctx.weight_dtype)  # noqa: E731
        grad_hidden = None if grad_h is None else grad_h * grad_out.to(grad_h.dtype)
        return grad_hidden, scale(grad_w), scale(grad_b), None, None


def linear_cross_entropy(hidden: Tensor, head: nn.Module, targets: Tensor, chunk_rows: int | None = None,
                         impl: str | None = None) -> Tensor:
    """Sum over the rows of cross_entropy(head(hidden), targets), ignoring targets of -100, with at most
    ``chunk_rows`` rows of logits alive at a time. ``impl`` forces a backend (tests)."""
    out_features = getattr(head, "out_features", None)  # nn.Linear's; nn.Module types attributes Tensor | Module
    vocab = out_features if out_features is not None else cast(Tensor, head.weight).shape[0]
    rows = chunk_rows or chunk_rows_for(vocab)
    impl = impl or backend(hidden, head)
    grad_wanted = torch.is_grad_enabled() and (hidden.requires_grad or any(p.requires_grad for p in head.parameters()))
    if impl == "liger":
        out = _liger_loss_class()(ignore_index=IGNORE_INDEX, reduction="sum")(head.weight, hidden.contiguous(),
                                                                             targets, head.bias)
        out = out[0] if isinstance(out, tuple) else getattr(out, "loss", out)  # releases differ in what they return
        return out.float()
    keep = targets != IGNORE_INDEX
    if not bool(keep.all()):
        hidden, targets = hidden[keep], targets[keep]
    if impl == "fused" and grad_wanted:
        return _FusedLinearCrossEntropy.apply(hidden, head.weight, head.bias, targets, rows)
    total = torch.zeros((), dtype=torch.float32, device=hidden.device)
    for start in range(0, hidden.shape[0], rows):
        h, t = hidden[start:start + rows], targets[start:start + rows]
        if grad_wanted:
            total = total + torch.utils.checkpoint.checkpoint(_chunk_loss, head, h, t, use_reentrant=False)
        else:
            total = total + _chunk_loss(head, h, t)
    return total


# ---- on a model ----

def _causal_lm(model: nn.Module) -> PreTrainedModel:
    """The transformers *ForCausalLM inside DDP / accelerate and PEFT wrappers."""
    inner: Any = model  # wrappers are told apart by what they have
    while hasattr(inner, "module") and isinstance(inner.module, nn.Module):  # DistributedDataParallel
        inner = inner.module
    if hasattr(inner, "get_base_model"):  # PeftModel
        inner = inner.get_base_model()
    return inner


def output_layer(model: nn.Module) -> nn.Module:
    return _causal_lm(model).get_output_embeddings()


def shifted_targets(inputs: dict[str, Any]) -> Tensor:
    """The label each position predicts: the next token's (``labels`` shifted left, -100 at each row's end), or the
    collator's ``shift_labels``. Packing collators put -100 at each sample's first label, so no target crosses
    from one sample into the next."""
    if "shift_labels" in inputs:
        return inputs["shift_labels"]
    return F.pad(inputs["labels"][:, 1:], (0, 1), value=IGNORE_INDEX)


def labelled_loss(model: nn.Module, inputs: dict[str, Any], num_items_in_batch: Tensor | int | None = None,
                  chunk_rows: int | None = None) -> tuple[Tensor, Any]:
    """(loss, model outputs) for a batch with ``labels``, equal to ``model(**inputs).loss``.

    The model runs with ``logits_to_keep`` selecting no position (its output layer does no work) and returns its
    final hidden states, so wrappers (DDP, PEFT, gradient checkpointing) see an ordinary forward call."""
    targets = shifted_targets(inputs)
    keep = targets != IGNORE_INDEX
    no_position = torch.empty(0, dtype=torch.long, device=targets.device)
    outputs = model(**{k: v for k, v in inputs.items() if k not in ("labels", "shift_labels")},
                    logits_to_keep=no_position, output_hidden_states=True)
    total = linear_cross_entropy(outputs.hidden_states[-1][keep], output_layer(model), targets[keep], chunk_rows)
    if num_items_in_batch is None:
        num_items_in_batch = keep.sum()
    if torch.is_tensor(num_items_in_batch):
        num_items_in_batch = num_items_in_batch.to(total.device)
    return total / num_items_in_batch, outputs


def labelled_loss_unsupported(model: nn.Module) -> str | None:
    """Why this model's loss cannot be computed by labelled_loss (None if it can). Besides the interface, it checks
    on a few tokens that the logits are exactly the output layer applied to the last hidden states: models that
    scale or soft-cap their logits, or add a router loss, keep their own loss."""
    lm = _causal_lm(model)
    if lm.get_output_embeddings() is None or "logits_to_keep" not in inspect.signature(lm.forward).parameters:
        return f"{type(lm).__name__} has no output layer or no logits_to_keep"
    if getattr(lm.config, "output_router_logits", False):
        return "the model adds a router loss to its language-model loss"
    ids = torch.arange(1, 9, device=lm.device)[None] % lm.config.vocab_size
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = model(input_ids=ids, use_cache=False).logits.float()
            hidden = model(input_ids=ids, use_cache=False, logits_to_keep=torch.empty(0, dtype=torch.long,
                           device=ids.device), output_hidden_states=True).hidden_states[-1]
            projected = output_layer(model)(hidden).float()
    finally:
        model.train(training)
    if projected.shape != logits.shape or not torch.allclose(projected, logits, rtol=1e-3, atol=1e-3):
        return "its logits are not the output layer applied to the final hidden states"
    return None


class LabelledLossTrainer(Trainer):
    """Trainer whose training and evaluation loss is labelled_loss; the same value as the model's own loss, with the
    same gradient-accumulation and multi-process normalisation that Trainer applies to it."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        # DataParallel (several GPUs, one process) splits the batch inside forward: leave that to the model's loss
        if "labels" not in inputs or self.args.n_gpu > 1 or self.label_smoother or self.compute_loss_func:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        if not self.model_accepts_loss_kwargs:
            num_items_in_batch = None  # Trainer then divides the per-batch mean by the accumulation steps itself
        loss, outputs = labelled_loss(model, inputs, num_items_in_batch)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            # num_items_in_batch counts the tokens of every process, and DDP averages the gradients: scaled back as
            # Trainer scales the model's own loss (tensor-parallel ranks share a batch)
            tp_size = self.get_tp_size() if hasattr(self, "get_tp_size") else 1
            loss = loss * (self.accelerator.num_processes // tp_size)
        return (loss, outputs) if return_outputs else loss
