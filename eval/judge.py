"""LLM-judged metrics (faithfulness, correctness, ALCE citation recall/precision) with a JSON verdict cache."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from eval.metrics import split_sentences
from rag.engine import Engine
from rag.types import Answer, Citation

JUDGE_METRICS = ("faithfulness", "correctness", "alce_citation_recall", "alce_citation_precision")
ENTAIL_PROMPT = (
    "You check whether a cited quote supports a sentence.\n\n"
    'Quote:\n"""{premise}"""\n\nSentence:\n"""{claim}"""\n\n'
    "Does the quote entail the sentence, i.e. is everything the sentence states supported by the quote? "
    "Answer with one word: yes or no."
)
_MARK = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_MAX_FAILURES = 3


class JudgeError(RuntimeError):
    """The judge model failed or gave up after repeated failures."""


def parse_yes_no(reply: str) -> bool | None:
    """'Yes.' -> True, 'no, because...' -> False; otherwise the first standalone yes/no; None if neither."""
    words = re.findall(r"[a-z]+", reply.casefold())
    if words and words[0] in ("yes", "no"):
        return words[0] == "yes"
    found = [w for w in words if w in ("yes", "no")]
    return found[0] == "yes" if found else None


def parse_score(reply: str) -> tuple[float | None, str]:
    """CorrectnessEvaluator's reply -> (the first 1-5 score in it, the rest as reasoning); tolerant of format."""
    found = re.search(r"(?<![\d.])([1-5](?:\.\d+)?)(?![\d.])", reply)
    if not found:
        return None, reply.strip()
    return float(found.group(1)), reply[found.end():].strip()


class VerdictCache:
    """Verdicts keyed by the sha1 of their prompt (or of the evaluator's inputs), persisted as one JSON file."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.data: dict[str, Any] = {}
        if path is not None and path.is_file():
            try:
                self.data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                self.data = {}
        self.hits = 0

    @staticmethod
    def key(*parts: Any) -> str:
        return hashlib.sha1(json.dumps(parts, ensure_ascii=False).encode("utf-8")).hexdigest()

    def get(self, key: str) -> Any:
        if key in self.data:
            self.hits += 1
        return self.data.get(key)

    def put(self, key: str, value: Any) -> None:
        self.data[key] = value

    def save(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self.data, ensure_ascii=False, indent=0), encoding="utf-8")


class Judge:
    """An LLM judge: ``complete(prompt) -> reply`` for entailment, and an optional llama-index LLM for evaluators."""

    def __init__(self, complete: Callable[[str], str], model: str, cache_path: Path | None = None,
                 llm: Any = None) -> None:
        self.complete, self.model, self.llm = complete, model, llm
        self.cache = VerdictCache(cache_path)
        self.calls = self.failures = 0
        self.last_error = ""

    def _guard(self, fn: Callable[[], Any]) -> Any:
        if self.failures >= _MAX_FAILURES:
            raise JudgeError(f"judge disabled after {self.failures} failures: {self.last_error}")
        try:
            self.calls += 1
            result = fn()
        except Exception as exc:  # any client error: count it, give up after a few
            self.failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}"[:200]
            raise JudgeError(self.last_error) from None
        self.failures = 0
        return result

    def ask(self, prompt: str) -> str:
        """The model's reply to ``prompt``, from the cache when this exact prompt was asked before."""
        key = VerdictCache.key(self.model, prompt)
        cached = self.cache.get(key)
        if isinstance(cached, str):
            return cached
        reply = str(self._guard(lambda: self.complete(prompt)))
        self.cache.put(key, reply)
        return reply

    def entails(self, premise: str, claim: str) -> bool:
        """Whether the judge says the premise entails the claim (an unparseable reply counts as no)."""
        return bool(parse_yes_no(self.ask(ENTAIL_PROMPT.format(premise=premise, claim=claim))))

    def alce(self, text: str, citations: Sequence[Citation]) -> tuple[float | None, float | None]:
        """ALCE citation recall (sentences entailed by their joint citations) and precision (citations not irrelevant)."""
        quotes = {c.n: c.quote for c in citations}
        sentences = split_sentences(text)
        if not sentences:
            return None, None
        entailed, precise, cited = 0, 0, 0
        for sentence in sentences:
            ns = [int(x) for m in _MARK.finditer(sentence) for x in re.split(r"\s*[,;]\s*", m.group(1))]
            ns = [n for n in dict.fromkeys(ns) if n in quotes]
            claim = _MARK.sub("", sentence).strip()
            if not ns or not claim:
                continue
            joint = self.entails(" ".join(quotes[n] for n in ns), claim)
            entailed += joint
            cited += len(ns)
            if not joint:
                continue
            for n in ns:  # irrelevant: does not entail alone, and the others entail without it
                if len(ns) == 1 or self.entails(quotes[n], claim):
                    precise += 1
                elif not self.entails(" ".join(quotes[m] for m in ns if m != n), claim):
                    precise += 1
        return entailed / len(sentences), (precise / cited if cited else None)

    def _evaluate(self, kind: str, build: Callable[[], Any], **inputs: Any) -> float | None:
        if self.llm is None:
            return None
        key = VerdictCache.key(kind, self.model, inputs)
        cached = self.cache.get(key)
        if isinstance(cached, dict):
            return cached.get("score")
        result = self._guard(lambda: build().evaluate(**inputs))
        score = None if result.score is None else float(result.score)
        self.cache.put(key, {"score": score, "feedback": (result.feedback or "")[:500]})
        return score

    def faithfulness(self, question: str, response: str, contexts: list[str]) -> float | None:
        """llama-index FaithfulnessEvaluator: 1.0 when the contexts support the response, else 0.0."""
        from llama_index.core.evaluation import FaithfulnessEvaluator

        return self._evaluate("faithfulness", lambda: FaithfulnessEvaluator(llm=self.llm),
                              query=question, response=response, contexts=contexts)

    def correctness(self, question: str, response: str, reference: str) -> float | None:
        """llama-index CorrectnessEvaluator: a 1-5 score of the response against the reference."""
        from llama_index.core.evaluation import CorrectnessEvaluator

        return self._evaluate("correctness", lambda: CorrectnessEvaluator(llm=self.llm, parser_function=parse_score),
                              query=question, response=response, reference=reference)

    def score(self, question: str, reference: str, answerable: bool, answer: Answer) -> dict[str, Any]:
        """The judged metrics of one answer; abstentions are not judged (None), failures are noted."""
        out: dict[str, Any] = dict.fromkeys(JUDGE_METRICS)
        if answer.abstained or not answer.text:
            return out
        jobs: list[tuple[tuple[str, ...], Callable[[], Any]]] = [
            (("faithfulness",), lambda: self.faithfulness(question, answer.text, [p.chunk.text for p in answer.context])),
            (("alce_citation_recall", "alce_citation_precision"), lambda: self.alce(answer.text, answer.citations)),
        ]
        if answerable and reference:
            jobs.append((("correctness",), lambda: self.correctness(question, answer.text, reference)))
        for names, job in jobs:
            try:
                value = job()
            except JudgeError as exc:
                out["judge_error"] = str(exc)
                continue
            out.update(zip(names, value if len(names) > 1 else (value,), strict=True))
        return out

    def save(self) -> None:
        self.cache.save()


def build_judge(engine: Engine, cache_dir: Path | None = None) -> Judge | None:
    """A judge on the configured LLM, or None when no LLM is configured (extractive mode)."""
    settings = engine.settings
    if settings.llm not in ("openai", "local"):
        return None
    chat = engine.llm
    if chat is None:
        return None
    from llama_index.core.llms.llm import LLM

    inner = getattr(chat, "llama_index_llm", None)  # the OpenAILike instance in "openai" mode
    li_llm = inner if isinstance(inner, LLM) else None

    def complete(prompt: str) -> str:
        return "".join(chat.stream([{"role": "user", "content": prompt}], max_tokens=16))

    model = settings.llm_model if settings.llm == "openai" else chat.label
    path = (cache_dir or settings.data_dir) / "judge_cache.json"
    return Judge(complete, model, cache_path=path, llm=li_llm)
