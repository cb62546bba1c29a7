# Newcomers: `make run` sets up and runs everything; `make test` sets up and runs the tests.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export GATEWAY_PORT ?= 8000
PYTEST_ARGS ?=
export PYTEST_ARGS

.PHONY: help setup venv rabbitmq ferretdb up run down status test unit lint mails bench bench-national faults clean

help:
	@echo "make run     set up, then run RabbitMQ, FerretDB, SMTP capture and the five services in the foreground (Ctrl-C stops)"
	@echo "make up      the same in the background; returns once http://127.0.0.1:$(GATEWAY_PORT)/health is green"
	@echo "make down    stop everything up/run started"
	@echo "make status  process states"
	@echo "make test    set up, start RabbitMQ + a throw-away FerretDB, run .venv/bin/pytest \$$PYTEST_ARGS"
	@echo "             e.g. make test PYTEST_ARGS='tests/e2e/test_pipes.py -x'"
	@echo "make unit    the fast tests only (tests/unit: pure logic and use cases, no backing service)"
	@echo "make lint    ruff (lint + format check) and mypy"
	@echo "make mails   every email rendered from sample events into docs/mails/ (text and HTML)"
	@echo "make setup   .venv, RabbitMQ package, FerretDB build (idempotent)"
	@echo "make bench   run tests/bench/*.py"
	@echo "make bench-national SCALE=0.1 HISTORY=5   the whole year at 35,000 x SCALE collectivités, one table"
	@echo "make faults  the fault suite (tests/faults): every scenario, 200 applications each, on its own"
	@echo "             RabbitMQ node and FerretDB; prints one table (make test runs a short form)"

setup: venv rabbitmq ferretdb

venv:
	@deploy/local/setup.sh

rabbitmq:
	@deploy/local/rabbitmq.sh install

ferretdb:
	@deploy/local/build-mongo.sh

up:
	@deploy/local/stack.sh up

run:
	@deploy/local/stack.sh run

down:
	@deploy/local/stack.sh down

status:
	@deploy/local/stack.sh status

test:
	@deploy/local/test.sh

unit: venv
	@.venv/bin/pytest -q tests/unit

mails: venv
	@rm -f docs/mails/*.txt docs/mails/*.html
	@.venv/bin/python -m tests.support.mail_samples docs/mails >/dev/null && ls docs/mails

lint: venv
	@.venv/bin/ruff check .
	@.venv/bin/ruff format --check .
	@.venv/bin/mypy

bench: venv
	@shopt -s nullglob; files=(tests/bench/*.py); \
	if [ $${#files[@]} -eq 0 ]; then echo "bench: no tests/bench/*.py yet"; exit 0; fi; \
	for f in "$${files[@]}"; do echo "== $$f"; .venv/bin/python "$$f" || exit $$?; done

faults: venv rabbitmq ferretdb
	@FAULTS_FULL=1 LABEL_LOCAL_MODE=1 .venv/bin/pytest -q -p no:cacheprovider tests/faults $(PYTEST_ARGS)

clean: down
	rm -rf var

# `make bench-national SCALE=0.1 HISTORY=5`: the whole year at 35,000 × SCALE (tests/bench/national.py)
SCALE ?= 0.1
HISTORY ?= 5
bench-national: venv rabbitmq ferretdb
	@deploy/local/rabbitmq.sh start
	@code=0; deploy/local/rabbitmq.sh hold .venv/bin/python tests/bench/national.py \
		--scale $(SCALE) --history $(HISTORY) || code=$$?; deploy/local/rabbitmq.sh stop || true; exit $$code
