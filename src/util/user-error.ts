/**
 * A problem the person running the command can fix (a taken port, a broken config file): the CLI
 * prints its message and fix without a stack trace. Anything else is a bug and keeps its stack.
 */
export class UserError extends Error {
  override name = 'UserError'
  constructor(
    message: string,
    readonly fix?: string
  ) {
    super(message)
  }
}

/** What the CLI prints for an error that ends the command. */
export function describeFatal(err: unknown): string {
  if (err instanceof UserError) return `error: ${err.message}${err.fix ? `\n  fix: ${err.fix}` : ''}`
  // Errors marked `plain` explain themselves and their fix (e.g. a second built-in emulator on one database).
  if (err instanceof Error && (err as { plain?: unknown }).plain === true) return `error: ${err.message}`
  return `error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`
}

/** `listen` failed: the reasons a person meets (port taken, not allowed) with their fix; else the error itself. */
export function listenError(err: unknown, port: number, host: string): unknown {
  const code = (err as NodeJS.ErrnoException).code
  const choose = 'choose another port with --port N or PORT=N (0 picks a free one)'
  if (code === 'EADDRINUSE')
    return new UserError(`port ${port} on ${host} is already in use (another tiktok-audiences, or another program)`, `stop that program, or ${choose}`)
  if (code === 'EACCES') return new UserError(`not allowed to listen on port ${port} on ${host} (ports below 1024 need privileges)`, choose)
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
    return new UserError(`cannot listen on address "${host}": this machine has no such address`, 'use --host 127.0.0.1 (or HOST=0.0.0.0 for every address)')
  return err
}
