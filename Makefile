# netloom — `make help` lists the targets.
SHELL := /bin/bash
NODE  ?= node
NPX   ?= npx
ADDON := native/nsaddon.node
UDP_ADDON := native/udpbatch.node
ICMP_ADDON := native/icmpprobe.node
SPAWN_ADDON := native/spawner.node

.PHONY: help deps build addon typecheck bundle test test-unit test-priv demo bench clean lab lint format

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 14

deps: ## install Debian packages and npm dependencies (root, Debian)
	bash scripts/setup.sh

build: addon ## generate the lab schema validator, compile TypeScript to build/ and bundle the CLI and daemon into dist/
	$(NODE) scripts/lab-validator.mjs
	$(NPX) tsc -p .
	$(NODE) scripts/bundle.mjs

addon: $(ADDON) $(UDP_ADDON) $(ICMP_ADDON) $(SPAWN_ADDON) ## build the native addons: setns and namespace creation, batched UDP for the DNS server, ICMP echo for lab check, programs run without a fork (N-API, C)
$(ADDON): native/nsaddon.c
	cc -O2 -Wall -Wextra -shared -fPIC -I/usr/include/node -o $@ $<
$(UDP_ADDON): native/udpbatch.c
	cc -O2 -Wall -Wextra -shared -fPIC -I/usr/include/node -o $@ $<
$(ICMP_ADDON): native/icmpprobe.c
	cc -O2 -Wall -Wextra -shared -fPIC -I/usr/include/node -o $@ $<
$(SPAWN_ADDON): native/spawner.c
	cc -O2 -Wall -Wextra -shared -fPIC -I/usr/include/node -o $@ $<

typecheck: ## type-check without emitting
	$(NODE) scripts/lab-validator.mjs
	$(NPX) tsc -p . --noEmit

lint: ## ESLint (layers, no cycles, sizes: eslint.config.js) and the Prettier check
	$(NPX) eslint .
	$(NPX) prettier --check --log-level warn .

format: ## Prettier on every source file (.prettierrc.json)
	$(NPX) prettier --write --log-level warn .

test-unit: build ## unit and property tests: no root, no network
	$(NODE) --test --test-concurrency=4 build/test/unit/

test-priv: build ## privileged tests (root): each in fresh namespaces, inside private mount, net and PID namespaces
	bash test/helpers/run-priv.sh

test: build ## everything CI runs: make lint, unit tests, then privileged tests, then the host-unchanged check
	bash test/helpers/run-all.sh

demo: build ## the README demo: networks, sandboxes, names, ports, self-healing, doctor, modes, Docker on netloom, an overlay across two hosts
	bash scripts/demo.sh

lab: build ## the example labs (examples/*.loom.yaml): up, truth tables, SVGs and JUnit in lab-out/, down
	bash scripts/lab.sh

bench: build ## benchmarks beside Docker (see bench/README.md)
	bash bench/run.sh

clean: ## remove build outputs
	rm -rf build dist $(ADDON) $(UDP_ADDON) $(ICMP_ADDON)
