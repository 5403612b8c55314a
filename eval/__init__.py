"""Evaluation of the news Q&A system: question sets, metrics and reports."""
