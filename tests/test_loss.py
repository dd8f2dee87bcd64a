"""The labelled-only chunked loss (training/loss.py) is the model's own loss: same value and same LoRA gradients,
packed and padded, on the tiny base and on a real-vocabulary Qwen2 shape, with no tokens × vocabulary tensor."""
from __future__ import annotations

import pytest
import torch

from training.loss import (
    IGNORE_INDEX,
    backend,
    labelled_loss,
    labelled_loss_unsupported,
    linear_cross_entropy,
    output_layer,
)

REAL_VOCAB = 151_936
LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
# config.toml's targets for the tiny base: LoRA on the output layer too, which takes the checkpointed backend
TINY_TARGETS = LINEAR + ["embed_tokens", "lm_head"]


def chat(i: int) -> list[dict]:
    return [{"role": "system", "content": "你是林小夏，一个住在杭州的插画师。"},
            {"role": "user", "content": f"今天{i}点去吃火锅吗" * (1 + i % 3)},
            {"role": "assistant", "content": f"好啊 {i * 7 % 13} 冲鸭"},
            {"role": "user", "content": "哈哈哈 好的"},
            {"role": "assistant", "content": "晚上见[旺柴]" * (1 + i % 2)}]


def lora(model, targets, seed: int = 0):
    """A LoRA model with no zero factor (a fresh LoRA is the identity and would hide wrong gradients)."""
    from peft import LoraConfig, get_peft_model

    model.config.use_cache = False
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=targets))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name or "lora_embedding" in name:  # the zero-initialised halves
                p.copy_(torch.randn(p.shape, generator=gen) * 0.05)
    return model.train()


def real_vocab_model(seed: int = 0):
    """Qwen2.5's vocabulary and tied embeddings, shrunk to 2 layers of width 64, random weights."""
    from transformers import AutoModelForCausalLM, Qwen2Config

    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(Qwen2Config(
        vocab_size=REAL_VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, tie_word_embeddings=True))


def random_chats(n: int, seed: int = 0) -> list[dict]:
    """Chat-shaped samples in the full vocabulary: a prompt without labels, then a labelled reply."""
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for i in range(n):
        prompt, reply = 20 + 9 * i, 6 + 4 * (i % 3)
        ids = torch.randint(0, REAL_VOCAB, (prompt + reply,), generator=gen).tolist()
        rows.append({"input_ids": ids, "labels": [IGNORE_INDEX] * prompt + ids[prompt:]})
    return rows


def collate(rows: list[dict], packing: bool, pad_id: int = 0) -> dict:
    """The packed row train.py's collator makes, or right-padded rows with an attention mask."""
    from transformers import DataCollatorWithFlattening

    if packing:
        return DataCollatorWithFlattening(return_position_ids=True)([dict(r) for r in rows])
    width = max(len(r["input_ids"]) for r in rows)
    pad = lambda seq, value: list(seq) + [value] * (width - len(seq))  # noqa: E731
    return {"input_ids": torch.tensor([pad(r["input_ids"], pad_id) for r in rows]),
            "attention_mask": torch.tensor([pad([1] * len(r["input_ids"]), 0) for r in rows]),
            "labels": torch.tensor([pad(r["labels"], IGNORE_INDEX) for r in rows])}


def loss_and_grads(model, compute) -> tuple[float, dict[str, torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    loss = compute()
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
    model.zero_grad(set_to_none=True)
    return loss.item(), grads


def assert_same(a: tuple[float, dict], b: tuple[float, dict], rel: float = 1e-5) -> None:
    (la, ga), (lb, gb) = a, b
    assert la == pytest.approx(lb, rel=rel)
    assert ga.keys() == gb.keys() and ga
    for name in ga:
        scale = gb[name].abs().max().item()
        assert scale > 0, f"{name}: no gradient reaches it"
        assert (ga[name] - gb[name]).abs().max().item() <= 1e-4 * scale, name


@pytest.fixture(scope="module")
def tiny_rows(tok):
    from core.chat_format import encode

    return [{"input_ids": e.input_ids, "labels": e.labels} for e in (encode(tok, chat(i), 96) for i in range(6))]


@pytest.fixture(scope="module")
def real_vocab():
    return lora(real_vocab_model(), LINEAR)


@pytest.mark.parametrize("packing", [True, False], ids=["packed", "padded"])
@pytest.mark.parametrize("targets,impl", [(LINEAR, "fused"), (TINY_TARGETS, "checkpointed")],
                         ids=["all-linear", "with-lm_head"])
def test_tiny_base_same_loss_and_gradients(base_dir, tok, tiny_rows, packing, targets, impl):
    from transformers import AutoModelForCausalLM

    model = lora(AutoModelForCausalLM.from_pretrained(base_dir), targets)
    batch = collate(tiny_rows, packing, tok.pad_token_id)
    assert backend(torch.zeros(1), output_layer(model)) == impl
    ours = loss_and_grads(model, lambda: labelled_loss(model, batch, chunk_rows=16)[0])
    assert_same(ours, loss_and_grads(model, lambda: model(**batch).loss))


@pytest.mark.parametrize("packing", [True, False], ids=["packed", "padded"])
def test_real_vocabulary_same_loss_and_gradients(real_vocab, packing):
    batch = collate(random_chats(6), packing)
    assert labelled_loss_unsupported(real_vocab) is None
    ours = loss_and_grads(real_vocab, lambda: labelled_loss(real_vocab, batch, chunk_rows=16)[0])
    plain = loss_and_grads(real_vocab, lambda: real_vocab(**batch).loss)
    assert_same(ours, plain)
    assert plain[0] > 10, "random weights over 151,936 tokens: about ln(151936) = 11.9"


def test_gradient_accumulation_normalisation(real_vocab):
    """Trainer passes num_items_in_batch, the labelled tokens of every micro-batch of the optimizer step: each
    micro-batch's loss is then its token sum over that count, as the model's own loss computes it."""
    batch = collate(random_chats(4), packing=True)
    n = 3 * int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
    ours = loss_and_grads(real_vocab, lambda: labelled_loss(real_vocab, batch, num_items_in_batch=n)[0])
    plain = loss_and_grads(real_vocab, lambda: real_vocab(**batch, num_items_in_batch=torch.tensor(n)).loss)
    assert_same(ours, plain)
    with torch.no_grad():
        assert ours[0] == pytest.approx(labelled_loss(real_vocab, batch)[0].item() / 3, rel=1e-5)


def test_negative_controls_are_beyond_the_tolerance(real_vocab):
    """The comparison above would notice an off-by-one target or a lost chunk."""
    batch = collate(random_chats(6), packing=True)
    with torch.no_grad():
        plain = real_vocab(**batch).loss.item()
        off_by_one = dict(batch, labels=torch.nn.functional.pad(batch["labels"][:, 1:], (0, 1), value=IGNORE_INDEX))
        shifted = labelled_loss(real_vocab, off_by_one, chunk_rows=16)[0].item()
        out = real_vocab(**{k: v for k, v in batch.items() if k != "labels"}, output_hidden_states=True)
        targets = torch.nn.functional.pad(batch["labels"][:, 1:], (0, 1), value=IGNORE_INDEX)[0]
        keep = targets != IGNORE_INDEX
        hidden, targets = out.hidden_states[-1][0][keep], targets[keep]
        head = output_layer(real_vocab)
        full = linear_cross_entropy(hidden, head, targets, chunk_rows=16).item() / len(targets)
        dropped = linear_cross_entropy(hidden[:-16], head, targets[:-16], chunk_rows=16).item() / len(targets)
    assert full == pytest.approx(plain, rel=1e-5)
    assert abs(shifted - plain) > 1e-3 * plain and abs(dropped - plain) > 1e-3 * plain


@pytest.mark.parametrize("impl", ["fused", "checkpointed"])
def test_backends_equal_plain_cross_entropy(impl):
    """Values and gradients for the input, a trained weight and a bias (full fine-tuning), some targets ignored."""
    gen = torch.Generator().manual_seed(1)
    head = torch.nn.Linear(24, 500)
    hidden = torch.randn(70, 24, generator=gen, requires_grad=True)
    targets = torch.randint(0, 500, (70,), generator=gen)
    targets[::7] = IGNORE_INDEX

    def run(compute):
        loss = compute()
        loss.backward()
        grads = [t.grad.clone() for t in (hidden, head.weight, head.bias)]
        for t in (hidden, head.weight, head.bias):
            t.grad = None
        return loss.item(), grads

    ref = run(lambda: torch.nn.functional.cross_entropy(head(hidden), targets, reduction="sum") * 0.5)
    ours = run(lambda: linear_cross_entropy(hidden, head, targets, chunk_rows=16, impl=impl) * 0.5)
    assert ours[0] == pytest.approx(ref[0], rel=1e-6)
    for a, b in zip(ours[1], ref[1], strict=True):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        assert linear_cross_entropy(hidden, head, targets, 16, impl).item() == pytest.approx(2 * ref[0], rel=1e-6)


@pytest.mark.parametrize("impl", ["fused", "checkpointed"])
def test_backends_in_bf16_equal_the_models_own_upcast_loss(impl):
    """In bf16, as training runs on a GPU: the loss and gradients of a bf16 output layer are those of the model's own
    loss, which projects in bf16 and takes the cross-entropy of the logits upcast to fp32."""
    gen = torch.Generator().manual_seed(3)
    head = torch.nn.Linear(64, 3000, bias=False).to(torch.bfloat16)
    hidden = torch.randn(90, 64, generator=gen).to(torch.bfloat16).requires_grad_()
    targets = torch.randint(0, 3000, (90,), generator=gen)
    targets[::4] = IGNORE_INDEX

    def run(compute):
        loss = compute()
        loss.backward()
        grads = [t.grad.clone() for t in (hidden, head.weight)]
        hidden.grad = head.weight.grad = None
        return loss, grads

    ref = run(lambda: torch.nn.functional.cross_entropy(head(hidden).float(), targets, reduction="sum"))
    ours = run(lambda: linear_cross_entropy(hidden, head, targets, chunk_rows=16, impl=impl))
    assert ours[0].dtype == torch.float32 and ours[0].item() == pytest.approx(ref[0].item(), rel=1e-4)
    for a, b in zip(ours[1], ref[1], strict=True):
        assert a.dtype == torch.bfloat16 and torch.allclose(a.float(), b.float(), rtol=2e-2, atol=1e-2)


def test_backend_selection():
    """Plain output layers take Liger's kernel on a GPU when it is installed, our fused function otherwise; any other
    layer (LoRA, quantized) is differentiated as it is, chunk by chunk."""
    from types import SimpleNamespace

    from peft import LoraConfig, get_peft_model

    plain = torch.nn.Linear(8, 32)
    gpu, cpu = SimpleNamespace(is_cuda=True), torch.zeros(1)
    assert backend(gpu, plain, liger_available=True) == "liger"
    assert backend(gpu, plain, liger_available=False) == "fused"
    assert backend(cpu, plain, liger_available=True) == "fused"
    wrapped = get_peft_model(torch.nn.Sequential(plain), LoraConfig(r=2, target_modules=["0"]))
    assert backend(gpu, wrapped.base_model.model[0], liger_available=True) == "checkpointed"


def test_no_tensor_spans_tokens_times_vocabulary(real_vocab):
    """Forward and backward of our loss allocate nothing larger than one chunk of logits; the model's own loss
    allocates tokens × vocabulary (the detector works)."""
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_leaves

    class Largest(TorchDispatchMode):
        """Largest tensor any op creates (views of an input do not count)."""

        def __init__(self):
            super().__init__()
            self.numel = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            inputs = {t.untyped_storage().data_ptr() for t in tree_leaves((args, kwargs))
                      if isinstance(t, torch.Tensor)}
            for t in tree_leaves(out):
                if isinstance(t, torch.Tensor) and t.untyped_storage().data_ptr() not in inputs:
                    self.numel = max(self.numel, t.numel())
            return out

    batch = collate(random_chats(8), packing=True)
    tokens, rows = batch["input_ids"].numel(), 16
    for compute, bound in ((lambda: labelled_loss(real_vocab, batch, chunk_rows=rows)[0], rows * REAL_VOCAB),
                           (lambda: real_vocab(**batch).loss, None)):
        with Largest() as seen:
            compute().backward()
        real_vocab.zero_grad(set_to_none=True)
        if bound:
            assert seen.numel <= bound < tokens * REAL_VOCAB / 10
        else:
            assert seen.numel >= tokens * REAL_VOCAB


def test_models_that_transform_their_logits_keep_their_own_loss():
    """Gemma 2 soft-caps its logits: the self-check sees that they are not the output layer's, so train() keeps the
    model's loss."""
    from transformers import AutoModelForCausalLM, Gemma2Config

    model = AutoModelForCausalLM.from_config(Gemma2Config(
        vocab_size=256, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=1, head_dim=16, final_logit_softcapping=1.0))
    assert "not the output layer" in labelled_loss_unsupported(model)
    model.config.final_logit_softcapping = None
    assert labelled_loss_unsupported(model) is None


def test_liger_backend_is_called_as_liger_defines_it(monkeypatch):
    """The GPU path without a GPU: a stand-in with the interface of liger-kernel's LigerFusedLinearCrossEntropyLoss
    (constructed with ignore_index and reduction, called as (weight, input, target, bias), returning the loss or a
    tuple that starts with it) receives what a real one would and its loss is passed on, gradients included."""
    import training.loss as loss_module

    calls = []

    class StandIn(torch.nn.Module):
        def __init__(self, ignore_index=-100, reduction="mean"):
            super().__init__()
            self.ignore_index, self.reduction = ignore_index, reduction

        def forward(self, lin_weight, _input, target, bias=None):
            calls.append((lin_weight, _input, target, bias))
            loss = torch.nn.functional.cross_entropy(torch.nn.functional.linear(_input, lin_weight, bias), target,
                                                     ignore_index=self.ignore_index, reduction=self.reduction)
            return loss, None  # (loss, z_loss) as releases with return_z_loss do

    monkeypatch.setattr(loss_module, "_liger_loss_class", lambda: StandIn)
    gen = torch.Generator().manual_seed(2)
    head = torch.nn.Linear(16, 300, bias=False)
    hidden = torch.randn(40, 16, generator=gen, requires_grad=True)
    targets = torch.randint(0, 300, (40,), generator=gen)
    targets[::5] = IGNORE_INDEX
    ours = linear_cross_entropy(hidden, head, targets, impl="liger")
    ours.backward()
    (weight, given, given_targets, bias), = calls
    assert weight is head.weight and bias is None and given.is_contiguous() and torch.equal(given_targets, targets)
    grad = hidden.grad.clone()
    hidden.grad = None
    ref = torch.nn.functional.cross_entropy(head(hidden), targets, reduction="sum")
    ref.backward()
    assert ours.dtype == torch.float32 and ours.item() == pytest.approx(ref.item(), rel=1e-6)
    assert torch.allclose(grad, hidden.grad, atol=1e-6)


@pytest.mark.parametrize("targets", [LINEAR, TINY_TARGETS], ids=["all-linear", "with-lm_head"])
def test_packed_attention_same_loss_and_gradients(base_dir, tok, tiny_rows, targets):
    """Our whole step (per-sample attention on the packed row, labelled-only loss) against the stock one (padded
    rows, sdpa with an attention mask, the model's own loss): same loss and LoRA gradients. Negative control: the
    packed row without its position ids is one long sequence, whose samples see each other."""
    from transformers import AutoModelForCausalLM

    from training.train import PACKED_SDPA, packed_attention

    model = lora(AutoModelForCausalLM.from_pretrained(base_dir), targets)
    stock = loss_and_grads(model, lambda: model(**collate(tiny_rows, False, tok.pad_token_id)).loss)
    assert packed_attention(model) == PACKED_SDPA
    packed = collate(tiny_rows, True)
    assert "attention_mask" not in packed
    assert_same(loss_and_grads(model, lambda: labelled_loss(model, packed, chunk_rows=16)[0]), stock)
    with torch.no_grad():
        leaked = labelled_loss(model, {k: v for k, v in packed.items() if k != "position_ids"})[0].item()
    assert abs(leaked - stock[0]) > 1e-3 * stock[0]


def test_flex_attention_keeps_packed_samples_apart(base_dir, tok, tiny_rows):
    """The kernel packed training takes on a GPU, run here forward only (torch's flex_attention has no CPU
    backward): transformers builds its block mask from the restarting position ids, so the packed row's loss is the
    padded rows' loss. Negative control: without the position ids the samples see each other."""
    from transformers import AutoModelForCausalLM

    model = lora(AutoModelForCausalLM.from_pretrained(base_dir), LINEAR)
    with torch.no_grad():
        stock = model(**collate(tiny_rows, False, tok.pad_token_id)).loss.item()
        model.set_attn_implementation("flex_attention")
        packed = collate(tiny_rows, True)
        assert labelled_loss(model, packed, chunk_rows=16)[0].item() == pytest.approx(stock, rel=1e-5)
        leaked = labelled_loss(model, {k: v for k, v in packed.items() if k != "position_ids"})[0].item()
    assert abs(leaked - stock) > 1e-3 * stock


def test_packed_attention_leaves_windowed_attention_alone():
    """Sliding-window layers need the mask transformers builds for them: such models keep their kernel."""
    from transformers import AutoModelForCausalLM, Qwen2Config

    from training.train import packed_attention

    model = AutoModelForCausalLM.from_config(Qwen2Config(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, use_sliding_window=True, sliding_window=8, max_window_layers=0),
        attn_implementation="sdpa")
    assert packed_attention(model) == "sdpa" and model.config._attn_implementation == "sdpa"


def test_trainer_step_equals_the_stock_trainer(base_dir, tok, tiny_rows, tmp_path):
    """LabelledLossTrainer normalises as Trainer does the model's own loss: with gradient accumulation over
    batches of different label counts, two optimizer steps of each leave the same LoRA weights."""
    from transformers import AutoModelForCausalLM, Trainer, TrainingArguments

    from training.loss import LabelledLossTrainer
    from training.train import collator

    def run(trainer_class) -> tuple[dict[str, torch.Tensor], list[float]]:
        torch.manual_seed(0)  # the same LoRA A matrices in both runs
        model = lora(AutoModelForCausalLM.from_pretrained(base_dir), TINY_TARGETS)
        args = TrainingArguments(output_dir=str(tmp_path / trainer_class.__name__), per_device_train_batch_size=2,
                                 gradient_accumulation_steps=2, max_steps=2, learning_rate=1e-2, lr_scheduler_type=
                                 "constant", report_to="none", save_strategy="no", logging_steps=1, seed=0, data_seed=0,
                                 remove_unused_columns=False, use_cpu=True, disable_tqdm=True)
        trainer = trainer_class(model=model, args=args, train_dataset=tiny_rows[:4] + tiny_rows[:4],
                                data_collator=collator(tok, packing=True))
        trainer.train()
        return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}, \
            [h["loss"] for h in trainer.state.log_history if "loss" in h]

    (ours, ours_losses), (stock, stock_losses) = run(LabelledLossTrainer), run(Trainer)
    assert ours_losses == pytest.approx(stock_losses, rel=1e-5)
    for name in stock:
        assert torch.allclose(ours[name], stock[name], rtol=1e-4, atol=1e-6), name


def test_packed_attention_on_a_gpu_takes_flex_attention_or_falls_back(monkeypatch):
    """The GPU branch without a GPU: flex_attention is asked for first; where it cannot load, per-sample sdpa."""
    from transformers import AutoModelForCausalLM, Qwen2Config

    from training.train import PACKED_SDPA, packed_attention

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    model = AutoModelForCausalLM.from_config(Qwen2Config(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=1), attn_implementation="sdpa")
    asked, plain = [], model.set_attn_implementation

    def flex_loads(name):
        asked.append(name)
        if name != "flex_attention":
            plain(name)

    monkeypatch.setattr(model, "set_attn_implementation", flex_loads)
    assert packed_attention(model) == "flex_attention" and asked == ["flex_attention"]

    def flex_missing(name):
        asked.append(name)
        if name == "flex_attention":
            raise ImportError("no flex_attention in this build")
        plain(name)

    monkeypatch.setattr(model, "set_attn_implementation", flex_missing)
    assert packed_attention(model) == PACKED_SDPA and model.config._attn_implementation == PACKED_SDPA
