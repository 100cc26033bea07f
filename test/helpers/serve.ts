/**
 * `tiktok-audiences serve` as a child process, as an operator runs it: started with `--port 0`, its
 * URL read from the banner's console line. Every process started here is SIGKILLed when the test
 * process exits, whatever happened.
 */
import type { ChildProcess } from 'node:child_process'
import { at } from '../../src/util/array.js'
import { spawnCli } from './cli.js'

export interface ServeProcess {
  url: string
  child: ChildProcess
  pid: number
  /** stdout + stderr so far (for failure messages). */
  output(): string
  /** SIGKILL (default) or SIGTERM, and wait until the process is gone. */
  stop(signal?: NodeJS.Signals): Promise<void>
}

const children = new Set<ChildProcess>()
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
})

/** `compiledCli`: see spawnCli (benchmarks run the compiled CLI, as users do; tests run the sources). */
export async function startServe(args: string[], env: Record<string, string | undefined>, timeoutMs = 30_000, compiledCli?: string): Promise<ServeProcess> {
  const child = spawnCli(['serve', '--port', '0', ...args], { PUBLIC_URL: '', HOST: '127.0.0.1', ...env }, compiledCli)
  children.add(child)
  child.stdin!.end()
  let out = ''
  const gone = new Promise<void>((resolve) => child.once('close', () => resolve()))
  void gone.then(() => children.delete(child))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`serve did not start within ${timeoutMs} ms:\n${out}`))
    }, timeoutMs)
    const onData = (d: Buffer) => {
      out += d.toString()
      const m = /console (http:\/\/[^\s]+?)\/?\s/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(at(m, 1))
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`serve exited (${code ?? signal}) before it was ready:\n${out}`))
    })
  })
  return {
    url,
    child,
    pid: child.pid!,
    output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      await gone
    }
  }
}

/** Stops every serve process still running (SIGKILL). */
export async function stopAllServes(): Promise<void> {
  await Promise.all(
    [...children].map(async (c) => {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
      await new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('close', () => r())))
    })
  )
}
