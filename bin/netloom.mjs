#!/usr/bin/env node
import '../dist/netloom.mjs';
