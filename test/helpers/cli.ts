/** Runs the `tiktok-audiences` CLI from source in a child process, as a user would. */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { first } from '../../src/util/array.js'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))

/** Node's flags from the shebang of bin/tiktok-audiences.js, so tests and benchmarks run the CLI as users do. */
export const NODE_FLAGS: string[] = first(readFileSync(new URL('../../bin/tiktok-audiences.js', import.meta.url), 'utf8').split('\n'))
  .split(/\s+/)
  .filter((w) => w.startsWith('--'))

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
  /** The JSON object on the last line of stdout, if any. */
  summary?: Record<string, number>
}

/** `compiledCli`: run that compiled entry point (dist/cli/main.js, as benchmarks do) instead of the sources through tsx. */
export function spawnCli(args: string[], env: Record<string, string | undefined> = {}, compiledCli?: string): ChildProcess {
  const entry = compiledCli ? [compiledCli] : ['--import', 'tsx', MAIN]
  return spawn(process.execPath, [...NODE_FLAGS, ...entry, ...args], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['pipe', 'pipe', 'pipe']
  })
}

export function runCli(args: string[], opts: { env?: Record<string, string | undefined>; input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, opts.env)
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (d) => (stdout += d))
    child.stderr!.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`CLI timed out: ${args.join(' ')}\n${stderr}`))
    }, opts.timeoutMs ?? 60_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      const last = stdout.trim().split('\n').pop() ?? ''
      let summary: Record<string, number> | undefined
      try {
        summary = JSON.parse(last) as Record<string, number>
      } catch {
        summary = undefined
      }
      resolve({ code, stdout, stderr, summary })
    })
    child.stdin!.end(opts.input ?? '')
  })
}
