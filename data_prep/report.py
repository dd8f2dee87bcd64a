"""report.md and lengths.png: what went in, what came out, what was dropped and why."""
from __future__ import annotations

from pathlib import Path

from .result import BuildResult


def _table(header: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out + [""]


def _sample_chars(s) -> int:
    return sum(len(m["content"]) for m in s.messages)


def write_report(r: BuildResult, folder: Path) -> None:
    """report.md and lengths.png into ``folder`` (the build writes them beside the other outputs, then swaps)."""
    samples = r.train + r.dev
    lines = ["# Dataset report", "",
             f"- samples: **{len(r.train)} train**, **{len(r.dev)} dev** (dev = the latest conversations)",
             f"- messages kept: {r.clean.kept} of {sum(r.clean.kinds.values())} read from {len(r.log.files)} files",
             f"- assistant turns: {sum(1 for s in samples for m in s.messages if m['role'] == 'assistant')}", ""]
    lines += ["## Files", ""]
    dec = r.log.decodings
    lines += _table(["file", "format", "encoding", "messages", "yours", "undecodable characters"],
                    [[f, fmt, dec[f].encoding if f in dec else "", r.file_messages[f], r.owner_files[f],
                      dec[f].replaced if f in dec else 0] for f, fmt in sorted(r.log.files.items())])
    notes = r.log.decoding_notes()
    if notes:
        lines += ["**Check these files:** their text is not exactly what the bytes say. Undecodable bytes were "
                  "replaced by U+FFFD (a broken copy, or an encoding that was not recognised); an encoding other "
                  "than UTF-8/UTF-16 was a guess. Re-export as UTF-8 if the messages read wrong.", ""]
        lines += [f"- `{n}`" for n in notes] + [""]
    no_owner = [f for f in r.log.files if r.file_messages[f] and not r.owner_files[f]]
    if no_owner:
        lines += ["**Warning:** no message was recognised as yours in: " + ", ".join(no_owner)
                  + ". Add your name there to `persona.names`, or check with `python -m data_prep inspect`.", ""]
    lines += ["## Chats", ""]
    chats = sorted(set(r.sessions.messages) | set(r.clean.chats_dropped))
    lines += _table(["chat", "messages kept", "yours", "sessions", "samples", "left out because"],
                    [[c, r.sessions.messages[c], r.sessions.mine[c], r.sessions.sessions[c], r.samples.per_chat[c],
                      r.clean.chats_dropped.get(c, "")] for c in chats])
    lines += ["## Messages by kind (as read)", ""]
    lines += _table(["kind", "messages"], [[k, n] for k, n in r.clean.kinds.most_common()])
    lines += ["## Dropped", ""]
    dropped = [[reason, n] for reason, n in r.clean.dropped.most_common()]
    dropped += [[reason, n] for reason, n in r.samples.dropped.most_common()]
    if r.sessions.duplicates:
        dropped.append(["duplicate messages (same chat, time, sender, text)", r.sessions.duplicates])
    if r.sessions.trimmed_lines:
        dropped.append(["friends' lines beyond dataset.max_turn_lines in one turn", r.sessions.trimmed_lines])
    lines += _table(["reason", "count"], dropped)
    lines += ["## Masked personal data", ""]
    lines += _table(["type", "masked"], [[k, n] for k, n in r.clean.pii.most_common()] or [["(none found)", 0]])
    lines += ["## Lines the parsers skipped", ""]
    lines += _table(["reason", "count"], [[k, n] for k, n in r.log.counts.most_common()] or [["(none)", 0]])
    if r.log.skips:
        lines += ["Examples:", ""] + [f"- `{s.path}:{s.line}` {s.reason}" if s.line else f"- `{s.path}` {s.reason}"
                                     for s in r.log.skips[:30]] + [""]
    if r.log.errors:
        lines += ["## Files that could not be read", ""] + [f"- {e}" for e in r.log.errors] + [""]
    p = r.profile
    lines += ["## Your style profile", "",
              f"- messages: {p['messages']}; length median {p['length']['p50']:.0f} chars "
              f"(p10 {p['length']['p10']:.0f}, p90 {p['length']['p90']:.0f}); friends' median "
              f"{p['friends']['length']['p50']:.0f}",
              f"- emoji in {p['emoji_rate']:.0%} of messages (friends {p['friends']['emoji_rate']:.0%}); top: "
              + " ".join(e for e, _ in p["top_emoji"][:8]),
              f"- WeChat emoji codes in {p['wechat_code_rate']:.0%}; top: "
              + " ".join(c for c, _ in p["top_wechat_codes"][:8]),
              "- favourite endings: " + ", ".join(f"`{c}` {s:.0%}" for c, s in p["top_endings"][:6]),
              "- catchphrases (jieba words you use far more than your friends): "
              + ", ".join(f"`{c}`" for c, _ in p["catchphrases"][:15]),
              f"- messages with one of your top catchphrases: {p['catchphrase_rate']:.0%} "
              f"(friends {p['friends']['catchphrase_rate']:.0%})", ""]
    lines += ["## Lengths", "", "![length CDF](lengths.png)", ""]
    if samples:
        sizes = sorted(_sample_chars(s) for s in samples)
        lines += [f"Sample length (chars): median {sizes[len(sizes) // 2]}, p95 {sizes[int(len(sizes) * 0.95)]}, "
                  f"max {sizes[-1]}.", ""]
    (folder / "report.md").write_text("\n".join(lines), encoding="utf-8")
    _plot(r, folder)


def _plot(r: BuildResult, folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = r.train + r.dev
    series = {
        "sample (all turns)": sorted(_sample_chars(s) for s in samples),
        "your turns": sorted(len(m["content"]) for s in samples for m in s.messages if m["role"] == "assistant"),
    }
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    for label, vals in series.items():
        if vals:
            step = max(1, len(vals) // 1000)  # a CDF needs no more points than pixels
            idx = list(range(0, len(vals), step)) + [len(vals) - 1]
            ax.plot([vals[i] for i in idx], [(i + 1) / len(vals) for i in idx], label=label)
    ax.set_xscale("log")
    ax.set_xlabel("length (characters)")
    ax.set_ylabel("share ≤ length")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(folder / "lengths.png")
    plt.close(fig)
