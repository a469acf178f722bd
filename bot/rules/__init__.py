"""Pure rules of the Reciprocity Game: plain values in, plain values out."""
