/**
 * Starting `send`'s route worker early: this module loads nothing but node:worker_threads, so the
 * CLI can start the worker before it loads the pipeline and applies the config. The worker's own
 * start-up (a second V8 isolate loading the mapping libraries: about a quarter of a second on a
 * slow machine) then overlaps the main thread's instead of delaying the first routed batch.
 */
import type { Worker } from 'node:worker_threads'
import { routeWorkerCount, startWorker } from '../util/worker.js'
import type { RouteWorkerData } from './route-worker.js'

export interface RouteWorkerHandle {
  worker: Worker
  /** Settles when the worker stops, with why (an error it threw, or its exit code): watched from its start, so a stop before it was given work is not missed. */
  stopped: Promise<Error>
}

/** A route worker waiting for its `RouteWorkerStart` message, or undefined when there is to be none (TTA_ROUTE_WORKERS=0, stdin). */
export function startRouteWorker(events: string): RouteWorkerHandle | undefined {
  // The worker reads the file itself; it cannot read this process's stdin.
  if (events === '-' || routeWorkerCount() === 0) return undefined
  // It starts reading the file at once (route-worker.ts): routing waits for the start message.
  const worker = startWorker(import.meta.url, './route-worker', { file: events } satisfies RouteWorkerData)
  const stopped = new Promise<Error>((resolve) => {
    worker.once('error', resolve)
    worker.once('exit', (code) => resolve(new Error(`the route worker stopped (exit code ${code}) before the end of the file`)))
  })
  // Until it is given work it must not keep the process alive (a config error ends the run early).
  worker.unref()
  return { worker, stopped }
}
