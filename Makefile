# The two commands (see README): `make demo` and `make test`.
.PHONY: demo test setup lint clean

setup:
	bash scripts/setup.sh

demo: setup
	bash scripts/demo.sh

test: setup
	bash scripts/test.sh

clean:
	rm -rf .llm-gitops .pytest_cache
