"""kypho.phantom."""
