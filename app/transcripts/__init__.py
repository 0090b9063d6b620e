"""Transcripts: the stored conversations and their summaries."""
