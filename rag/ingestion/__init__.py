"""Ingestion: load files, clean them, read their metadata, chunk them and index the chunks."""
