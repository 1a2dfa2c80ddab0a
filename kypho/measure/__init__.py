"""kypho.measure."""
