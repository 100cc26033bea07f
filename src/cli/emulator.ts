import { join } from 'node:path'
import { EMULATOR_STATE_FILE, startEmulator } from '../emulator/index.js'
import { listenError } from '../util/user-error.js'

/** `tiktok-audiences emulator`: runs until interrupted; with `data`, its state outlives it. */
export async function runEmulator(opts: { port: number; host: string; data?: string }): Promise<void> {
  const emu = await startEmulator({
    port: opts.port,
    host: opts.host,
    stateFile: opts.data ? join(opts.data, EMULATOR_STATE_FILE) : undefined,
    log: (line) => process.stdout.write(line + '\n')
  }).catch((err: unknown) => {
    throw listenError(err, opts.port, opts.host)
  })
  const stop = () => {
    void emu.close().then(() => process.exit(0))
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}
