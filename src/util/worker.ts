/**
 * Starting a worker thread from a module next to the caller. Run from TypeScript sources (tests,
 * benchmarks), the worker registers tsx itself first: loader hooks of the main thread do not reach
 * worker threads on Node 20.
 */
import { availableParallelism } from 'node:os'
import { Worker, type WorkerOptions } from 'node:worker_threads'
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'

/** `name` is the module's path relative to `callerUrl` without its extension (`./route-worker`). */
export function startWorker(callerUrl: string, name: string, workerData: unknown, options: Pick<WorkerOptions, 'resourceLimits'> = {}): Worker {
  const fromSources = extname(fileURLToPath(callerUrl)) === '.ts'
  const url = new URL(`${name}${fromSources ? '.ts' : '.js'}`, callerUrl)
  if (!fromSources) return new Worker(url, { ...options, workerData })
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}) })`
  return new Worker(boot, { ...options, eval: true, workerData })
}

/**
 * How many route workers to run (TTA_ROUTE_WORKERS; by default one per core but one, at most 4):
 * `serve` starts that many, `send` one unless it is 0.
 */
export function routeWorkerCount(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.TTA_ROUTE_WORKERS
  if (v !== undefined && v !== '') {
    const n = Number(v)
    if (!Number.isInteger(n) || n < 0) throw new Error(`TTA_ROUTE_WORKERS must be a whole number ≥ 0, got "${v}"`)
    return n
  }
  return Math.min(4, availableParallelism() - 1)
}
