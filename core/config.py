"""config.toml: the one file a user edits. Loaded with tomllib, validated with pydantic, errors name the key.

Every number has bounds that keep the code that uses it sane (finite floats, time spans the clocks and timers can
hold, sizes that fit in memory), so a typo is an error here, one line naming the key, rather than a traceback or a
bot that never answers.
"""
from __future__ import annotations

import codecs
import re
import tomllib
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import ErrorDetails

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "config.toml"
DAY_S = 86_400
MAX_GAP_S = 30 * DAY_S  # longest session gap: a month of silence
MAX_SEED = 2**32 - 1  # numpy's seeds are 32-bit
MAX_TOKENS = 131_072  # longest context of current open models
# Byte-order marks an editor may write, longest first (UTF-32-LE's starts with UTF-16-LE's).
_BOMS = [(codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")]


class ConfigError(Exception):
    """A readable configuration problem: file, key and what is wrong."""


class Section(BaseModel):
    # A misspelt key is an error, not a silently ignored setting; inf and nan are no setting's meaning.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _plain_values(cls, v: Any, info: ValidationInfo) -> Any:
        """pydantic would read `true` as the number 1 and "yes" as true; a NUL character breaks every path."""
        annotation = cls.model_fields[info.field_name].annotation if info.field_name else None
        if isinstance(v, bool) and _numeric(annotation):
            raise ValueError("should be a number, not true/false")
        if annotation is bool and not isinstance(v, bool):
            raise ValueError("should be true or false")
        for item in v if isinstance(v, list) else [v]:
            if isinstance(item, str) and "\0" in item:
                raise ValueError("contains a NUL character")
        return v


def _numeric(annotation: Any) -> bool:
    return any(t in (int, float) for t in (annotation, *get_args(annotation)))


class Persona(Section):
    names: list[str] = Field(default_factory=list, description="How you appear in exports: display names or ids.")
    system_prompt: str = Field("", description="Persona prompt used as the system turn in training and serving.")


class Dataset(Section):
    inputs: list[Path] = Field(default_factory=list, description="Export files or folders, relative to config.toml.")
    # Checked against the parsers where the dataset is built (data_prep.build.forced_format): core knows no parsers.
    format: str = Field("auto", description="Force one parser for every input ('auto' sniffs each file).")
    out_dir: Path = Field(Path("data/dataset"), description="Where train.jsonl, dev.jsonl and report.md go.")
    include_chats: list[str] = Field(default_factory=list,
                                     description="Glob patterns on chat name or id; empty keeps all.")
    exclude_chats: list[str] = Field(default_factory=list, description="Glob patterns on chat name or id to drop.")
    groups: bool = Field(True, description="Use group chats (ask your friends first).")
    burst_gap_s: int = Field(300, ge=1, le=DAY_S, description="One side's messages closer than this form one turn; a "
                             "longer unanswered pause ends the conversation.")
    session_gap_s: int = Field(3600, ge=1, le=MAX_GAP_S, description="Silence longer than this starts a new "
                               "conversation.")
    max_turn_lines: int = Field(12, ge=1, le=1000, description="A friends' turn keeps at most this many newest lines.")
    max_turns: int = Field(16, ge=2, le=1000, description="Long conversations are split into windows of at most this "
                           "many turns.")
    min_reply_chars: int = Field(1, ge=0, le=10_000, description="Your messages shorter than this are dropped.")
    max_message_chars: int = Field(400, ge=1, le=1_000_000, description="Longer messages (pasted articles, logs) are "
                                   "dropped.")
    dev_fraction: float = Field(0.1, ge=0.0, lt=1.0, description="Share of the latest conversations held out for dev.")
    mask_pii: bool = Field(True, description="Mask phones, ids, cards, emails, urls, ips, QQ/WeChat ids.")
    blocklist: list[str] = Field(default_factory=list,
                                 description="Messages containing any of these words are dropped.")


class Model(Section):
    base: str = Field("tiny", min_length=1, description="'tiny' (built offline in seconds), a hub id such as "
                      "'Qwen/Qwen2.5-1.5B-Instruct', or a local model folder.")
    cache_dir: Path = Field(Path("models"), description="Where the tiny base is built and cached.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field("auto", description="Weights dtype "
                                                                     "('auto': bf16 on GPU, fp32 on CPU).")


# Keys a base's preset fills when config.toml leaves them out (core/presets.py); the defaults below are the
# small-model preset's, for code that reads a Train without a base at hand.
PRESET = " Unset: from the base's preset (core/presets.toml)."


class Train(Section):
    method: Literal["lora", "qlora", "full"] = Field("lora", description="lora (default), qlora (base in "
                                                      "4 bits: bitsandbytes), full (tiny models).")
    output_dir: Path = Field(Path("runs/clone"), description="Checkpoints, adapter, loss.png and metrics.json.")
    epochs: float = Field(3.0, gt=0, le=10_000, description="Passes over train.jsonl." + PRESET)
    max_steps: int = Field(0, ge=0, le=100_000_000, description="Stop after this many optimizer steps (0: use "
                           "epochs).")
    learning_rate: float = Field(2e-4, gt=0, le=1, description="Peak learning rate (cosine schedule); ~1e-4–2e-4 for "
                                 "LoRA on real models." + PRESET)
    batch_size: int = Field(8, ge=1, le=4096, description="Samples per step (packed into one row when packing).")
    grad_accum: int = Field(1, ge=1, le=4096, description="Gradient accumulation steps.")
    cutoff_len: int = Field(1024, ge=16, le=MAX_TOKENS, description="Max tokens of one sample; oldest turns go "
                            "first." + PRESET)
    packing: bool = Field(True, description="Pack samples into one row (position ids restart, no padding).")
    lora_r: int = Field(16, ge=1, le=1024, description="LoRA rank." + PRESET)
    lora_alpha: int = Field(32, ge=1, le=65_536, description="LoRA scaling (alpha / r multiplies the update)." + PRESET)
    lora_dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the LoRA input.")
    target_modules: list[str] | Literal["all-linear"] = Field("all-linear", min_length=1, description="Layers that "
                                                                 "get LoRA adapters: 'all-linear' or a list of module "
                                                                 "names." + PRESET)
    warmup_ratio: float = Field(0.03, ge=0, lt=1, description="Share of steps spent warming up the LR.")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seed for initialisation and data order.")
    gradient_checkpointing: bool = Field(False, description="Trade compute for memory on big models." + PRESET)


class EvalConfig(Section):
    max_prompts: int = Field(200, ge=1, le=1_000_000, description="Score at most this many held-out owner replies, "
                             "spread evenly over dev.jsonl (`--limit` caps it further).")
    max_new_tokens: int = Field(64, ge=1, le=MAX_TOKENS, description="Longest generated reply, in tokens.")
    batch_size: int = Field(32, ge=1, le=4096, description="Prompts generated together in one batch.")
    examples: int = Field(8, ge=0, le=10_000, description="Example exchanges shown in eval.md.")
    temperature: float = Field(0.0, ge=0, le=10, description="0: greedy (reproducible); above 0 samples, with the "
                               "same seed for base and clone.")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling cut-off when temperature > 0.")
    repetition_penalty: float = Field(1.0, gt=0, le=10, description="Above 1 discourages repeated tokens (both "
                                      "systems).")


class BotTelegram(Section):
    enabled: bool = Field(False, description="Answer in Telegram (token from env TELEGRAM_BOT_TOKEN).")
    base_url: str = Field("https://api.telegram.org/bot", description="Bot API base URL; the token is appended "
                          "(self-hosted Bot API servers, tests).")
    poll_timeout_s: int = Field(30, ge=0, le=600, description="getUpdates long-poll timeout.")


class BotWechat(Section):
    enabled: bool = Field(False, description="Answer in WeChat through a Wechaty puppet service.")
    endpoint: str = Field("", description="Puppet service host:port (plain gRPC, no TLS); empty: env "
                          "WECHATY_PUPPET_SERVICE_ENDPOINT.")
    token: str = Field("", description="Puppet service token; better left empty and set in env "
                       "WECHATY_PUPPET_SERVICE_TOKEN.")


class BotEngine(Section):
    backend: Literal["local", "openai"] = Field("local", description="local: base + adapter in this process "
                                                "(transformers/peft); openai: any OpenAI-compatible server.")
    adapter: Path | None = Field(None, description="Adapter folder for the local backend (default: "
                                 "<train.output_dir>/adapter).")
    max_batch: int = Field(16, ge=1, le=4096, description="Local backend: most replies decoding at once; a message "
                           "joins the running batch at its next step.")
    prefill_chunk: int = Field(256, ge=0, le=MAX_TOKENS, description="Local backend: prompt tokens prefilled per "
                               "decoding step while a message joins, so the replies being written keep going (0: a "
                               "prompt is prefilled at once).")
    prefix_tokens: int = Field(16384, ge=0, le=10_000_000, description="Local backend: tokens of recent prompts and "
                               "replies kept as keys and values, so a chat's next message is computed only from where "
                               "it differs (0: none kept). Each costs 2 x layers x kv heads x head dim x dtype bytes "
                               "(Qwen2.5-0.5B in float32: 24 KiB).")
    url: str = Field("http://127.0.0.1:8000/v1", description="openai backend: base URL (vLLM, llama.cpp "
                     "server, Ollama's /v1).")
    model: str = Field("clone", description="openai backend: model name (vLLM: the LoRA module's name).")
    api_key_env: str = Field("OPENAI_API_KEY", description="openai backend: env var holding the API key "
                             "(unset: no key sent).")
    timeout_s: float = Field(60.0, gt=0, le=3600, description="openai backend: request timeout.")
    max_new_tokens: int = Field(64, ge=1, le=MAX_TOKENS, description="Longest reply, in tokens.")
    temperature: float = Field(0.7, ge=0, le=10, description="0: greedy; higher: more varied replies.")
    top_p: float = Field(0.9, gt=0, le=1, description="Nucleus sampling cut-off.")
    repetition_penalty: float = Field(1.1, gt=0, le=10, description="Above 1 discourages repeating tokens.")


class Bot(Section):
    allow: list[str] = Field(default_factory=list, description="Who may talk to the clone: 'channel:user_id' "
                             "or 'channel:chat_id' ('telegram:*' = everyone there); empty = nobody.")
    owner: list[str] = Field(default_factory=list, description="Your own accounts ('telegram:<your user id>'): "
                             "owner commands and takeover. In WeChat the logged-in account is always the owner.")
    data_dir: Path = Field(Path("data/bot"), description="Chat history (sqlite): every message said in each chat, "
                           "by conversation.")
    groups: Literal["mention", "all", "never"] = Field("mention", description="In groups answer when @mentioned "
                                                       "or replied to, to every message, or never.")
    debounce_s: float = Field(4.0, ge=0, le=60, description="Wait this long after a friend's last message and answer "
                              "the whole burst as one turn.")
    message_pause_s: float = Field(1.2, ge=0, le=60, description="Pause between the messages of a multi-message reply "
                                   "(plus a little per character, like typing).")
    rate_limit: int = Field(8, ge=1, le=10_000, description="At most this many replies per chat per rate_window_s.")
    rate_window_s: float = Field(60.0, gt=0, le=DAY_S, description="Window of the per-chat rate limit.")
    takeover_s: float = Field(1800.0, ge=0, le=MAX_GAP_S, description="After you write in a chat yourself, the clone "
                              "stays silent there this long.")
    expire_every_s: float = Field(60.0, ge=0.01, le=3600, description="How often conversations idle for the session "
                                  "gap are ended.")
    telegram: BotTelegram = Field(default_factory=BotTelegram)
    wechat: BotWechat = Field(default_factory=BotWechat)
    engine: BotEngine = Field(default_factory=BotEngine)

    @field_validator("allow", "owner")
    @classmethod
    def _channel_keys(cls, v: list[str]) -> list[str]:
        for key in v:
            if not re.fullmatch(r"[a-z]+:\S+", key):
                raise ValueError(f"entry {key!r} is not 'channel:id', e.g. 'telegram:123456' or 'wechat:wxid_abc'")
        return v


class Config(Section):
    persona: Persona = Field(default_factory=Persona)
    dataset: Dataset = Field(default_factory=Dataset)
    model: Model = Field(default_factory=Model)
    train: Train = Field(default_factory=Train)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    bot: Bot = Field(default_factory=Bot)
    # Where the config file lives; relative paths inside it are resolved against this folder.
    source: Path = Field(DEFAULT_CONFIG, exclude=True)

    def path(self, p: Path) -> Path:
        return p if p.is_absolute() else (self.source.parent / p).resolve()

    def check_inputs(self) -> list[Path]:
        """The dataset inputs as absolute paths, or a ConfigError naming the key of the first missing one."""
        if not self.dataset.inputs:
            raise ConfigError(f"{self.source}: dataset.inputs: empty; list your export files or folders")
        out = []
        for i, p in enumerate(self.dataset.inputs):
            full = self.path(p)
            if not full.exists():
                raise ConfigError(f"{self.source}: dataset.inputs[{i}]: {p} does not exist (looked for {full})")
            out.append(full)
        return out


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, str) and not part.isidentifier():
            continue  # which member of a union type failed ("list[str]"): not a key the user wrote
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _read(path: Path) -> str:
    """The file's text: UTF-8, or any Unicode encoding that a byte-order mark announces; else a ConfigError saying
    what the bytes look like."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder; --config takes the config file itself (config.toml)") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the config file: {e.strerror or e}") from None
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as e:
                raise ConfigError(f"{path}: starts with a {codec.upper()} byte-order mark but is not {codec.upper()} "
                                  f"(bad bytes at line {_line(data, e.start)}); save it as UTF-8") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: {_looks_like(data)}, not UTF-8 (first bad byte 0x{data[e.start]:02x} at line "
                          f"{_line(data, e.start)}); save it as UTF-8") from None


def _line(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _looks_like(data: bytes) -> str:
    """A guess at a non-UTF-8 config's encoding, for the error message."""
    if data.count(0) * 4 >= len(data):  # ASCII text in UTF-16 has a NUL in every other byte
        return "looks like UTF-16 or UTF-32 without a byte-order mark"
    if b"\0" in data:
        return "looks like a binary file"
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        return "is in an unknown encoding"
    if any("\u4e00" <= c <= "\u9fff" for c in text):
        return "looks like GBK/GB18030 (Chinese Windows' default)"
    return "is in an unknown encoding"


def _message(err: ErrorDetails) -> str:
    return err["msg"].removeprefix("Value error, ")


def load(path: Path | str | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Read and validate a config file. Every problem becomes one ConfigError with one line per bad key."""
    path = Path(path) if path else DEFAULT_CONFIG
    text = _read(path)
    if "\0" in text:  # UTF-16 without a BOM also decodes as UTF-8, NULs and all
        raise ConfigError(f"{path}: {_looks_like(text.encode('utf-8'))}, not UTF-8; save it as UTF-8")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None
    except RecursionError:
        raise ConfigError(f"{path}: invalid TOML: arrays or tables nested too deeply") from None
    for dotted, value in (overrides or {}).items():
        node = raw
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    try:
        cfg = Config.model_validate(raw)
    except ValidationError as e:
        problems: dict[str, list[str]] = {}  # a key whose value fits no member of a union gets one line
        for err in e.errors():
            msg = _message(err)
            if err["type"] == "extra_forbidden":
                msg = "unknown key (misspelt? see the config reference in README.md)"
            problems.setdefault(_loc(err["loc"]), []).append(msg)
        raise ConfigError("\n".join(f"{path}: {key}: {'; or '.join(msgs)}" for key, msgs in problems.items())) from None
    cfg.source = path.resolve()
    if cfg.dataset.burst_gap_s > cfg.dataset.session_gap_s:
        raise ConfigError(f"{path}: dataset.burst_gap_s: must not exceed dataset.session_gap_s")
    return cfg
