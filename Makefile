# Everything a fresh machine needs is installed by these targets into ./.venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kypho-installed

.PHONY: demo test lint bench clean deps-dicom

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/kypho demo kypho-demo --force

# The DICOM tests' modality (dcmtk), PACS (Orthanc + DICOMweb plugin) and the Pango
# library WeasyPrint renders the PDF report with. Idempotent: apt-get runs only if needed.
DICOM_DEBS := dcmtk orthanc orthanc-dicomweb libpango-1.0-0 libpangoft2-1.0-0
deps-dicom:
	@if command -v storescu >/dev/null && command -v Orthanc >/dev/null \
	    && [ -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so ] \
	    && ldconfig -p | grep -q libpangoft2; then :; else \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && \
	  $$SUDO apt-get install -y --no-install-recommends $(DICOM_DEBS); fi

test: $(STAMP) deps-dicom
	$(BIN)/ruff check kypho tests benchmarks
	$(BIN)/python -m pytest -q -n 2

bench: $(STAMP)
	$(BIN)/python benchmarks/reading.py
	$(BIN)/python benchmarks/segmentation.py
	$(BIN)/python benchmarks/morphometry.py
	$(BIN)/python benchmarks/planning.py
	$(BIN)/python benchmarks/robustness.py
	$(BIN)/python benchmarks/analyze.py
	$(BIN)/python benchmarks/real_cases.py
	$(BIN)/python benchmarks/simulation.py --sizes 2 1.5 1 0.7

clean:
	rm -rf $(VENV) kypho-demo .pytest_cache
