# Benchmarks that span the whole pipeline (bench/README.md). None of them is a test.

.PHONY: bench-demo bench-demo-args

bench-demo-args:
	@[ -n "$(BEFORE)" ] || { echo "bench-demo: BEFORE=<git ref> is required, the commit to compare with" >&2; exit 2; }

# Wall times of `make demo` and of the pipeline's runs for two commits, side by side.
bench-demo: bench-demo-args setup-python setup-terraform registry-up ## Demo and rerun times: BEFORE=<ref> [AFTER=<ref>] (default: this tree); ~15 min
	bash bench/demo/run.sh "$(BEFORE)" $(AFTER)
