"""Training: the loop (fit), augmentation and losses."""
