"""Two runs side by side: above `runs` and `transcripts`, which never import it."""
