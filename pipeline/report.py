"""`inspect DIR --report report.html`: the plots to look at before spending GPU hours.

One self-contained HTML file: every plot is a PNG embedded as a data URI, the style is
inline, nothing is fetched. Plots: row length histogram (with the fill of max_seq_length),
masked share per row, mask unit length in words against the configured law (span:
truncated geometric; ngram: P(n) ∝ 1/n), label balance, [UNK] rate, top masked tokens, and,
when the run's `summary.json` sits in the dir or its parent (`all`), documents kept /
dropped by reason / rejected and kept by language. matplotlib is the `report` extra; it is
imported only here.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.errors import UserError
from core.special_tokens import SPECIAL_TOKENS
from pipeline.inspect_shards import _load
from transforms.summary import SUMMARY_FILE

TOP_MASKED = 25


def _pyplot():
    try:
        import matplotlib
    except ImportError as e:
        raise UserError("--report needs matplotlib: pip install -e '.[report]'") from e
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _flat(table: pa.Table, name: str) -> np.ndarray:
    return pc.list_flatten(table.column(name)).to_numpy(zero_copy_only=False)


def _lengths(table: pa.Table, name: str) -> np.ndarray:
    return pc.list_value_length(table.column(name)).to_numpy(zero_copy_only=False)


def unit_words(table: pa.Table, tokens: list[str]) -> np.ndarray:
    """Words per masking unit: tokens of [start, end] that do not continue a word (`##`)."""
    continues = np.array([t.startswith("##") for t in tokens], dtype=bool)
    ids = table.column("input_ids").combine_chunks()
    offsets = ids.offsets.to_numpy()[:-1]
    values = ids.values.to_numpy(zero_copy_only=False)
    starts = table.column("span_starts").combine_chunks()
    row_of_unit = np.repeat(np.arange(len(starts)), _lengths(table, "span_starts"))
    first = offsets[row_of_unit] + starts.values.to_numpy(zero_copy_only=False)
    last = offsets[row_of_unit] + _flat(table, "span_ends")
    starts_word = np.concatenate([[0], np.cumsum(~continues[values])])
    return starts_word[last + 1] - starts_word[first]


def configured_law(mask_config: dict, max_len: int) -> tuple[str, np.ndarray] | None:
    """P(unit = k words), k = 1.., of the masking mode, or None where no law is configured."""
    mode = mask_config.get("masking")
    if mode == "span":
        p, k = mask_config["span_p"], np.arange(1, mask_config["span_max"] + 1)
        law = p * (1 - p) ** (k - 1)
        return f"geometric(p={p}) truncated to [1, {len(k)}]", law / law.sum()
    if mode == "ngram":
        k = np.arange(1, mask_config["max_ngram"] + 1)
        return f"P(n) ∝ 1/n, n ≤ {len(k)}", (1 / k) / (1 / k).sum()
    if mode == "token":
        return "one token", np.ones(1)
    return None


def _png(fig) -> str:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # glyphs missing from the default font (CJK tokens)
        fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    fig.clf()
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _find_summary(path: str) -> dict | None:
    for directory in (path, os.path.dirname(os.path.abspath(path))):
        candidate = os.path.join(directory, SUMMARY_FILE)
        if os.path.isfile(candidate):
            with open(candidate) as f:
                return json.load(f)
    return None


def _barh(plt, items: list[tuple[str, float]], title: str, xlabel: str):
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(items) + 1.2))
    ax.barh([k for k, _ in items][::-1], [v for _, v in items][::-1], color="#4c72b0")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    return fig


def build_report(path: str) -> str:
    """The report of the shard dir at `path` as one HTML string."""
    plt = _pyplot()
    manifest, tokens, table = _load(path)
    config = manifest["config"]
    max_len = int(config["pack"]["max_seq_length"])
    sections: list[tuple[str, str, str]] = []  # (title, png or "", html note)
    lens = _lengths(table, "input_ids")
    if not len(lens):
        raise UserError(f"inspect: {path!r} holds no rows to plot")

    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.hist(lens, bins=np.linspace(0, max_len, 33), color="#4c72b0")
    ax.set_xlabel("tokens per row")
    ax.set_ylabel("rows")
    fill = lens.sum() / (len(lens) * max_len)
    ax.set_title(f"row length (fill of max_seq_length {max_len}: {fill:.1%})")
    sections.append(("Row length", _png(fig), f"mean {lens.mean():.1f}, fill {fill:.1%}"))

    ids = _flat(table, "input_ids")
    layout = {SPECIAL_TOKENS[role] for role in ("cls", "sep", "pad")}
    special = np.isin(np.arange(len(tokens)), [i for i, t in enumerate(tokens) if t in layout])
    row_of_token = np.repeat(np.arange(len(lens)), lens)
    ordinary = np.bincount(row_of_token, weights=~special[ids], minlength=len(lens))
    share = _lengths(table, "mlm_positions") / np.maximum(ordinary, 1)
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.hist(share, bins=40, color="#55a868")
    ax.axvline(config["mask"]["masked_lm_prob"], color="black", linestyle="--",
               label=f"masked_lm_prob {config['mask']['masked_lm_prob']}")
    ax.set_xlabel("masked share of the row's non-special tokens")
    ax.set_ylabel("rows")
    ax.legend()
    sections.append(("Masked share per row", _png(fig), f"mean {share.mean():.2%}"))

    unit = "tokens" if config["mask"].get("masking") == "token" else "words"
    words = (_flat(table, "span_ends").astype(np.int64) - _flat(table, "span_starts") + 1
             if unit == "tokens"
             else np.maximum(unit_words(table, tokens), 1))  # a unit begun mid-word: 1 word
    if len(words):
        law = configured_law(config["mask"], max_len)
        top = int(max(words.max(), len(law[1]) if law else 1))
        k = np.arange(1, top + 1)
        seen = np.bincount(words, minlength=top + 1)[1:] / len(words)
        fig, ax = plt.subplots(figsize=(7, 3.2))
        ax.bar(k - 0.2, seen, width=0.4, label=f"in the shards ({len(words):,} units)",
               color="#c44e52")
        if law:
            ax.bar(k[:len(law[1])] + 0.2, law[1], width=0.4, label=f"configured: {law[0]}",
                   color="#8172b2")
        ax.set_xlabel(f"{unit} per masking unit")
        ax.set_ylabel("share of units")
        ax.set_title(f"masking {config['mask']['masking']}")
        ax.legend()
        sections.append(("Mask unit length", _png(fig), f"mean {words.mean():.2f} {unit}"))

    labels = (table.column("sentence_label").to_numpy() if "sentence_label" in table.column_names
              else _flat(table, "sentence_labels"))
    values, counts = np.unique(labels, return_counts=True)
    names = {-1: "single segment", 0: "0 (is next / in order)", 1: "1 (random / swapped)"}
    fig = _barh(plt, [(names.get(int(v), str(v)), c / len(labels))
                      for v, c in zip(values, counts, strict=True)],
                f"sentence labels, task {config['pack']['task']}", "share of instances")
    sections.append(("Label balance", _png(fig), ""))

    unk = tokens.index(SPECIAL_TOKENS["unk"]) if SPECIAL_TOKENS["unk"] in tokens else -1
    unk_rate = float((ids == unk).sum()) / max(1, int((~special[ids]).sum()))
    masked_labels = _flat(table, "mlm_labels")
    sections.append(("[UNK] rate", "", f"{unk_rate:.3%} of non-special tokens are [UNK] "
                     f"({int((ids == unk).sum()):,} of {int((~special[ids]).sum()):,})"))

    label_ids, label_counts = np.unique(masked_labels, return_counts=True)
    order = np.argsort(-label_counts, kind="stable")[:TOP_MASKED]
    top_items = [(tokens[label_ids[i]], label_counts[i] / len(masked_labels)) for i in order]
    fig = _barh(plt, [(f"id {label_ids[i]}", s) for i, (_, s) in zip(order, top_items,
                                                                       strict=True)],
                f"top {len(top_items)} masked tokens (names in the table)", "share of masks")
    table_html = "<table><tr><th>token</th><th>id</th><th>share</th></tr>" + "".join(
        f"<tr><td>{html.escape(tok)}</td><td>{label_ids[i]}</td><td>{s:.2%}</td></tr>"
        for i, (tok, s) in zip(order, top_items, strict=True)) + "</table>"
    sections.append(("Top masked tokens", _png(fig), table_html))

    summary = _find_summary(path)
    if summary:
        items = [("kept", summary.get("documents_kept", 0))]
        items += [(f"dropped: {r}", n) for r, n in summary.get("documents_dropped", {}).items()]
        items += [(f"rejected: {r}", n)
                  for r, n in summary.get("documents_rejected_by_reason", {}).items()]
        fig = _barh(plt, items, f"documents ({summary.get('documents_read', 0):,} read)",
                    "documents")
        sections.append(("Documents kept and dropped", _png(fig), ""))
        by_language = summary.get("documents_kept_by_language")
        if by_language:
            fig = _barh(plt, sorted(by_language.items(), key=lambda kv: -kv[1]),
                        "documents kept by language", "documents")
            sections.append(("Kept by language", _png(fig), ""))
    plt.close("all")
    return _html(path, manifest, sections)


def _html(path: str, manifest: dict, sections: list[tuple[str, str, str]]) -> str:
    totals = manifest["totals"]
    body = "".join(
        f"<section><h2>{html.escape(title)}</h2>"
        + (f'<img alt="{html.escape(title)}" src="data:image/png;base64,{png}">' if png else "")
        + (f"<p>{note}</p>" if note else "") + "</section>"
        for title, png, note in sections)
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>bert-shards report: {html.escape(path)}</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}"
        "section{margin-bottom:2em}img{max-width:100%}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 8px}</style></head><body>"
        f"<h1>Shard dir {html.escape(path)}</h1>"
        f"<p>{totals['shards']} shards, {totals['instances']:,} instances, "
        f"{totals['tokens']:,} tokens, {totals['masked_tokens']:,} masked tokens</p>"
        f"{body}</body></html>\n")


def write_report(path: str, report: str) -> None:
    """Write the report of shard dir `path` to the file `report`."""
    text = build_report(path)
    try:
        with open(report, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise UserError(f"--report {report!r} cannot be written: {e.strerror or e}") from e
    print(f"report: {report}")
