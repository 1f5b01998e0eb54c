"""Export stage: subtitles and documents written atomically."""
