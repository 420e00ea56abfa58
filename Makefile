# recon: the two commands of the README, and a few more.
#   make demo   run the whole pipeline on the bundled demo data (embedded SQLite in out/demo/)
#   make test   run the test suite (PostgreSQL half when RECON_TEST_DATABASE_URL is set)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RECON  := $(BIN)/recon
DEMO   := out/demo
DEMODB := sqlite:///$(DEMO)/recon.db

.PHONY: demo test lint bench clean

$(BIN)/recon: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $(BIN)/recon

demo: $(BIN)/recon
	@rm -rf $(DEMO) && mkdir -p $(DEMO)
	@echo "== load master data"
	$(RECON) --db $(DEMODB) load customers fixtures/demo/customers.csv
	$(RECON) --db $(DEMODB) load invoices fixtures/demo/invoices.csv
	@echo "== the daily job: import the demo inbox and match"
	$(RECON) --db $(DEMODB) run daily --inbox fixtures/demo/inbox --profile fixtures/demo/profiles/demo-bank-cny.toml --summary $(DEMO)/daily-summary.json
	@echo "== the exception queue"
	$(RECON) --db $(DEMODB) queue list
	@echo "== reports"
	$(RECON) --db $(DEMODB) report aging
	$(RECON) --db $(DEMODB) report month-end --period 2026-10 --format html --output $(DEMO)/month-end-2026-10.html
	$(RECON) --db $(DEMODB) export allocations --format csv --output $(DEMO)/allocations.csv
	$(RECON) --db $(DEMODB) status
	@echo "demo output in $(DEMO)/ (month-end report, allocations export, daily summary)"

test: $(BIN)/recon
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 -q

lint: $(BIN)/recon
	$(BIN)/ruff check .

bench: $(BIN)/recon
	$(BIN)/python benchmarks/load_invoices.py

clean:
	rm -rf out .pytest_cache
