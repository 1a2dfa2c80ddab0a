"""kypho.report."""
