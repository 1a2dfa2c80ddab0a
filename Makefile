# Everything a fresh machine needs is installed by these targets into ./.venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kypho-installed

.PHONY: demo test lint bench clean deps-web deps-dicom

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

test: $(STAMP) deps-web deps-dicom
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

# Registry and web app (issue 15): PostgreSQL for the registry tests, Chromium for the
# browser test (driven by the playwright package, no browser download), and the NiiVue
# viewer fetched from the npm registry (BSD-2-Clause, kypho/web/static/vendor/README.md).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
NIIVUE_VERSION := 0.69.0
NIIVUE := kypho/web/static/vendor/niivue.umd.js

deps-web: $(NIIVUE)
	@{ command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; } \
	  || { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends postgresql; }
	@command -v chromium >/dev/null \
	  || { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium; }

$(NIIVUE):
	@command -v npm >/dev/null || { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends npm; }
	rm -rf $(VENV)/niivue && mkdir -p $(VENV)/niivue
	cd $(VENV)/niivue && npm pack --silent @niivue/niivue@$(NIIVUE_VERSION) >/dev/null
	tar -xzf $(VENV)/niivue/niivue-niivue-$(NIIVUE_VERSION).tgz -C $(VENV)/niivue package/dist/niivue.umd.js
	cp $(VENV)/niivue/package/dist/niivue.umd.js $@.tmp && mv $@.tmp $@
