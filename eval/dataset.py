"""The evaluation question set: the Question model and a JSONL loader that reports bad lines instead of failing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

QuestionType = Literal["factoid", "multi_doc", "conflict", "temporal", "follow_up", "paraphrase", "unanswerable"]
QUESTION_TYPES: tuple[str, ...] = get_args(QuestionType)


class Turn(BaseModel):
    """One earlier message of the conversation a question belongs to."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: str = Field(min_length=1)


class Question(BaseModel):
    """One evaluation question with its gold documents and the facts a correct answer must contain."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    history: list[Turn] = Field(default_factory=list, description="Earlier turns, oldest first.")
    answerable: bool
    sources: list[str] = Field(default_factory=list, description="Gold doc ids (file stems).")
    must_include: list[list[str]] = Field(
        default_factory=list,
        description="Fact groups; each is a list of acceptable alternatives and every group must be in the answer.",
    )
    reference: str = Field(default="", description="A free-text reference answer.")
    type: QuestionType = Field(
        description="Optional in the file: 'unanswerable' when answerable is false, 'follow_up' with a history, "
        "else 'factoid'."
    )

    @model_validator(mode="before")
    @classmethod
    def _infer_type(cls, data: Any) -> Any:
        """Fill in a missing (or null) type from answerable and history, so any question set in this format runs."""
        if isinstance(data, dict) and data.get("type") is None:
            if data.get("answerable") is False:
                kind = "unanswerable"
            elif data.get("history"):
                kind = "follow_up"
            else:
                kind = "factoid"
            data = {**data, "type": kind}
        return data

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("must_include")
    @classmethod
    def _groups_not_empty(cls, groups: list[list[str]]) -> list[list[str]]:
        for i, group in enumerate(groups):
            if not any(alt.strip() for alt in group):
                raise ValueError(f"group {i} has no non-blank alternative")
        return groups

    @model_validator(mode="after")
    def _consistent(self) -> Question:
        if not self.answerable and (self.sources or self.must_include):
            raise ValueError("answerable:false requires empty sources and must_include")
        if self.answerable and not self.sources:
            raise ValueError("answerable:true requires at least one source")
        if self.answerable and not self.must_include:
            raise ValueError("answerable:true requires at least one must_include group")
        if self.type == "unanswerable" and self.answerable:
            raise ValueError("type 'unanswerable' requires answerable:false")
        if self.type == "follow_up" and not self.history:
            raise ValueError("type 'follow_up' requires a history")
        return self


def _describe(error: ValidationError) -> str:
    """One line per problem: 'missing field question', 'type: Input should be ...'."""
    problems = []
    for err in error.errors():
        where = ".".join(str(part) for part in err["loc"])
        if err["type"] == "missing":
            problems.append(f"missing field {where!r}")
        elif err["type"] == "extra_forbidden":
            problems.append(f"unknown field {where!r}")
        else:
            message = err["msg"].removeprefix("Value error, ")
            problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


def parse_question(line: str) -> Question:
    """Parse one JSONL line; raises ValueError with a readable message."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg} (column {exc.colno})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    try:
        return Question.model_validate(data)
    except ValidationError as exc:
        raise ValueError(_describe(exc)) from exc


def _id_of(line: str) -> str:
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return ""
    return f" id {data['id']!r}:" if isinstance(data, dict) and isinstance(data.get("id"), str) else ""


def load_questions(path: str | Path) -> tuple[list[Question], list[str]]:
    """Read a JSONL question file: the valid questions, and one error string per bad line.

    Blank lines are skipped. An error names the file, the 1-based line number, the question id when known, and
    the problem (invalid JSON, missing or unknown field, bad type, answerable:false with sources, duplicate id).
    A missing file raises FileNotFoundError.
    """
    path = Path(path)
    questions: list[Question] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            question = parse_question(line)
        except ValueError as exc:
            errors.append(f"{path.name}:{lineno}:{_id_of(line)} {exc}")
            continue
        if question.id in seen:
            errors.append(f"{path.name}:{lineno}: id {question.id!r}: duplicate id (first on line {seen[question.id]})")
            continue
        seen[question.id] = lineno
        questions.append(question)
    return questions, errors
