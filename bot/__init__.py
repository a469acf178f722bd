"""Crewbot: the Reciprocity Game for a crew's group chat."""
