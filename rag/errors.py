"""The error tree: every failure the library raises, each message saying how to fix it.

    RagError
    ├── ConfigError          a setting is missing or inconsistent
    ├── InputError           a question, file or upload was rejected
    ├── IndexUnavailable     the Chroma store cannot be reached or written
    ├── EmbeddingMismatch    the index was built with another embedding model
    └── LLMError             the configured LLM endpoint failed or answered garbage

Errors are converted only at the edges: a CLI exit code, ``gr.Error`` in the UI, a failure row in eval.
"""

from __future__ import annotations


class RagError(Exception):
    """Base class: the message is meant for the user and says how to fix the problem."""


class ConfigError(RagError):
    """A setting is missing, malformed or contradicts another."""


class InputError(RagError):
    """A question, file or upload was rejected; the message names it and the reason."""


class IndexUnavailable(RagError):
    """The Chroma store cannot be opened, reached or written."""


class EmbeddingMismatch(RagError):
    """The collection was built with a different embedding model or dimension."""


class LLMError(RagError):
    """The LLM endpoint timed out, refused the request or returned unusable output."""
