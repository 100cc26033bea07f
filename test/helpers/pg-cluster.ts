/**
 * A PostgreSQL cluster of a test's own — initdb into a temp dir, started on a free port with its
 * socket in that dir — so a test can stop and restart the database without touching the shared
 * server on 5432. As root, initdb/pg_ctl run as the `postgres` OS user (PostgreSQL refuses root).
 * Without initdb the tests skip locally and FAIL in CI (`CI=true`).
 */
import { execFile } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'

const run = promisify(execFile)

/** The directory holding initdb and pg_ctl, or undefined. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql'
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : []
  for (const v of versions) if (existsSync(join(root, v, 'bin', 'initdb'))) return join(root, v, 'bin')
  if (existsSync('/usr/local/bin/initdb')) return dirname(realpathSync('/usr/local/bin/initdb'))
  return undefined
}

/** `undefined` when a cluster can be made here; otherwise why the test is skipped. Throws in CI. */
export function clusterSkipReason(): string | undefined {
  if (postgresBinDir()) return undefined
  const why = 'initdb not found (in /usr/lib/postgresql/*/bin or /usr/local/bin)'
  if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(`${why}: CI requires PostgreSQL's server binaries`)
  return `${why}: install PostgreSQL's server package to run this test`
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

export interface PgCluster {
  port: number
  dir: string
  /** postgres://postgres@127.0.0.1:PORT/NAME */
  url(database: string): string
  createDatabase(name: string): Promise<void>
  start(): Promise<void>
  /** `pg_ctl stop -m MODE` (fast: connections are terminated with 57P01, as an operator's stop does). */
  stop(mode?: 'fast' | 'immediate' | 'smart'): Promise<void>
  /** Stops the cluster (immediate) and removes its directory. */
  destroy(): Promise<void>
}

/** initdb into a fresh temp dir and start it on a free port (`start: false`: only initdb, the port chosen). */
export async function startPgCluster(opts: { start?: boolean } = {}): Promise<PgCluster> {
  const bin = postgresBinDir()
  if (!bin) throw new Error('initdb not found')
  const asRoot = userInfo().uid === 0
  const dir = mkdtempSync(join(tmpdir(), 'tta-pgc-'))
  const data = join(dir, 'data')
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres'])
    const { stdout: gid } = await run('id', ['-g', 'postgres'])
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()))
  }
  const pgRun = (cmd: string, args: string[]) => (asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]) : run(join(bin, cmd), args))
  await pgRun('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions'])
  const port = await freePort()
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50`
  const cluster: PgCluster = {
    port,
    dir,
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    async createDatabase(name) {
      const c = new pg.Client({ connectionString: cluster.url('postgres'), connectionTimeoutMillis: 5000 })
      await c.connect()
      try {
        await c.query(`CREATE DATABASE ${name}`)
      } finally {
        await c.end()
      }
    },
    async start() {
      await pgRun('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'server.log'), '-w', '-t', '30', 'start'])
    },
    async stop(mode = 'fast') {
      await pgRun('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '30', 'stop'])
    },
    async destroy() {
      await cluster.stop('immediate').catch(() => undefined)
      live.delete(cluster)
      rmSync(dir, { recursive: true, force: true })
    }
  }
  live.add(cluster)
  if (opts.start !== false) await cluster.start()
  return cluster
}

const live = new Set<PgCluster>()
// A test that dies must not leave a postmaster running (SIGQUIT: immediate shutdown); sync, as in an exit handler.
process.on('exit', () => {
  for (const c of live) {
    try {
      const pid = Number(readFileSync(join(c.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0])
      if (pid > 0) process.kill(pid, 'SIGQUIT')
    } catch {
      // not running
    }
  }
})
