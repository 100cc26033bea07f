import pino, { type Logger } from 'pino'

/** Structured JSON logs on stderr (stdout is kept for command output such as `send`'s summary). */
export function createLogger(defaultLevel = 'info'): Logger {
  return pino({ level: process.env.LOG_LEVEL || defaultLevel, base: undefined }, pino.destination(2))
}
