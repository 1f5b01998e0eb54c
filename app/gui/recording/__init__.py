"""Recording from the microphone: the panel, the level meter, recovery of interrupted recordings."""
