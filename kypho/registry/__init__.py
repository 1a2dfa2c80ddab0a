"""Outcomes registry: database models, migrations, instruments, cohort statistics, export.

The registry sits on top of the analysis stages: it stores results.json documents and the
clinical pathway around them (plan, procedure, follow-up visits, instrument responses),
scores the instruments (DOMAIN.md §11.2), summarises cohorts and exports CSV and FHIR R4.
"""
