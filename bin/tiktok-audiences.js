#!/usr/bin/env -S node --max-old-space-size=1024 --max-semi-space-size=16
// Runs the compiled CLI (built by `npm install` through the `prepare` script).
// The heap bound: without it V8 sizes its heap from the machine's memory (GBs here) and, under
// sustained ingestion, lets garbage pile up to that size before collecting. 1 GiB is far above the
// service's working set; with it the resident set stays near 240 MB with 1,000,000 events queued
// (docs/BENCHMARKS.md). A 16 MB young generation (V8's default is smaller) halves garbage
// collection time for the many short-lived objects of routing. Other values:
// `node --max-old-space-size=N --max-semi-space-size=M bin/tiktok-audiences.js …`.
import '../dist/cli/main.js'
