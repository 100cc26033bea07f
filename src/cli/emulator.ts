import { startEmulator } from '../emulator/index.js'
import { listenError } from '../util/user-error.js'

/** `tiktok-audiences emulator`: runs until interrupted. */
export async function runEmulator(opts: { port: number; host: string }): Promise<void> {
  const emu = await startEmulator({ port: opts.port, host: opts.host, log: (line) => process.stdout.write(line + '\n') }).catch((err: unknown) => {
    throw listenError(err, opts.port, opts.host)
  })
  const stop = () => {
    void emu.close().then(() => process.exit(0))
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}
