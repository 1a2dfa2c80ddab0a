"""Cohort runs: many CTs analysed on a local process pool or a Dask cluster (kypho batch)."""
