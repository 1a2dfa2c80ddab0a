"""kypho.anatomy."""
