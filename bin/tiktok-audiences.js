#!/usr/bin/env -S node --max-old-space-size=1024 --max-inlined-bytecode-size-cumulative=300
// Runs the compiled CLI (built by `npm install` through the `prepare` script).
// The heap bound: without it V8 sizes its heap from the machine's memory (GBs here) and, under
// sustained ingestion, lets garbage pile up to that size before collecting. 1 GiB is far above the
// service's working set; with it the resident set stays under 300 MB with 1,000,000 events queued
// (docs/BENCHMARKS.md). The young generation keeps V8's default (two 16 MB semi-spaces on 64 bits);
// serve's route workers get a smaller one (src/server/route-pool.ts).
// Less inlining (V8's default budget is 920 bytecode bytes per optimised function): TurboFan's
// compiles, on background threads of two isolates, were ~20% of send's CPU on 2 cores; with 300
// send took ~5% less CPU and time, and serve's ingestion was unchanged (alternating A/B runs).
// Other values: `node --max-old-space-size=N --max-semi-space-size=M bin/tiktok-audiences.js …`.
import '../dist/cli/main.js'
