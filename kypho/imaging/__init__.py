"""kypho.imaging."""
