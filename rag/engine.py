"""The engine: wires ingestion and the answer stages; ``rag.answer()`` is a thin wrapper around it."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from rag.answering.cite import check
from rag.answering.condense import condense
from rag.answering.context import gather, ms_since, scorers, sub_questions
from rag.answering.decide import PACKAGED_REFUSAL, Refusal, choose, read_refusal
from rag.answering.evidence import sentences_of
from rag.answering.generate import generate
from rag.answering.retrieve import Filters, require_known
from rag.answering.synthesize import Draft, extract
from rag.errors import InputError, LLMError
from rag.ingestion.index import Indexer, sync_lexical
from rag.lexical import LexicalIndex
from rag.providers import AnswerJudge, ChatLLM, Embedder, build_embedder, build_llm, build_scorer, local_scorer
from rag.settings import Settings
from rag.store import Store
from rag.text import split_sentences
from rag.types import Answer, DocMeta, Document, IngestReport, Passage, SourceInfo

EMPTY_INDEX = ("The index is empty, so there is nothing to answer from. Add articles with `rag ingest PATH` "
               "(or the upload box in the chat UI's Sources tab).")
_REFRESH_EVERY_S = 1.0
_ARTICLES_KEPT = 64  # documents whose text and sentence spans the reader's windows keep at hand


class Engine:
    """Everything a caller needs: ingest, list and answer. Dependencies can be passed in (for tests)."""

    def __init__(self, settings: Settings | None = None, *, embedder: Embedder | None = None,
                 llm: ChatLLM | None = None, store: Store | None = None, scorer: AnswerJudge | None = None) -> None:
        self.settings = settings or Settings()
        self._embedder, self._llm, self._store = embedder, llm, store
        self._llm_built = llm is not None
        self._scorer, self._scorer_built = scorer, scorer is not None
        self._refusal: Refusal | None = None
        self._lexical: LexicalIndex | None = None
        self._docs: dict[str, dict[str, Any]] = {}
        self._complete: frozenset[str] = frozenset()  # ids of the fully indexed documents, kept with _docs
        self._generation: str | None = None
        self._checked_at = 0.0
        self._lock = threading.RLock()
        self._articles: OrderedDict[tuple[str | None, str], tuple[str, list[tuple[int, int]]] | None] = OrderedDict()

    # --- lazily built parts ------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = build_embedder(self.settings)
            return self._embedder

    @property
    def llm(self) -> ChatLLM | None:
        with self._lock:
            if not self._llm_built:
                self._llm, self._llm_built = build_llm(self.settings), True
            return self._llm

    @property
    def scorer(self) -> AnswerJudge | None:
        """The answer scorer (RAG_SCORER); None means the hand-written rules choose the answer."""
        with self._lock:
            if not self._scorer_built:
                self._scorer, self._scorer_built = build_scorer(self.settings), True
            return self._scorer

    @property
    def refusal(self) -> Refusal:
        """The refusal model: a local RAG_SCORER folder's own refusal.json, else the packaged one."""
        with self._lock:
            if self._refusal is None:
                folder = local_scorer(self.settings)
                self._refusal = (read_refusal(folder) if folder is not None else None) or PACKAGED_REFUSAL
            return self._refusal

    @property
    def refusal_cutoff(self) -> float:
        """The cutoff in force: RAG_REFUSAL_CUTOFF, else the refusal model's own."""
        cutoff = self.settings.refusal_cutoff
        return self.refusal.cutoff if cutoff is None else cutoff

    def _draft(self, sentences: Any, by_chunk: dict[str, Passage], question: str, parts: Any, asked: Any,
               timings: dict[str, float] | None = None) -> Draft:
        """The extractive answer: chosen by the answer scorer when there is one, else by the rules."""
        s = self.settings
        scorer = self.scorer
        if scorer is None:
            return extract(sentences, by_chunk, question=question, parts=parts, max_sentences=s.answer_sentences,
                           threshold=s.abstain_threshold)

        def judge(q: str, texts: Sequence[str]) -> Any:
            tick = time.perf_counter()
            try:
                return scorer.probs(q, texts)
            finally:
                if timings is not None:
                    timings["score"] = timings.get("score", 0.0) + ms_since(tick)

        return choose(sentences, by_chunk, question=question, parts=parts, max_sentences=s.answer_sentences,
                      threshold=s.abstain_threshold, judge=judge, cutoff=self.refusal_cutoff, refusal=self.refusal,
                      neighbours=getattr(scorer, "context", "before") == "neighbours",
                      locate=scorer.span if getattr(scorer, "spans", False) else None, asked=asked,
                      article=self._article)

    def _article(self, doc_id: str) -> tuple[str, list[tuple[int, int]]] | None:
        """A document's cleaned text and sentence spans (for the reader's windows), kept for the last few read."""
        key = (self._generation, doc_id)
        with self._lock:
            if key in self._articles:
                self._articles.move_to_end(key)
                return self._articles[key]
        got = self.store.doc_text(doc_id)
        found = (got[1], split_sentences(got[1])) if got else None
        with self._lock:
            self._articles[key] = found
            while len(self._articles) > _ARTICLES_KEPT:
                self._articles.popitem(last=False)
        return found

    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                self._store = Store(self.settings)
            if not self._store.is_open:
                self._store.open(self.embedder.name, self.embedder.dim)
            return self._store

    @property
    def lexical(self) -> LexicalIndex:
        with self._lock:
            if self._lexical is None:
                self._lexical = LexicalIndex.load(self._lexical_path())
            return self._lexical

    def _lexical_path(self) -> Path:
        s = self.settings
        where = f"{s.chroma_host}_{s.chroma_port}" if s.chroma_host else "embedded"
        return s.lexical_path / f"{where}_{s.collection}"

    @property
    def mode(self) -> str:
        """Which synthesizer answers by default: extractive, openai or local."""
        return "extractive" if self.settings.llm == "none" else self.settings.llm

    @property
    def mode_label(self) -> str:
        if self.settings.llm == "none":
            return "Extractive (offline): answers quote the articles verbatim"
        if self.settings.llm == "local":
            return "Local model: SmolLM2-135M through llama.cpp, citations checked in code"
        host = (self.settings.llm_base_url or "api.openai.com").split("//")[-1].split("/")[0]
        return f"OpenAI-compatible model: {self.settings.llm_model} at {host}, citations checked in code"

    def refresh(self, force: bool = False, *, own_write: bool = False) -> None:
        """Pick up writes by other processes: document records, vectors and the lexical index (throttled).

        ``force`` checks now instead of at most once a second; ``own_write`` says the change is this engine's
        own (its client already holds the new vectors, so the embedded index need not be loaded again)."""
        now = time.monotonic()
        if not force and now - self._checked_at < _REFRESH_EVERY_S and self._generation is not None:
            return
        with self._lock:
            store = self.store
            generation = store.generation()
            self._checked_at = now
            if generation == self._generation and not force:
                return
            if self._generation is not None and generation != self._generation and not own_write and not store.shared:
                # Another process wrote (our own writes refresh with force): this process's embedded Chroma still
                # holds the vector index it loaded, without the new vectors. Open it again as it is on disk.
                store = self._store = store.reopened()
                generation = store.generation()
            records = store.doc_records()
            sync_lexical(self.lexical, store, records, persist=own_write or self._generation is None)
            complete = frozenset(d for d, r in records.items() if r.get("status") == "complete")
            self._docs, self._complete, self._generation = records, complete, generation

    # --- ingestion --------------------------------------------------------------------
    def ingest(self, paths: Sequence[Path | str], *, prune: bool = False, rebuild: bool = False,
               progress: Callable[[int, int, str], None] | None = None) -> IngestReport:
        """Index files and folders incrementally. ``rebuild`` drops the index first (e.g. a new embedding model)."""
        with self._lock:
            if rebuild:
                if self._store is None:
                    self._store = Store(self.settings)
                self._store.drop()
                self._lexical = LexicalIndex(self._lexical_path())
                self._lexical.save()
            else:
                self.refresh(force=True)  # never write through a client that missed another process's writes
            indexer = Indexer(self.settings, self.store, self.embedder, self.lexical)
            report = indexer.ingest([Path(p) for p in paths], prune=prune, progress=progress)
            self.refresh(force=True, own_write=True)
            return report

    @property
    def uploads_dir(self) -> Path:
        """Where the chat UI keeps uploaded files: the only copy of an upload the project stores."""
        return Path(self.settings.data_dir) / "uploads"

    def remove(self, doc_ids: Sequence[str]) -> list[SourceInfo]:
        """Remove documents, and an uploaded one's stored file; an unknown id is an InputError and removes nothing."""
        with self._lock:
            self.refresh(force=True)
            ids = list(dict.fromkeys(doc_ids))
            require_known(ids, self._docs)
            gone = [_source_info(d, self._docs[d]) for d in ids]
            Indexer(self.settings, self.store, self.embedder, self.lexical).remove(ids)
            self.refresh(force=True, own_write=True)
        uploads = self.uploads_dir.resolve()
        for info in gone:
            if info.source and Path(info.source).resolve().parent == uploads:
                Path(info.source).unlink(missing_ok=True)
        return gone

    def check_ids(self, doc_ids: Sequence[str]) -> None:
        """Raise InputError naming every id that no indexed document has."""
        self.refresh()
        require_known(doc_ids, self._docs)

    def sources(self) -> list[SourceInfo]:
        self.refresh()
        return sorted((_source_info(d, r) for d, r in self._docs.items() if r.get("status") == "complete"),
                      key=lambda s: s.doc_id)

    def document(self, doc_id: str) -> Document:
        found = self.store.doc_text(doc_id)
        if found is None:
            raise InputError(f"No indexed document has the id {doc_id!r}; `rag sources` lists them.")
        rec, text = found
        return Document(doc_id=doc_id, source=str(rec.get("source", "")), text=text, meta=_meta(rec))

    def is_empty(self) -> bool:
        self.refresh()
        return not self._complete

    # --- answering --------------------------------------------------------------------
    def answer(self, question: str, history: list[dict[str, str]] | None = None, **options: Any) -> Answer:
        """Answer from the indexed articles, every sentence cited. Options: doc_ids, date_from, date_to, mode."""
        final: Answer | None = None
        for item in self.stream_answer(question, history, **options):
            if isinstance(item, Answer):
                final = item
        assert final is not None
        return final

    def stream_answer(self, question: str, history: list[dict[str, str]] | None = None,
                      **options: Any) -> Iterator[str | Answer]:
        """Yield text deltas as the answer is produced, then the final, validated Answer."""
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        question = self._validate(question)
        mode = options.get("mode") or self.mode
        llm = self.llm if mode != "extractive" else None
        filters = Filters.checked(options.get("doc_ids"), options.get("date_from"), options.get("date_to"))
        self.refresh()
        if self.is_empty():
            yield EMPTY_INDEX
            yield Answer(question=question, text=EMPTY_INDEX, abstained=True, standalone_question=question,
                         mode=mode, notice=EMPTY_INDEX)
            return
        allowed, note = filters.scope(self._complete, self._docs)
        if allowed is not None and not allowed:
            text = filters.nothing_matches()
            yield text
            yield Answer(question=question, text=text, abstained=True, standalone_question=question, mode=mode,
                         notice=text)
            return
        tick = time.perf_counter()
        standalone = condense(question, history, llm)
        timings["condense"] = ms_since(tick)
        found = gather(standalone, store=self.store, lexical=self.lexical, embedder=self.embedder,
                       settings=self.settings, filters=filters, allowed=allowed, timings=timings,
                       doc_chunks=lambda d: int(self._docs.get(d, {}).get("chunks") or 0))
        passages = [self._passage(c.chunk, c.fused, c.dense_rank, c.lexical_rank) for c in found.chosen]
        sentences = found.sentences
        by_chunk = {p.chunk.chunk_id: p for p in passages}
        context_sents = [s for s in sentences if s.chunk_id in by_chunk]
        answer = Answer(question=question, text="", standalone_question=standalone, mode=mode, context=passages,
                        context_tokens=sum(p.chunk.size for p in passages))
        tick = time.perf_counter()
        draft = self._draft(context_sents, by_chunk, standalone, found.parts, found.scorer, timings)
        if llm is None or draft.abstained:
            # Without a model, or when the evidence is too weak for any answer, never ask a model to guess.
            timings["synthesize"] = ms_since(tick)
            _fill(answer, draft)
            yield from _words(answer.text)
        else:
            streamed: list[str] = []
            try:
                for delta in generate(llm, standalone, passages, self.settings.llm_max_tokens):
                    streamed.append(delta)
                    yield delta
                raw = "".join(streamed)
                if not raw.strip():
                    raise LLMError("The LLM endpoint returned no usable text. Showing the extractive answer instead.")
                timings["synthesize"] = ms_since(tick)
                tick = time.perf_counter()
                checked = check(raw, passages, context_sents, self.embedder,
                                self.settings.support_threshold, question=standalone)
                timings["cite"] = ms_since(tick)
                if checked.abstained or not checked.citations:
                    answer.notice = ("The model's answer had no sentence the sources support, so this is the "
                                     "extractive answer instead." if not checked.abstained else "")
                    _fill(answer, draft if not checked.abstained else Draft(checked.text, [], True))
                    answer.unsupported = checked.unsupported
                    if not checked.abstained:
                        answer.mode = "extractive"
                else:
                    answer.text, answer.citations = checked.text, checked.citations
                    answer.sentences, answer.unsupported = checked.sentences, checked.unsupported
            except LLMError as exc:
                timings["synthesize"] = ms_since(tick)
                _fill(answer, draft)
                answer.mode, answer.notice = "extractive", f"{exc}"
        answer.notice = " ".join(x for x in (answer.notice, note) if x)
        timings["total"] = ms_since(t0)
        answer.timings = {**timings}
        yield answer

    def answer_from_passages(self, question: str, passages: Sequence[Passage]) -> Answer:
        """Run only the extractive synthesizer on given passages (lets a baseline share our synthesizer)."""
        self.refresh()
        texts = [question, *sub_questions(question)]
        scorer, parts = scorers(texts, self.embedder.embed(texts), self.lexical)
        by_chunk = {p.chunk.chunk_id: p for p in passages}
        sentences = sentences_of([p.chunk for p in passages], self.store, scorer, self.embedder)
        draft = self._draft(sentences, by_chunk, question, parts, scorer)
        answer = Answer(question=question, text="", standalone_question=question, mode="extractive",
                        context=list(passages), context_tokens=sum(p.chunk.size for p in passages))
        _fill(answer, draft)
        return answer

    def _passage(self, chunk: Any, score: float, dense_rank: int | None, lexical_rank: int | None) -> Passage:
        rec = self._docs.get(chunk.doc_id, {})
        return Passage(chunk=chunk, meta=_meta(rec), source=str(rec.get("source", "")), score=score,
                       dense_rank=dense_rank, lexical_rank=lexical_rank)

    def _validate(self, question: str) -> str:
        if not isinstance(question, str) or not question.strip():
            raise InputError("The question is empty: type a question about the articles.")
        question = question.strip()
        limit = self.settings.max_question_chars
        if len(question) > limit:
            raise InputError(f"The question is {len(question):,} characters long; the limit is {limit:,} "
                             "(RAG_MAX_QUESTION_CHARS). Ask the question itself, without pasted text.")
        return question


def _fill(answer: Answer, draft: Draft) -> None:
    answer.text, answer.citations, answer.abstained = draft.text, draft.citations, draft.abstained


def _source_info(doc_id: str, r: dict[str, Any]) -> SourceInfo:
    return SourceInfo(doc_id=doc_id, title=str(r.get("title", "")), outlet=str(r.get("outlet", "")),
                      author=str(r.get("author", "")), date=str(r.get("date", "")), source=str(r.get("source", "")),
                      chunks=int(r.get("chunks", 0) or 0), chars=int(r.get("chars", 0) or 0))


def _meta(rec: dict[str, Any]) -> DocMeta:
    return DocMeta(title=str(rec.get("title", "")), author=str(rec.get("author", "")),
                   outlet=str(rec.get("outlet", "")), date=str(rec.get("date", "")))


def _words(text: str) -> Iterator[str]:
    """Stream a finished text word by word (the UI renders every delta the same way)."""
    for i, word in enumerate(text.split(" ")):
        yield word if i == 0 else " " + word

