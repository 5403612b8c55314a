"""Pure evaluation metrics (no I/O, no LLM): retrieval, answer, citation, abstention and aggregation."""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

_QUOTES = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'", "`": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    }
)  # fmt: skip
_DASHES = re.compile(r"[\u2010-\u2015\u2212\u2043\u2e3a\u2e3b\ufe58\ufe63\uff0d]")
_SPACES = re.compile(r"\s+")
_MARKER = re.compile(r"\[\d+(?:\s*[,;]\s*\d+)*\]")
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_ABBREV = re.compile(r"(?:\b(?:[A-Za-z]\.){2,}|\b(?:Mr|Mrs|Ms|Dr|St|vs|etc|No|Gen|Sen|Rep)\.)$")


def normalize(s: str) -> str:
    """NFKC, case-fold, curly quotes to straight, every dash to '-', whitespace collapsed and stripped."""
    s = unicodedata.normalize("NFKC", s).translate(_QUOTES)
    s = _DASHES.sub("-", s).casefold()
    return _SPACES.sub(" ", s).strip()


def contains_fact(text: str, alternatives: str | Sequence[str]) -> bool:
    """Whether any alternative occurs in ``text`` after :func:`normalize`.

    An alternative that starts (ends) with a letter or digit must not be glued to another letter or digit
    there, so "11" is not found in "2011" while "90%" is found in "more than 90%". Blank alternatives never match.
    """
    if isinstance(alternatives, str):
        alternatives = [alternatives]
    haystack = normalize(text)
    for alt in alternatives:
        needle = normalize(alt)
        if not needle:
            continue
        pattern = re.escape(needle)
        if needle[0].isalnum():
            pattern = r"(?<![^\W_])" + pattern
        if needle[-1].isalnum():
            pattern += r"(?![^\W_])"
        if re.search(pattern, haystack):
            return True
    return False


def _groups_present(text: str, must_include: Sequence[Sequence[str]]) -> float | None:
    if not must_include:
        return None
    return sum(contains_fact(text, group) for group in must_include) / len(must_include)


def _dedupe(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(ids))


# --- retrieval -----------------------------------------------------------------------------------------------


def hit_at_k(ranked_doc_ids: Sequence[str], gold: Iterable[str], k: int) -> float | None:
    """1.0 if a gold document is among the first ``k`` distinct ranked documents, else 0.0; None without gold.

    Repeated ids (several chunks of one document) count once, at their best rank.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    gold_set = set(gold)
    if not gold_set:
        return None
    return 1.0 if gold_set.intersection(_dedupe(ranked_doc_ids)[:k]) else 0.0


def mrr(ranked_doc_ids: Sequence[str], gold: Iterable[str]) -> float | None:
    """Reciprocal rank of the first gold document among distinct ranked documents; 0.0 if absent, None without gold."""
    gold_set = set(gold)
    if not gold_set:
        return None
    for rank, doc_id in enumerate(_dedupe(ranked_doc_ids), start=1):
        if doc_id in gold_set:
            return 1.0 / rank
    return 0.0


def context_recall(context_text: str, must_include: Sequence[Sequence[str]]) -> float | None:
    """Fraction of fact groups present in the context given to the synthesizer; None when there are no groups."""
    return _groups_present(context_text, must_include)


# --- answer --------------------------------------------------------------------------------------------------


def fact_recall(answer_text: str, must_include: Sequence[Sequence[str]], abstained: bool = False) -> float | None:
    """Fraction of fact groups present in the answer; 0.0 if it abstained; None when there are no groups."""
    if not must_include:
        return None
    if abstained:
        return 0.0
    return _groups_present(answer_text, must_include)


def _squad_tokens(s: str) -> list[str]:
    s = normalize(_MARKER.sub(" ", s))
    s = "".join(ch for ch in s if ch not in string.punctuation and not unicodedata.category(ch).startswith("P"))
    return _ARTICLES.sub(" ", s).split()


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token F1: lower-cased, punctuation and a/an/the removed, whitespace tokens; [n] markers dropped.

    Two empty token lists score 1.0; one empty list scores 0.0.
    """
    pred, ref = _squad_tokens(prediction), _squad_tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


# --- citations -----------------------------------------------------------------------------------------------


def citation_precision(cited_doc_ids: Iterable[str], gold: Iterable[str]) -> float | None:
    """Share of distinct cited documents that are gold; None when nothing is cited or there is no gold."""
    cited, gold_set = set(cited_doc_ids), set(gold)
    if not cited or not gold_set:
        return None
    return len(cited & gold_set) / len(cited)


def citation_recall(cited_doc_ids: Iterable[str], gold: Iterable[str]) -> float | None:
    """Share of gold documents that are cited; None when there is no gold."""
    cited, gold_set = set(cited_doc_ids), set(gold)
    if not gold_set:
        return None
    return len(cited & gold_set) / len(gold_set)


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def quote_validity(citations: Sequence[Any], doc_texts: Mapping[str, str]) -> float | None:
    """Share of citations whose non-empty quote is an exact substring of its cited document's text.

    Citations are objects with ``.doc_id`` and ``.quote`` or dicts with those keys; a citation of a document
    missing from ``doc_texts`` is invalid. None when there are no citations.
    """
    if not citations:
        return None
    valid = 0
    for citation in citations:
        quote, text = _field(citation, "quote"), doc_texts.get(_field(citation, "doc_id") or "")
        valid += bool(quote) and text is not None and quote in text
    return valid / len(citations)


def split_sentences(text: str) -> list[str]:
    """Split an answer into sentences; [n] markers after the final punctuation stay with their sentence."""
    parts: list[str] = []
    for line in text.splitlines():
        line = re.sub(r"(?<=[.!?])([\"'\u201d\u2019)]*(?:\s*" + _MARKER.pattern + r")*)\s+", "\\1\n", line)
        line = re.sub(r"(" + _MARKER.pattern + r")\s+(?=[A-Z\"\u201c])", "\\1\n", line)  # a marker ends its sentence
        for piece in (p.strip() for p in line.split("\n")):
            if not piece:
                continue
            bare = _MARKER.sub("", piece).strip(" .,;")
            # A lone parenthetical such as a photo credit "(EPA/Yonhap)" belongs to the sentence before it.
            if parts and (_ABBREV.search(parts[-1]) or not bare or re.fullmatch(r"\([^()]{1,60}\)", bare)):
                parts[-1] = f"{parts[-1]} {piece}"
            else:
                parts.append(piece)
    return parts


def sentence_coverage(answer_text: str) -> float | None:
    """Share of answer sentences that carry at least one [n] marker; None for an empty answer."""
    sentences = split_sentences(answer_text)
    if not sentences:
        return None
    return sum(bool(_MARKER.search(s)) for s in sentences) / len(sentences)


# --- abstention ----------------------------------------------------------------------------------------------


class Outcome(NamedTuple):
    """One question's outcome: whether it was answerable, whether the system abstained, whether it was right."""

    answerable: bool
    abstained: bool
    correct: bool


def is_correct(recall: float | None) -> bool:
    """The correctness rule used for CRAG: every fact group present (fact_recall == 1.0)."""
    return recall is not None and recall >= 1.0


def crag_score(answerable: bool, abstained: bool, correct: bool) -> int:
    """CRAG-style score: +1 correct, 0 missing, -1 wrong or hallucinated.

    Answerable: abstained -> 0; answered and ``correct`` (fact_recall == 1.0, see :func:`is_correct`) -> +1;
    answered otherwise -> -1. Unanswerable: abstained -> +1 (a correct refusal); answered -> -1 (a hallucination),
    whatever ``correct`` says.
    """
    if not answerable:
        return 1 if abstained else -1
    if abstained:
        return 0
    return 1 if correct else -1


def _f1(tp: int, predicted: int, actual: int) -> tuple[float | None, float | None, float | None]:
    """Precision, recall, F1; recall and F1 are None when the class is absent, precision 0.0 if never predicted."""
    if actual == 0:
        return (tp / predicted if predicted else None), None, None
    precision, recall = (tp / predicted if predicted else 0.0), tp / actual
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _as_outcome(row: Outcome | Sequence[bool] | Mapping[str, Any]) -> Outcome:
    if isinstance(row, Mapping):
        return Outcome(bool(row["answerable"]), bool(row["abstained"]), bool(row.get("correct", False)))
    return Outcome(*(bool(v) for v in row))


def abstention_scores(outcomes: Iterable[Outcome | Sequence[bool] | Mapping[str, Any]]) -> dict[str, float | None]:
    """Trust-Score style refusal/answer F1, their mean (grounded_refusal_f1) and the mean CRAG score.

    Refusal (positive = should refuse): precision = correct refusals / refusals, recall = correct refusals /
    unanswerable. Answer (positive = answered an answerable question): precision = answered-answerable / answered,
    recall = answered-answerable / answerable. grounded_refusal_f1 is None unless both F1s are defined.
    Rows are :class:`Outcome`, (answerable, abstained, correct) tuples or dicts with those keys.
    """
    rows = [_as_outcome(r) for r in outcomes]
    refused = [r for r in rows if r.abstained]
    answered = [r for r in rows if not r.abstained]
    n_unanswerable = sum(not r.answerable for r in rows)
    ref_p, ref_r, ref_f1 = _f1(sum(not r.answerable for r in refused), len(refused), n_unanswerable)
    ans_p, ans_r, ans_f1 = _f1(sum(r.answerable for r in answered), len(answered), len(rows) - n_unanswerable)
    crag = [crag_score(*r) for r in rows]
    return {
        "refusal_precision": ref_p,
        "refusal_recall": ref_r,
        "refusal_f1": ref_f1,
        "answer_precision": ans_p,
        "answer_recall": ans_r,
        "answer_f1": ans_f1,
        "grounded_refusal_f1": None if ref_f1 is None or ans_f1 is None else (ref_f1 + ans_f1) / 2,
        "crag_score": sum(crag) / len(crag) if crag else None,
    }


# --- aggregation ---------------------------------------------------------------------------------------------


def percentiles(values: Iterable[float | None], qs: Sequence[float] = (50, 95)) -> dict[str, float | None]:
    """Linear-interpolation percentiles (numpy's default) keyed "p50", "p95"...; None/NaN skipped, None if empty."""
    data = sorted(float(v) for v in values if v is not None and not math.isnan(v))
    out: dict[str, float | None] = {}
    for q in qs:
        if not 0 <= q <= 100:
            raise ValueError(f"percentile must be in [0, 100], got {q}")
        key = f"p{q:g}"
        if not data:
            out[key] = None
            continue
        pos = (len(data) - 1) * q / 100
        lo = math.floor(pos)
        hi = min(lo + 1, len(data) - 1)
        out[key] = data[lo] + (data[hi] - data[lo]) * (pos - lo)
    return out


def _numeric(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and not math.isnan(value):
        return float(value)
    return None


def aggregate(rows: Iterable[Mapping[str, Any]], by: str = "type") -> dict[str, dict[str, float]]:
    """Mean of every numeric (or bool) field per value of ``by`` and under "overall", skipping None and NaN.

    Each group also gets "n", its number of rows; a metric that is None in every row of a group is left out.
    """
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    sizes: Counter[str] = Counter()
    for row in rows:
        groups = ["overall"] + ([str(row[by])] if row.get(by) is not None else [])
        for group in groups:
            sizes[group] += 1
            for key, value in row.items():
                number = _numeric(value)
                if key == by or key == "n" or number is None:
                    continue
                sums[group][key] += number
                counts[group][key] += 1
    result: dict[str, dict[str, float]] = {}
    for group in ["overall"] + sorted(g for g in sizes if g != "overall"):
        if group not in sizes:
            continue
        means = {key: sums[group][key] / counts[group][key] for key in sums[group]}
        result[group] = {"n": sizes[group], **means}
    return result
