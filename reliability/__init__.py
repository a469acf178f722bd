"""Reliability tools: a reference model of GAME.md's points, random games, and the soak run."""
