"""A package whose coroutines reach blocking calls through helpers in other modules."""
