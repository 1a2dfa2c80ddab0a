"""The clinic's web app: cases from CT to follow-up, backed by the outcomes registry."""
