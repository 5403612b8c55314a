"""The data contract shared by ingestion, answering, the UI, the CLI and eval."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class DocMeta(BaseModel):
    """What the text says about an article; a field the text does not give stays empty."""

    title: str = ""
    author: str = ""
    outlet: str = ""
    date: str = Field(default="", description="ISO date (YYYY-MM-DD) when the text states one.")


class Document(BaseModel):
    """One article after loading (raw text) or cleaning (cleaned text)."""

    doc_id: str = Field(description="Its path relative to the folder ingested, without suffix: 000_47bab1ff1479f7a2.")
    source: str = Field(description="Path of the file it was read from.")
    text: str
    meta: DocMeta = Field(default_factory=DocMeta)
    encoding: str = Field(default="utf-8", description="The encoding the file was decoded with (text formats).")
    replaced: int = Field(default=0, description="Invalid UTF-8 sequences replaced with U+FFFD while decoding.")


class Chunk(BaseModel):
    """A span of a cleaned document: the unit that is embedded and retrieved."""

    chunk_id: str
    doc_id: str
    position: int = Field(description="0-based index of the chunk within its document.")
    start: int = Field(description="Character offset of the chunk in the cleaned document text.")
    end: int = Field(description="Character offset one past the chunk's last character.")
    text: str
    tokens: int | None = Field(default=None, description="cl100k tokens in text, counted at ingestion (None: count it).")

    @property
    def size(self) -> int:
        """The chunk's tokens: the count stored at ingestion, so the question path need not load a tokenizer."""
        if self.tokens is None:
            from rag.tokens import count_tokens

            self.tokens = count_tokens(self.text)
        return self.tokens


class Passage(BaseModel):
    """A retrieved chunk with its document's metadata and its retrieval scores."""

    chunk: Chunk
    meta: DocMeta = Field(default_factory=DocMeta)
    source: str = ""
    score: float = 0.0
    dense_rank: int | None = None
    lexical_rank: int | None = None


class Citation(BaseModel):
    """A numbered source of an answer, with a quote found verbatim in the cleaned document."""

    n: int = Field(description="The marker number: [n] in Answer.text.")
    doc_id: str
    title: str = ""
    outlet: str = ""
    author: str = ""
    date: str = ""
    source: str = ""
    quote: str = Field(description="Supporting text, verbatim from the cleaned document.")
    start: int = Field(description="Character offset of the quote in the cleaned document text.")
    end: int = Field(description="Character offset one past the quote's end.")
    chunk_id: str = ""
    support: float = Field(default=1.0, description="How strongly the quote supports its sentence (0-1).")
    answer_span: tuple[int, int] | None = Field(
        default=None, description="The reader's short answer inside the quote (character offsets in quote), marked "
        "in the chat; None when not located.")


class SentenceCheck(BaseModel):
    """The verdict on one answer sentence: which citations it carries and whether they support it."""

    text: str
    citations: list[int] = Field(default_factory=list)
    support: float = 0.0
    supported: bool = True


class Answer(BaseModel):
    """What every caller gets back from ``answer()``."""

    question: str
    text: str = Field(description="The answer with inline [n] markers.")
    citations: list[Citation] = Field(default_factory=list)
    abstained: bool = False
    standalone_question: str = ""
    mode: str = Field(default="extractive", description="Which synthesizer answered: extractive, openai or local.")
    timings: dict[str, float] = Field(default_factory=dict, description="Milliseconds per stage.")
    sentences: list[SentenceCheck] = Field(default_factory=list)
    unsupported: list[str] = Field(
        default_factory=list, description="Answer sentences that no cited source supports (LLM mode)."
    )
    notice: str = Field(default="", description="A message for the user, e.g. that the LLM failed and this is the extractive fallback.")
    context: list[Passage] = Field(default_factory=list, description="The passages passed to the synthesizer.")
    context_tokens: int = 0


class SourceInfo(BaseModel):
    """An indexed document as listed by ``rag sources``."""

    doc_id: str
    title: str = ""
    outlet: str = ""
    author: str = ""
    date: str = ""
    source: str = ""
    chunks: int = 0
    chars: int = 0


class IngestReport(BaseModel):
    """The outcome of one ingest run."""

    added: list[str] = Field(default_factory=list)
    updated: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    skipped: dict[str, str] = Field(default_factory=dict, description="Path -> reason it was not indexed.")
    duplicates: dict[str, str] = Field(default_factory=dict, description="doc_id -> doc_id of the story it repeats.")
    duplicate_files: dict[str, str] = Field(
        default_factory=dict, description="Path of a skipped near-duplicate -> path of the indexed file it repeats.")
    warnings: dict[str, str] = Field(
        default_factory=dict, description="Path -> something the user should know about a file that was indexed.")
    encodings: dict[str, str] = Field(
        default_factory=dict, description="Path -> the encoding a file was decoded with, when it was not UTF-8.")
    chunks_written: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        """One line: what changed."""
        line = (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
            f"{len(self.removed)} removed, {len(self.skipped) + len(self.duplicates)} skipped; "
            f"{self.chunks_written} chunk{'s' * (self.chunks_written != 1)} written in {self.seconds:.1f}s"
        )
        if self.encodings:
            named = ", ".join(f"{Path(p).name} as {enc}" for p, enc in sorted(self.encodings.items())[:3])
            more = f" and {len(self.encodings) - 3} more" if len(self.encodings) > 3 else ""
            line += f"; not UTF-8, decoded {named}{more}"
        return line
