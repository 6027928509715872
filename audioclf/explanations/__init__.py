"""Why a model answers as it does: Grad-CAM, attention in seconds, the embedding map."""
