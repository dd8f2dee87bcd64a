"""make eval: the metric functions on hand-made inputs, and one run on a freshly trained adapter."""
import json

from training.evaluate import char_bleu4, dev_prompts, length_distance, rouge_words


def test_bleu_and_rouge_are_perfect_for_identical_and_zero_for_disjoint_replies():
    refs = ["今天我们去吃火锅吧", "好的明天见"]
    assert abs(char_bleu4(refs, refs) - 100) < 1e-6
    assert char_bleu4(["天气不错啊啊", "嗯嗯嗯嗯嗯"], ["火锅好吃吗", "周末见面吧"]) == 0.0
    assert rouge_words(refs, refs)["rouge-1"] > 0.99
    assert rouge_words(["完全无关"], ["火锅好吃"])["rouge-1"] == 0.0


def test_length_distance():
    assert length_distance([0.5, 0.5, 0], [0.5, 0.5, 0]) == 0
    assert length_distance([1, 0, 0], [0, 0, 1]) == 1


def test_every_owner_turn_is_a_target():
    rows = [{"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "a"},
                          {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"},
                          {"role": "assistant", "content": "d"}]}]
    pairs = dev_prompts(rows, 10)
    assert [r for _, r in pairs] == ["b", "d"]
    assert pairs[1][0][-1] == {"role": "user", "content": "c"}


def test_eval_writes_report_for_base_and_clone(tmp_path, base_dir):
    from core.config import load
    from data_prep.build import build
    from training.evaluate import evaluate
    from training.train import train

    cfg = load(overrides={"dataset.out_dir": str(tmp_path / "data"), "model.cache_dir": str(base_dir.parent),
                          "train.output_dir": str(tmp_path / "run"), "train.max_steps": 5})
    build(cfg, progress=False)
    train(cfg, progress=False)
    result = evaluate(cfg, limit=12, progress=False)
    saved = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert saved["prompts"] == 12 and set(saved["systems"]) == {"base", "clone", "owner"}
    for name in ("base", "clone"):
        assert {"dev_perplexity", "rouge-l", "char_bleu4", "catchphrase_rate"} <= set(saved["systems"][name])
    assert saved["systems"]["owner"]["catchphrase_rate"] > 0.5  # the persona's real replies
    assert len(result["examples"]) == 8 and "## Examples" in (tmp_path / "run" / "eval.md").read_text()
