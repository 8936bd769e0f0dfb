"""Where trained model bundles live: the store seam, a folder and MLflow."""
