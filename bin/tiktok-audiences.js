#!/usr/bin/env -S node --max-old-space-size=1024
// Runs the compiled CLI (built by `npm install` through the `prepare` script).
// The heap bound: without it V8 sizes its heap from the machine's memory (GBs here) and, under
// sustained ingestion, lets garbage pile up to that size before collecting. 1 GiB is far above the
// service's working set; with it the resident set stays near 230 MB with 1,000,000 events queued
// (docs/BENCHMARKS.md). `node --max-old-space-size=N bin/tiktok-audiences.js …` sets another.
import '../dist/cli/main.js'
