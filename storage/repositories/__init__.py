"""The game's repositories, one per aggregate, sharing one unit of work's connection."""
