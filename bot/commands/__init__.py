"""The platform-free command layer: every rule of the game, reached through one Game object."""
