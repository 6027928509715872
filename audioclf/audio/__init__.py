"""Audio in and out: read, clean, split into windows, synthesise and augment clips."""
