"""Training and scheduled retraining jobs."""
