#!/usr/bin/env node
import '../dist/netloomd.mjs';
