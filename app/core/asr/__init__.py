"""Speech recognition stage: loading GLM-ASR and transcribing chunks in batches."""
