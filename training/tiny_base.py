"""The embedded tiny base model: a ~1.9M-parameter Qwen2 chat model built offline in seconds.

Tests, CI and the demo use it instead of downloading a hub model. The folder it produces is an ordinary
transformers checkpoint (config.json, model.safetensors, generation_config.json, tokenizer.json,
tokenizer_config.json, chat_template.jinja), loaded with AutoTokenizer / AutoModelForCausalLM exactly like a
real model, so the rest of the project has no special loading path.

Why it is built the way it is:
- transformers 5.x forces Qwen2Tokenizer for model_type "qwen2" and rebuilds the pipeline from vocab+merges
  with NFC + Qwen2's split regex + ByteLevel(use_regex=False). We train the BPE with exactly that pipeline,
  otherwise ids silently change after reload (e.g. digits).
- The chat template has the shape of Qwen2.5's (ChatML, default system prompt, add_generation_prompt) and no
  {% generation %} tags, like real hub templates, so the project's loss masking cannot rely on them.
"""
from __future__ import annotations

import json
import math
import os
import random
import shutil
import time
import uuid
from pathlib import Path

from .generic_corpus import generic_conversations

VERSION = "tiny-base-v3"  # bump when the corpus, tokenizer, architecture or training recipe changes
STAMP = "tiny.json"
DIR_PREFIX = "tiny-qwen2"

DEFAULT_SYSTEM = "You are a helpful assistant."
PAD, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
QWEN2_SPLIT = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
               r"""|\s*[\r\n]+|\s+(?!\S)|\s+""")

VOCAB_SIZE = 6144  # room for all 3755 GB2312 level-1 hanzi as single tokens, plus words and English
HIDDEN, LAYERS, HEADS, KV_HEADS, INTERMEDIATE = 128, 2, 4, 2, 256
HANZI = True  # every common hanzi is one token: generation cannot emit half a character (U+FFFD)
N_CONVERSATIONS = 3000
STEPS = 800  # batch 8 x 800 steps learnt prompt->reply best per CPU-second (vs 16 x 400)
BATCH = 8
LR = 3e-3
MAX_LEN = 256

# Same shape as Qwen2.5's template (minus tool calling): a default system turn when none is given.
CHAT_TEMPLATE = (
    "{%- if messages and messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- set rest = messages[1:] %}"
    "{%- else %}"
    "{{- '<|im_start|>system\\n" + DEFAULT_SYSTEM + "<|im_end|>\\n' }}"
    "{%- set rest = messages %}"
    "{%- endif %}"
    "{%- for message in rest %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- endif %}"
)

# Occasional explicit system prompts so the base does not fall apart when a caller sets its own.
_SYSTEM_PROMPTS = ("你是一个乐于助人的助手。", "You are a friendly chat partner.", "Reply briefly and politely.",
                   "请用简短的话回答。")

# Extra tokenizer text so common CJK characters, emoji and WeChat codes become single tokens where the
# vocabulary allows; anything else still encodes through the byte-level alphabet.
_ZH_WORDS = """
你好 我们 你们 他们 她们 自己 什么 怎么 为什么 哪里 这里 那里 现在 今天 明天 昨天 后天 早上 中午 下午 晚上 周末
时间 时候 已经 还是 但是 因为 所以 如果 虽然 然后 就是 可以 不是 没有 知道 觉得 喜欢 希望 需要 应该 可能 一定
一起 一下 一点 一直 一样 东西 事情 问题 办法 意思 地方 朋友 同学 同事 老师 老板 家人 爸爸 妈妈 哥哥 姐姐 弟弟
妹妹 孩子 宝宝 老公 老婆 男朋友 女朋友 生日 快乐 开心 高兴 难过 生气 伤心 害怕 担心 放心 辛苦 加油 谢谢 不客气
对不起 没关系 晚安 早安 拜拜 再见 好的 好吧 好啊 行吧 嗯嗯 哦哦 哈哈 嘿嘿 呵呵 嘻嘻 呜呜 啊啊 哇塞 天哪 真的 假的
厉害 牛逼 可爱 漂亮 好看 好吃 好玩 无聊 有趣 麻烦 方便 简单 容易 困难 重要 特别 非常 比较 稍微 确实 其实 当然
吃饭 喝水 睡觉 起床 上班 下班 加班 开会 出差 请假 放假 工资 项目 报告 邮件 电脑 手机 微信 电话 视频 照片 图片
表情 红包 转账 发货 快递 外卖 奶茶 咖啡 火锅 烧烤 米饭 面条 饺子 水果 蛋糕 啤酒 超市 商场 医院 学校 公司 地铁
公交 打车 高铁 飞机 机场 酒店 旅游 旅行 电影 音乐 游戏 小说 综艺 篮球 足球 跑步 健身 减肥 天气 下雨 下雪 太阳
冷死 热死 感冒 发烧 吃药 考试 作业 复习 学习 论文 毕业 工作 面试 找工作 租房 搬家 房子 猫咪 狗狗 宠物 冲鸭 绝了
笑死 离谱 破防 摸鱼 躺平 内卷 打工人 干饭 芜湖 起飞 安排 收到 明白 了解 稍等 马上 等等 算了 随便 不用 不要 别急
怎么样 怎么办 为啥 干嘛 咋了 多少 几点 哪天 哪个 这个 那个 这样 那样 还有 或者 而且 不过 只是 刚刚 刚才 以后
以前 最近 经常 偶尔 每天 有时 永远 一会儿 一辈子 世界 中国 北京 上海 广州 深圳 杭州 成都 重庆 南京 武汉 西安
春节 过年 元旦 中秋 国庆 端午 圣诞 情人节 新年 祝福 身体 健康 平安 幸福 顺利 成功 努力 坚持 放弃 相信 记得 忘了
""".split()
_EMOJI = ("😀 😂 🤣 😊 😍 😘 😭 😅 😆 😉 😎 🤔 😴 😡 👍 👌 🙏 👏 💪 🎉 ❤️ 🔥 ✨ 🌹 🐱 🐶 "
          "🍺 ☕ 🍜 🍰 🎂 🌞 ⭐ 💯 😁 😢 😳 🙄 😤 😱 🤗 🥰 🥺 😋 🤦 👀 🙈 💔 🌈 🍉").split()
_WECHAT = ("微笑 撇嘴 色 发呆 得意 流泪 害羞 闭嘴 睡 大哭 尴尬 发怒 调皮 呲牙 惊讶 难过 囧 抓狂 吐 偷笑 愉快 "
           "白眼 傲慢 困 "
           "惊恐 憨笑 悠闲 咒骂 疑问 嘘 晕 衰 再见 擦汗 抠鼻 鼓掌 坏笑 鄙视 委屈 快哭了 亲亲 可怜 笑脸 生病 脸红 "
           "破涕为笑 恐惧 失望 无语 嘿哈 捂脸 奸笑 机智 皱眉 耶 吃瓜 加油 汗 天啊 Emm 社会社会 旺柴 好的 打脸 哇 "
           "翻白眼 666 让我看看 叹气 苦涩 裂开 爱心 心碎 拥抱 强 弱 握手 胜利 抱拳 OK 合十 啤酒 咖啡 蛋糕 玫瑰 "
           "凋谢 炸弹 便便 月亮 太阳 庆祝 礼物 红包 福 烟花 爆竹 猪头 跳跳 发抖 转圈").split()
_PUNCT = "，。！？：；、“”‘’（）《》【】…… —— ～ ~ ... !! ?? ！！ ？？ :) 0 1 2 3 4 5 6 7 8 9 10 100 2024 2025"


def gb2312_level1() -> list[str]:
    """The 3755 most common hanzi (GB2312 level 1, 0xB0A1..0xD7F9), generated offline."""
    out = []
    for hi in range(0xB0, 0xD8):
        for lo in range(0xA1, 0xFF):
            try:
                out.append(bytes((hi, lo)).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return out


def _extra_text() -> list[str]:
    chars = sorted({c for w in _ZH_WORDS for c in w})  # alone too, or some exist only inside word tokens
    if HANZI:
        chars = sorted(set(chars) | set(gb2312_level1()))
    lines = _ZH_WORDS + chars + [f"[{w}]" for w in _WECHAT] + _EMOJI + _PUNCT.split()
    # Repeated so these pairs out-rank the (deduplicated) corpus's long-word merges: with 10 repeats every
    # listed character, emoji and nearly every [WeChat] code gets its own token within the budget.
    return lines * 10


def tiny_base_dir(cache_dir: Path, seed: int = 0) -> Path:
    return Path(cache_dir) / f"{DIR_PREFIX}-s{seed}"


def _is_ready(folder: Path, seed: int) -> bool:
    try:
        stamp = json.loads((folder / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (stamp.get("version") == VERSION and stamp.get("seed") == seed
            and (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file())


def ensure_tiny_base(cache_dir: Path, *, seed: int = 0, progress: bool = True) -> Path:
    """Folder with the tiny base for `seed`; builds it (≈20 s on 2 CPU cores) only when missing or stale."""
    target = tiny_base_dir(cache_dir, seed)
    if _is_ready(target, seed):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_dead_builds(target)
    tmp = target.parent / f".{target.name}.build-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        build_tiny_base(tmp, seed=seed, progress=progress)
        if _is_ready(target, seed):  # a concurrent build finished first: keep theirs
            return target
        if target.exists():  # stale version: move aside first so the swap itself is one rename
            trash = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
            target.rename(trash)
            shutil.rmtree(trash, ignore_errors=True)
        try:
            tmp.rename(target)
        except OSError:
            if not _is_ready(target, seed):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _remove_dead_builds(target: Path) -> None:
    """Temp folders left by a killed build (its pid is gone) are removed; live ones are left alone."""
    for old in target.parent.glob(f".{target.name}.build-*"):
        try:
            pid = int(old.name.rsplit(".build-", 1)[1].split("-")[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(old, ignore_errors=True)
        except (ValueError, IndexError, PermissionError):
            pass


def build_tiny_base(out: Path, *, seed: int = 0, progress: bool = True) -> dict:
    """Build tokenizer + model into `out` (which must not exist); returns the stamp written last."""
    import torch
    from transformers.utils import logging as hf_logging

    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True)
    convs = generic_conversations(N_CONVERSATIONS, seed=seed)
    tok = _train_tokenizer(convs)
    torch.manual_seed(seed)
    model = _new_model(tok)
    final_loss = _pretrain(model, tok, convs, seed=seed, progress=progress)
    quiet = not progress and hf_logging.is_progress_bar_enabled()
    if quiet:  # save_pretrained shows its own "Writing model shards" bar
        hf_logging.disable_progress_bar()
    try:
        model.save_pretrained(out, safe_serialization=True)
    finally:
        if quiet:
            hf_logging.enable_progress_bar()
    tok.save_pretrained(out)
    _declare_qwen2_tokenizer(out / "tokenizer_config.json")
    stamp = {"version": VERSION, "seed": seed, "vocab_size": len(tok),
             "parameters": sum(p.numel() for p in model.parameters()), "steps": STEPS, "final_loss": final_loss,
             "build_seconds": round(time.perf_counter() - t0, 2)}
    (out / STAMP).write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")  # written last = complete
    return stamp


def _train_tokenizer(convs: list[list[dict[str, str]]]):
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, min_frequency=2, show_progress=False,
                                  special_tokens=[PAD, IM_START, IM_END],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    # Unique lines only, so the corpus's frequent whole words do not crowd the extra block out of the vocabulary.
    lines = list(dict.fromkeys(m["content"] for conv in convs for m in conv))
    # Role names and the default system prompt become single tokens, as in a real chat vocabulary.
    lines += ["system", "user", "assistant", DEFAULT_SYSTEM, *_SYSTEM_PROMPTS] * 50
    tok.train_from_iterator(lines + _extra_text(), trainer)
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=IM_END, pad_token=PAD, unk_token=PAD,
                                 extra_special_tokens=[IM_START], model_max_length=1024,
                                 clean_up_tokenization_spaces=False)
    hf.chat_template = CHAT_TEMPLATE
    return hf


def _declare_qwen2_tokenizer(path: Path) -> None:
    """Name the class like a real Qwen2 repo does. AutoTokenizer picks Qwen2Tokenizer from config.json's
    model_type anyway; this also covers loading the tokenizer files on their own."""
    cfg = json.loads(path.read_text(encoding="utf-8"))
    cfg["tokenizer_class"] = "Qwen2Tokenizer"
    path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _new_model(tok):
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(vocab_size=len(tok), hidden_size=HIDDEN, intermediate_size=INTERMEDIATE,
                         num_hidden_layers=LAYERS, num_attention_heads=HEADS, num_key_value_heads=KV_HEADS,
                         max_position_embeddings=1024,
                         tie_word_embeddings=False, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                         bos_token_id=None)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                                               do_sample=False, max_new_tokens=128)
    return model


def _encode(tok, convs: list[list[dict[str, str]]], rng: random.Random) -> list[list[int]]:
    texts = []
    for conv in convs:
        if rng.random() < 0.2:
            conv = [{"role": "system", "content": rng.choice(_SYSTEM_PROMPTS)}, *conv]
        texts.append(tok.apply_chat_template(conv, tokenize=False))
    return [ids[:MAX_LEN] for ids in tok(texts, add_special_tokens=False)["input_ids"]]


def _length_bucketed(samples: list[list[int]], rng: random.Random) -> list[list[list[int]]]:
    """One epoch of batches of similar length (less padding, ~25% faster on CPU than random batches)."""
    order = rng.sample(range(len(samples)), len(samples))
    batches = []
    for start in range(0, len(order), BATCH * 16):
        chunk = sorted(order[start:start + BATCH * 16], key=lambda i: len(samples[i]))
        batches += [[samples[i] for i in chunk[j:j + BATCH]] for j in range(0, len(chunk), BATCH)]
    rng.shuffle(batches)
    return batches


def _pretrain(model, tok, convs, *, seed: int, progress: bool) -> float:
    """Full training on every token (system, user and assistant alike: this is a base), padded batches.

    Assistant-only loss was tried and learnt prompt->reply far worse in the same time (held-out assistant ppl
    7.4 vs 2.6 at 400 steps); packing into one row was slower on CPU than length-bucketed padding."""
    import torch
    from tqdm.auto import tqdm

    rng = random.Random(seed)
    samples = _encode(tok, convs, rng)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01)
    warmup = STEPS // 20
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warmup, 0.1 + 0.9 * 0.5 * (
        1 + math.cos(math.pi * min(1.0, max(0.0, (s - warmup) / max(1, STEPS - warmup)))))))
    model.train()
    batches: list[list[list[int]]] = []
    loss_ema = None
    bar = tqdm(range(STEPS), desc="building tiny base", disable=not progress, leave=False)
    for _ in bar:
        if not batches:
            batches = _length_bucketed(samples, rng)
        batch = batches.pop()
        width = max(map(len, batch))
        ids = torch.full((len(batch), width), tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, seq in enumerate(batch):
            ids[row, :len(seq)] = torch.tensor(seq)
            mask[row, :len(seq)] = 1
        labels = ids.masked_fill(mask == 0, -100)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels, use_cache=False).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        loss_ema = loss.item() if loss_ema is None else 0.9 * loss_ema + 0.1 * loss.item()
        bar.set_postfix(loss=f"{loss_ema:.3f}", refresh=False)
    bar.close()
    model.eval()
    return round(loss_ema or float("nan"), 4)
