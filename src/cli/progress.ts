/**
 * A progress line for long one-shot commands: rewritten in place on stderr when it is a terminal,
 * at most a few times a second; nothing at all when stderr is piped or redirected.
 */
export class ProgressLine {
  private last = 0
  private shown = false

  constructor(
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly everyMs = 200
  ) {}

  get enabled(): boolean {
    return this.out.isTTY === true
  }

  update(text: string, force = false): void {
    if (!this.enabled) return
    const now = Date.now()
    if (!force && now - this.last < this.everyMs) return
    this.last = now
    this.out.write(`\r\x1b[2K${text}`)
    this.shown = true
  }

  /** Clears the line (before other output, and at the end). */
  clear(): void {
    if (!this.shown) return
    this.out.write('\r\x1b[2K')
    this.shown = false
  }
}
