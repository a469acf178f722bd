"""Pictures of the game: pure functions from plain data to PNG bytes (Pillow)."""
