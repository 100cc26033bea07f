/**
 * How long a connection may take and how many may be open, so one client cannot pin the
 * service's sockets (a body trickled a byte at a time, thousands of idle keep-alive connections).
 * Every value comes from the environment, checked at start with a message naming the variable.
 */
import type { ServerOptions } from 'node:http'

export interface HttpLimits {
  /** Whole request (headers and body) received within this, else 408 and closed. */
  requestTimeoutMs: number
  /** Request headers received within this (also closes connections that never send a request). */
  headersTimeoutMs: number
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number
  /** A connection with no bytes moving either way (e.g. a client not reading its answer) is closed after this. */
  idleTimeoutMs: number
  /** Connections past this many open at once are closed on arrival. */
  maxConnections: number
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]
  if (raw === undefined || raw.trim() === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive whole number, got "${raw}"`)
  return n
}

export function httpLimits(env: NodeJS.ProcessEnv = process.env): HttpLimits {
  const limits: HttpLimits = {
    requestTimeoutMs: positiveInt(env, 'TTA_REQUEST_TIMEOUT_MS', 30_000),
    headersTimeoutMs: positiveInt(env, 'TTA_HEADERS_TIMEOUT_MS', 10_000),
    keepAliveTimeoutMs: positiveInt(env, 'TTA_KEEP_ALIVE_TIMEOUT_MS', 5_000),
    idleTimeoutMs: positiveInt(env, 'TTA_IDLE_TIMEOUT_MS', 120_000),
    maxConnections: positiveInt(env, 'TTA_MAX_CONNECTIONS', 1024)
  }
  // Node refuses a headers timeout longer than the request timeout; say which variables clash.
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    throw new Error(`TTA_HEADERS_TIMEOUT_MS (${limits.headersTimeoutMs}) must not exceed TTA_REQUEST_TIMEOUT_MS (${limits.requestTimeoutMs})`)
  }
  return limits
}

/**
 * Options for http.createServer. Node checks the request and headers timeouts on a timer (30 s by
 * default, which would double a 30 s timeout): every second here, sooner for small test values.
 */
export function httpServerOptions(limits: HttpLimits): ServerOptions {
  return {
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout: limits.headersTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4)))
  }
}
