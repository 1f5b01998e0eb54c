"""Audio stage: media decoding, speech detection and cutting speech into chunks."""
