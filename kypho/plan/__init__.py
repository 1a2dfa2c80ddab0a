"""kypho.plan."""
