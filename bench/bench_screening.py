"""Screening benchmark: throughput, adversarial inputs, corpus precision/recall, and detect-secrets.

Run: .venv/bin/python bench/bench_screening.py   (about 30 s; no network)

1. Throughput of the local detectors (PII, secrets, exfiltration, deny terms, canary) through
   `screen_text` on realistic mixed text of 1 KB, 100 KB and 1 MB.
2. Time on adversarial inputs of the same sizes; the 1 MB / 100 KB ratio should stay near 10
   (linear). A quadratic pattern would show ~100.
3. Precision and recall per pattern detector on tests/data/screening_corpus.jsonl.
4. Our secrets detector against detect-secrets' plugins (all 27, called in-process through the
   plugin API without its filters, i.e. its fastest configuration) on the secrets subset of the
   corpus: throughput ratio and recall of each on the same samples.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from secure_ai_gateway.screening.findings import SECRET_TYPES, DetectorName
from secure_ai_gateway.screening.normalise import normalise
from secure_ai_gateway.screening.policy import Policy
from secure_ai_gateway.screening.registry import FINDING_TYPES
from secure_ai_gateway.screening.screen import screen_text
from secure_ai_gateway.screening.secrets import detect_secrets

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
PATTERN_DETECTORS: tuple[DetectorName, ...] = ("pii", "secrets", "canary", "exfiltration", "deny_terms")
SIZES = {"1KB": 1_000, "100KB": 100_000, "1MB": 1_000_000}
CANARY = "kavure-mosidu-tepoka-lunabi"
PROSE = (
    "The quarterly report covers revenue, churn and the roadmap for the next release. "
    "Engineering shipped the new gateway, moved the queue to SQS and retired two services. "
    "Customer feedback asked for better exports; see the attached notes for details. "
)


def load_corpus() -> list[dict[str, Any]]:
    lines = (DATA / "screening_corpus.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def corpus_policy() -> Policy:
    config = json.loads((DATA / "screening_corpus_policy.json").read_text(encoding="utf-8"))
    return Policy(
        policy_id="bench",
        version=1,
        detectors=frozenset({*PATTERN_DETECTORS, "bidi"}),
        actions=dict.fromkeys({*PATTERN_DETECTORS, "bidi"}, "allow"),
        allowed_hosts=frozenset(config["allowed_hosts"]),
        deny_terms=tuple(config["deny_terms"]),
    )


def fill(unit: str, size: int, head: str = "") -> str:
    """`head`, then `unit` repeated, to `size` bytes of UTF-8 (never more)."""
    per_unit = len(unit.encode())
    text = head + unit * ((size - len(head.encode())) // per_unit)
    return text or unit[: max(1, size)]


def timed(function: Callable[[], object], repeat: int) -> float:
    """Best of `repeat` runs, in CPU seconds of this process.

    CPU time rather than wall time, and the best rather than the median: on a shared machine
    wall time also counts the waits for a core, and noise only ever adds time.
    """
    samples = []
    for _ in range(repeat):
        started = time.process_time()
        function()
        samples.append(time.process_time() - started)
    return min(samples)


def realistic_text(corpus: list[dict[str, Any]], size: int) -> str:
    pieces: list[str] = []
    length = 0
    index = 0
    while length < size:
        piece = PROSE if index % 3 else corpus[index % len(corpus)]["text"] + "\n"
        pieces.append(piece)
        length += len(piece.encode())
        index += 1
    text = "".join(pieces)
    return text.encode()[:size].decode(errors="ignore")


def bench_throughput(corpus: list[dict[str, Any]], policy: Policy) -> None:
    print("\n== 1. Throughput of the local detectors (screen_text)")
    print("   dense: corpus samples (PII, secrets, homoglyphs) every third paragraph; prose: plain English")
    print(f"{'text':>6} {'size':>6} {'best ms':>9} {'MB/s':>8}   per detector (ms, one run)")
    for kind in ("dense", "prose"):
        for label, size in SIZES.items():
            text = realistic_text(corpus, size) if kind == "dense" else fill(PROSE, size)
            repeat = {"1KB": 300, "100KB": 15, "1MB": 5}[label]
            screen_text(text, policy, canary=CANARY)  # warm the RE2 DFA caches
            seconds = timed(lambda text=text: screen_text(text, policy, canary=CANARY), repeat)  # type: ignore[misc]
            verdict = screen_text(text, policy, canary=CANARY)
            parts = ", ".join(f"{name} {value:.2f}" for name, value in verdict.latency_ms.items())
            rate = len(text.encode()) / seconds / 1e6
            print(f"{kind:>6} {label:>6} {seconds * 1000:9.3f} {rate:8.1f}   {parts}")
            # The parsers (markdown-it, lexbor, tinycss2, ada-url) run inside the exfiltration detector.
            total = sum(verdict.latency_ms.values())
            share = verdict.latency_ms.get("exfiltration", 0.0) / total if total else 0.0
            print(f"{'':>15} parsers' share of detector time (exfiltration render): {share:.0%}")


# label -> repeated unit, or (head, repeated unit)
ADVERSARIAL: dict[str, str | tuple[str, str]] = {
    "a run": "a",
    "@ run": "@",
    "digits": "1",
    "-----BEGIN": "-----BEGIN PRIVATE KEY-----",
    "BEGIN+base64": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n",
    "nested []()": "[(![(",
    "a@a@": "a@",
    "1.1.1.1.": "1.",
    "a:a:a:": "a:",
    "1 1 1": "1 ",
    "1-1-1": "1-",
    "+1 +1": "+1 ",
    "eyJ-ghp_": "eyJ-ghp_" + "a" * 36,
    "password=": "password=",
    "://": "https://",
    "![](": "![](https://e.x/?d=",
    "x@y.zz ": "x@y.zz ",
    "AKIA": "AKIA",
    "sk-": "sk-",
    "zero-width": "a\u200b",
    "combining": "a\u0301\u0301",
    "Cyrillic": "\u043f\u0440\u0438\u0432\u0435\u0442 ",
    "full-width": "\uff41\uff10",
    "canary-ish": "k a v u r e ",
    "token+assign": "password=Xk9#mP2$vL8q AKIAIOSFODNN7EXAMPL1 api_key: AKIAIOSFODNN7EXAMPL2 ",
    "URL then )))": ("https://e.x/?d=abcdefghij", ")"),
    "URL then ...": ("https://e.x/?d=abcdefghij", "."),
    "JWT long tail": ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0", "a"),
    # Markup for the render: what a markdown, HTML or URL parser could choke on.
    "[ run": "[",
    "[a](b) run": "[a](b) ",
    "<img src=": '<img src="https://e.x/p.png"> ',
    "<<<< run": "<",
    "&# run": "&#",
    "\\/ run": "https:\\/\\/e.x\\/ ",
    "| a | table": "| a | b |\n",
    "> quotes": "> ",
    "bare URLs": "https://e.x/a ",
    "RLO/PDF": "\u202ea\u202c",
    "tag chars": "\U000e0041",
}


def bench_adversarial(policy: Policy) -> None:
    print("\n== 2. Adversarial inputs (screen_text, all local detectors); linear means 1MB/100KB ~ 10")
    print("   (sub-20 ms rows run at memory speed; past ~500 KB the working set leaves the CPU cache)")
    print(f"{'input':>14} {'1KB ms':>9} {'100KB ms':>9} {'1MB ms':>9} {'1MB/100KB':>10}")
    worst, worst_label = 0.0, ""
    refused: list[str] = []
    for label, spec in ADVERSARIAL.items():
        head, unit = spec if isinstance(spec, tuple) else ("", spec)
        times = {}
        for size_label, size in SIZES.items():
            text = fill(unit, size, head)
            repeat = 3 if size_label != "1MB" else 1
            times[size_label] = timed(lambda text=text: screen_text(text, policy, canary=CANARY), repeat)  # type: ignore[misc]
        ratio = times["1MB"] / max(times["100KB"], 1e-9)
        if times["1MB"] > worst:
            worst, worst_label = times["1MB"], label
        verdict = screen_text(fill(unit, SIZES["1MB"], head), policy, canary=CANARY)
        if verdict.unavailable:
            refused.append(f"{label} ({', '.join(f'{k}: {v}' for k, v in verdict.unavailable.items())})")
        print(
            f"{label:>14} {times['1KB'] * 1000:9.2f} {times['100KB'] * 1000:9.1f} {times['1MB'] * 1000:9.1f}"
            f" {ratio:10.1f}"
        )
    print(f"worst 1MB adversarial time: {worst * 1000:.0f} ms ({worst_label})")
    # A render over its budget is refused (the detector is unavailable, the text blocks): bounded, not linear.
    print(f"1MB inputs refused as over budget (blocked, fail closed): {'; '.join(refused) or 'none'}")


def bench_corpus(corpus: list[dict[str, Any]], policy: Policy) -> None:
    print("\n== 3. Precision / recall per pattern detector on the corpus")
    tally: dict[str, Counter[str]] = {"tp": Counter(), "fp": Counter(), "fn": Counter()}
    for sample in corpus:
        text = sample["text"]
        verdict = screen_text(text, policy, canary=sample.get("canary"))
        got = Counter((finding.type, text[finding.span[0] : finding.span[1]]) for finding in verdict.findings)
        expected = Counter((item["type"], item["value"]) for item in sample["expected"])
        for key in got | expected:
            detector = FINDING_TYPES[key[0]]
            tally["tp"][detector] += min(got[key], expected[key])
            tally["fp"][detector] += max(got[key] - expected[key], 0)
            tally["fn"][detector] += max(expected[key] - got[key], 0)
    print(f"{len(corpus)} samples")
    print(f"{'detector':>14} {'TP':>5} {'FP':>4} {'FN':>4} {'precision':>10} {'recall':>7}")
    for detector in PATTERN_DETECTORS:
        tp, fp, fn = tally["tp"][detector], tally["fp"][detector], tally["fn"][detector]
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        print(f"{detector:>14} {tp:5d} {fp:4d} {fn:4d} {precision:10.3f} {recall:7.3f}")


def bench_detect_secrets(corpus: list[dict[str, Any]]) -> None:
    from detect_secrets.settings import default_settings, get_plugins, get_settings

    print("\n== 4. Secrets: ours vs detect-secrets (plugin API, all plugins, no filters)")
    subset = [
        sample
        for sample in corpus
        if sample["id"].startswith("sec") or any(item["type"] in SECRET_TYPES for item in sample["expected"])
    ]
    expected = [
        [item["value"] for item in sample["expected"] if item["type"] in SECRET_TYPES] for sample in subset
    ]
    texts = [sample["text"] for sample in subset]
    total_bytes = sum(len(text.encode()) for text in texts)

    def ours() -> list[list[str]]:
        # What was found, as written in the text (a hit's value is its decoded, normalised form).
        return [[text[hit.start : hit.end] for hit in detect_secrets(normalise(text))] for text in texts]

    with default_settings():
        # Verification would make network calls; it is a filter, and it must be off.
        assert not any("verification" in name for name in get_settings().filters)
        plugins = list(get_plugins())

        def theirs() -> list[list[str]]:
            results = []
            for text in texts:
                values: list[str] = []
                for number, line in enumerate(text.splitlines(), 1):
                    for plugin in plugins:
                        values.extend(
                            str(secret.secret_value)
                            for secret in plugin.analyze_line(
                                filename="bench.txt", line=line, line_number=number
                            )
                        )
                results.append(values)
            return results

        # Alternating rounds, best of each: the machine is shared, so both tools see the same
        # noise; several runs per round so each tool is timed warm, as it would run alone.
        ours_seconds = theirs_seconds = float("inf")
        for _ in range(6):
            ours_seconds = min(ours_seconds, timed(ours, 10))
            theirs_seconds = min(theirs_seconds, timed(theirs, 2))
        their_hits = theirs()
    our_hits = ours()

    def recall(hits: list[list[str]]) -> tuple[float, int]:
        found = missed = 0
        for wanted, got in zip(expected, hits, strict=True):
            for value in wanted:
                # Generous to either tool: any overlap with the labelled value counts.
                if any(value in hit or (len(hit) >= 8 and hit in value) for hit in got):
                    found += 1
                else:
                    missed += 1
        return found / (found + missed), found + missed

    def negatives_flagged(hits: list[list[str]]) -> int:
        return sum(1 for wanted, got in zip(expected, hits, strict=True) if not wanted and got)

    our_recall, labelled = recall(our_hits)
    their_recall, _ = recall(their_hits)
    negatives = sum(1 for wanted in expected if not wanted)
    print(f"{len(subset)} samples, {labelled} labelled secrets, {negatives} without secrets, {total_bytes} B")
    print(f"{'tool':>15} {'ms total':>9} {'MB/s':>7} {'recall':>7} {'negatives flagged':>18}")
    our_rate = total_bytes / ours_seconds / 1e6
    their_rate = total_bytes / theirs_seconds / 1e6
    print(
        f"{'ours':>15} {ours_seconds * 1000:9.2f} {our_rate:7.2f} {our_recall:7.3f}"
        f" {negatives_flagged(our_hits):>11d}/{negatives}"
    )
    print(
        f"{'detect-secrets':>15} {theirs_seconds * 1000:9.2f} {their_rate:7.2f} {their_recall:7.3f}"
        f" {negatives_flagged(their_hits):>11d}/{negatives}"
    )
    print(f"throughput ratio ours/detect-secrets: {our_rate / their_rate:.1f}x (target >= 10x)")
    print(f"recall ours vs detect-secrets: {our_recall:.3f} vs {their_recall:.3f} (target: equal or better)")

    # The same comparison on one document (the subset joined), as an answer would arrive.
    document = "\n".join(texts)
    lines = document.splitlines()
    with default_settings():
        plugins = list(get_plugins())
        ours_doc = theirs_doc = float("inf")
        for _ in range(5):
            ours_doc = min(ours_doc, timed(lambda: detect_secrets(normalise(document)), 10))
            theirs_doc = min(
                theirs_doc,
                timed(
                    lambda: [
                        plugin.analyze_line(filename="b", line=line) for line in lines for plugin in plugins
                    ],
                    1,
                ),
            )
    print(
        f"one {len(document.encode())}-byte document: ours {ours_doc * 1000:.2f} ms,"
        f" detect-secrets {theirs_doc * 1000:.1f} ms, ratio {theirs_doc / ours_doc:.0f}x"
    )


def main() -> None:
    started = time.perf_counter()
    print("Times are CPU seconds of this process, best of several runs (see `timed`).")
    corpus = load_corpus()
    policy = corpus_policy()
    bench_throughput(corpus, policy)
    bench_adversarial(policy)
    bench_corpus(corpus, policy)
    bench_detect_secrets(corpus)
    print(f"\n(total {time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
