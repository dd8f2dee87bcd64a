"""make eval: the metric functions on hand-made inputs, and one run on a freshly trained adapter."""
import json

from training.evaluate import char_bleu4, dev_targets, length_distance, rouge_f, spread, style_fidelity


def test_bleu_and_rouge_are_perfect_for_identical_and_zero_for_disjoint_replies():
    refs = ["今天我们去吃火锅吧", "好的明天见"]
    assert abs(char_bleu4(refs, refs) - 100) < 1e-6
    assert char_bleu4(["天气不错啊啊", "嗯嗯嗯嗯嗯"], ["火锅好吃吗", "周末见面吧"]) == 0.0
    assert rouge_f(refs, refs)["rouge_1"] > 0.99
    assert rouge_f(["完全无关"], ["火锅好吃"])["rouge_1"] == 0.0


def test_length_distance():
    assert length_distance([0.5, 0.5, 0], [0.5, 0.5, 0]) == 0
    assert length_distance([1, 0, 0], [0, 0, 1]) == 1


def test_every_owner_turn_answering_a_friend_is_a_target():
    rows = [{"chat": "c1", "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "a"},
                                        {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"},
                                        {"role": "assistant", "content": "d"}]}]
    targets = dev_targets(rows, 10)
    assert [t.reply for t in targets] == ["b", "d"]
    assert targets[1].prompt[-1] == {"role": "user", "content": "c"} and targets[1].chat == "c1"


def test_spread_keeps_every_part_of_the_dev_set():
    assert spread(list(range(10)), 3) == [0, 3, 6]
    assert spread([1, 2], 5) == [1, 2]


def test_style_fidelity_of_the_profile_itself_is_perfect():
    profile = {"length_hist": [1.0, 0.0], "punctuation_rate": {"~": 1.0}, "emoji_rate": 0.0,
               "wechat_code_rate": 0.0, "catchphrase_rate": 0.0, "catchphrases": []}
    from data_prep.profile import style_stats

    stats = style_stats(["好的~"], [])
    profile |= {k: stats[k] for k in ("length_hist", "punctuation_rate", "emoji_rate", "wechat_code_rate",
                                      "catchphrase_rate")}
    assert style_fidelity(["好的~"], profile)["style_score"] == 100
    assert style_fidelity([""], profile)["style_score"] < 100


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
        assert {"dev_perplexity", "rouge_l", "char_bleu4", "catchphrase_rate", "style_score"} <= set(
            saved["systems"][name])
    assert saved["systems"]["owner"]["catchphrase_rate"] > 0.5  # the persona's real replies
    assert len(result["examples"]) == 8 and "## Examples" in (tmp_path / "run" / "eval.md").read_text()
