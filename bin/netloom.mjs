#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS NETLOOM_NODE_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS} node
// Node 20 reads the NODE_EXTRA_CA_CERTS bundle and parses every root certificate at each start
// (~30 ms of a 50 ms `node -e 0` where it is set); the CLI speaks no TLS, so the line above starts
// node without it and keeps its value, which cli/launch.ts puts back for the programs the CLI runs.
import '../dist/netloom.mjs';
