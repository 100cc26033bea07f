/**
 * The emulator's state on disk: an append-only journal of JSON lines (`tiktok-emulator.jsonl`).
 * Each change is appended before the emulator applies it and answers, so a restart replays what was
 * answered. Every line is one synchronous write without fsync: it survives a clean stop and a kill -9
 * (the kernel has it), a machine crash may lose the last answers. A torn last line is a write that
 * was never answered and is dropped. The journal is rewritten as a snapshot (to a temporary file,
 * fsynced, renamed over) at reset, and at open, close and while running when it has grown well past
 * the state it holds; members are written 10,000 ids a line, so memory and write cost stay
 * proportional to the state, not to one snapshot per request.
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync
} from 'node:fs'
import { dirname } from 'node:path'
import { applyMapping, type MappingAction, type ValidatedMapping } from './mapping.js'
import {
  emptyMembers,
  ID_TYPES,
  type AuthCode,
  type EmulatorAdvertiser,
  type EmulatorApp,
  type EmulatorAudience,
  type EmulatorToken,
  type IdType
} from './model.js'
import type { EmulatorState } from './state.js'

/** The journal's name in a data folder (`emulator --data DIR`, and `serve`'s built-in emulator). */
export const EMULATOR_STATE_FILE = 'tiktok-emulator.jsonl'
const JOURNAL_VERSION = 1
/** Member ids per snapshot line. */
const IDS_PER_LINE = 10_000
/** While running, rewrite once the journal is this many times the state (plus the floor): amortised, rarely. */
const RUNNING_FACTOR = 4
const RUNNING_FLOOR_BYTES = 8 * 1024 * 1024
/** At open and close (no request waits), rewrite when a third or more of the journal is history. */
const IDLE_FACTOR = 1.5
const IDLE_FLOOR_BYTES = 1024 * 1024
const READ_CHUNK_BYTES = 4 * 1024 * 1024

export type JournalOp =
  /** First line of every snapshot: everything before it is forgotten. */
  | { op: 'state'; v: number; nextAudienceId: string; audienceSeq: number }
  | { op: 'app'; app: EmulatorApp }
  | { op: 'advertiser'; advertiser: EmulatorAdvertiser }
  | { op: 'token'; token: EmulatorToken }
  | { op: 'revoke'; accessToken: string }
  | { op: 'code'; code: string; entry: AuthCode }
  | { op: 'code-used'; code: string }
  | { op: 'audience'; audience: Omit<EmulatorAudience, 'members'> }
  | { op: 'audience-delete'; audienceId: string }
  /** Ids of a scanned mapping body (row after row, `null` for `{}`) going to every audience in `aud`. */
  | { op: 'ids'; action: MappingAction; schema: IdType[]; aud: string[]; upper: boolean; ids: (string | null)[] }
  /** `batch_data` of a mapping body read by JSON.parse, as it was validated. */
  | { op: 'rows'; action: MappingAction; schema: IdType[]; upper: boolean; rows: unknown[][] }

/** What EmulatorState writes its changes to. */
export interface StateJournal {
  readonly file: string
  write(op: JournalOp): void
  writeMapping(mapping: ValidatedMapping): void
  /** Replaces the journal with a snapshot of the state as it is now. */
  rewrite(): void
  close(): void
}

export function audienceOp(a: EmulatorAudience): JournalOp {
  const { members: _members, ...audience } = a
  return { op: 'audience', audience }
}

/** Journal files open in this process (the lock file's pid cannot tell two of them apart). */
const openFiles = new Set<string>()

/**
 * Opens (or creates) the journal at `file` for `state`: a journal with state replaces the state's
 * seeded contents; an empty or new one is started from them.
 */
export function openJournal(file: string, state: EmulatorState): StateJournal {
  mkdirSync(dirname(file), { recursive: true })
  const lock = takeLock(file)
  try {
    rmSync(`${file}.tmp`, { force: true }) // a rewrite interrupted before its rename
    const fd = openSync(file, existsSync(file) ? 'r+' : 'w+')
    let size: number
    try {
      size = replay(fd, file, state)
    } catch (err) {
      closeSync(fd)
      throw err
    }
    closeSync(fd)
    const journal = new FileJournal(file, lock, state, size)
    if (size === 0 || journal.wasteful(IDLE_FACTOR, IDLE_FLOOR_BYTES)) journal.rewrite()
    return journal
  } catch (err) {
    releaseLock(file, lock)
    throw err
  }
}

class FileJournal implements StateJournal {
  private fd: number
  private rewriteScheduled = false
  private closed = false

  constructor(
    readonly file: string,
    private readonly lock: string,
    private readonly state: EmulatorState,
    /** Bytes in the journal file. */
    private bytes: number
  ) {
    this.fd = openSync(file, 'a')
  }

  write(op: JournalOp): void {
    this.append(JSON.stringify(op) + '\n')
  }

  writeMapping(m: ValidatedMapping): void {
    const { cells } = m
    this.write(
      'ids' in cells
        ? { op: 'ids', action: m.action, schema: m.idSchema, aud: cells.audienceIds, upper: m.upperCase, ids: cells.ids }
        : { op: 'rows', action: m.action, schema: m.idSchema, upper: m.upperCase, rows: cells.rows }
    )
  }

  private append(line: string): void {
    if (this.closed) throw new Error(`emulator journal ${this.file} is closed`)
    this.bytes += writeLine(this.fd, line)
    // After the handler has applied the change it just wrote (handlers write and apply in one go).
    if (!this.rewriteScheduled && this.wasteful(RUNNING_FACTOR, RUNNING_FLOOR_BYTES)) {
      this.rewriteScheduled = true
      setImmediate(() => {
        this.rewriteScheduled = false
        if (!this.closed && this.wasteful(RUNNING_FACTOR, RUNNING_FLOOR_BYTES)) this.rewrite()
      }).unref()
    }
  }

  wasteful(factor: number, floorBytes: number): boolean {
    return this.bytes > factor * estimateSnapshotBytes(this.state) + floorBytes
  }

  rewrite(): void {
    if (this.closed) throw new Error(`emulator journal ${this.file} is closed`)
    const tmp = `${this.file}.tmp`
    const fd = openSync(tmp, 'w')
    let bytes: number
    try {
      bytes = writeSnapshot(fd, this.state)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, this.file)
    syncDirectory(dirname(this.file))
    closeSync(this.fd)
    this.fd = openSync(this.file, 'a')
    this.bytes = bytes
  }

  close(): void {
    if (this.closed) return
    try {
      if (this.wasteful(IDLE_FACTOR, IDLE_FLOOR_BYTES)) this.rewrite()
      else fsyncSync(this.fd)
    } finally {
      this.closed = true
      closeSync(this.fd)
      releaseLock(this.file, this.lock)
    }
  }
}

/** Writes a string whole; as a string first (no Buffer copy: ~0.5 ms of a 10,000-id line), the rest of a short write as bytes. */
function writeLine(fd: number, line: string): number {
  const length = Buffer.byteLength(line)
  const written = writeSync(fd, line)
  if (written < length) writeFully(fd, Buffer.from(line, 'utf8').subarray(written))
  return length
}

function writeFully(fd: number, buf: Buffer): number {
  let done = 0
  while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done)
  return buf.length
}

function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, 'r')
    try {
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
  } catch {
    // Not every platform lets a directory be fsynced; the rename itself is atomic.
  }
}

/** The state as journal lines, written in pieces of about a megabyte; returns the bytes written. */
function writeSnapshot(fd: number, state: EmulatorState): number {
  let pending: string[] = []
  let pendingLength = 0
  let total = 0
  const flush = () => {
    if (pending.length === 0) return
    total += writeFully(fd, Buffer.from(pending.join(''), 'utf8'))
    pending = []
    pendingLength = 0
  }
  const line = (op: JournalOp) => {
    const text = JSON.stringify(op) + '\n'
    pending.push(text)
    pendingLength += text.length
    if (pendingLength >= 1024 * 1024) flush()
  }
  const { nextAudienceId, audienceSeq } = state.counters()
  line({ op: 'state', v: JOURNAL_VERSION, nextAudienceId: nextAudienceId.toString(), audienceSeq })
  for (const app of state.apps.values()) line({ op: 'app', app })
  for (const advertiser of state.advertisers.values()) line({ op: 'advertiser', advertiser })
  for (const token of state.tokens.values()) line({ op: 'token', token })
  const now = state.now()
  for (const [code, entry] of state.authCodes) if (!entry.used && entry.expiresAt > now) line({ op: 'code', code, entry })
  for (const audience of state.audiences.values()) {
    line(audienceOp(audience))
    for (const type of ID_TYPES) {
      let ids: string[] = []
      const flushIds = () => {
        if (ids.length > 0) line({ op: 'ids', action: 'add', schema: [type], aud: [audience.audienceId], upper: false, ids })
        ids = []
      }
      for (const id of audience.members[type]) {
        ids.push(id)
        if (ids.length === IDS_PER_LINE) flushIds()
      }
      flushIds()
    }
  }
  flush()
  return total
}

/** About the bytes a snapshot of the state takes (members dominate: id, quotes and comma each). */
function estimateSnapshotBytes(state: EmulatorState): number {
  let bytes = 100 + 100 * state.apps.size + 300 * state.advertisers.size + 250 * state.tokens.size + 200 * state.authCodes.size
  for (const audience of state.audiences.values()) {
    bytes += 300
    for (const type of ID_TYPES) {
      const n = audience.members[type].size
      if (n > 0) bytes += n * (type.endsWith('_MD5') ? 35 : 67) + 150 * Math.ceil(n / IDS_PER_LINE)
    }
  }
  return bytes
}

/**
 * Applies every complete line of the journal to `state`; returns the bytes kept. A last line without
 * its newline was never answered: it is cut off so that the next append starts on a line of its own.
 */
function replay(fd: number, file: string, state: EmulatorState): number {
  const size = fstatSync(fd).size
  let kept = 0
  let lineNo = 0
  let carry: Buffer | undefined
  const chunk = Buffer.allocUnsafe(READ_CHUNK_BYTES)
  let position = 0
  while (position < size) {
    const read = readSync(fd, chunk, 0, chunk.length, position)
    if (read === 0) break
    position += read
    let data = chunk.subarray(0, read)
    if (carry) data = Buffer.concat([carry, data])
    let start = 0
    for (let nl = data.indexOf(10, start); nl >= 0; nl = data.indexOf(10, start)) {
      lineNo++
      applyLine(data.toString('utf8', start, nl), file, lineNo, state)
      kept += nl + 1 - start
      start = nl + 1
    }
    carry = start < data.length ? Buffer.from(data.subarray(start)) : undefined
  }
  if (kept < size) ftruncateSync(fd, kept)
  return kept
}

function applyLine(text: string, file: string, lineNo: number, state: EmulatorState): void {
  const where = `${file} line ${lineNo}`
  let op: JournalOp
  try {
    op = JSON.parse(text) as JournalOp
  } catch {
    throw new Error(`${where} is not a journal line; move the file away to start the emulator from scratch`)
  }
  if (lineNo === 1 && op.op !== 'state') throw new Error(`${where} does not start a TikTok emulator journal`)
  switch (op.op) {
    case 'state':
      if (op.v !== JOURNAL_VERSION) throw new Error(`${where}: journal version ${op.v}, this emulator reads ${JOURNAL_VERSION}`)
      state.clearEntities()
      state.raiseCounters(BigInt(op.nextAudienceId), op.audienceSeq)
      return
    case 'app':
      state.apps.set(op.app.appId, op.app)
      return
    case 'advertiser':
      state.advertisers.set(op.advertiser.advertiserId, op.advertiser)
      return
    case 'token':
      state.tokens.set(op.token.accessToken, op.token)
      return
    case 'revoke': {
      const token = state.tokens.get(op.accessToken)
      if (token) token.revoked = true
      return
    }
    case 'code':
      state.authCodes.set(op.code, op.entry)
      return
    case 'code-used': {
      const entry = state.authCodes.get(op.code)
      if (entry) entry.used = true
      return
    }
    case 'audience': {
      const { audience } = op
      // A later record of the same audience (its size or expiry set by the control API) keeps its members.
      state.audiences.set(audience.audienceId, { ...audience, members: state.audiences.get(audience.audienceId)?.members ?? emptyMembers() })
      state.raiseCounters(/^\d{1,30}$/.test(audience.audienceId) ? BigInt(audience.audienceId) : 0n, audience.seq)
      return
    }
    case 'audience-delete':
      state.audiences.delete(op.audienceId)
      return
    case 'ids':
    case 'rows': {
      const audienceIds = op.op === 'ids' ? op.aud : audiencesOfRows(op.rows)
      for (const id of audienceIds) if (!state.audiences.has(id)) throw new Error(`${where} changes audience ${id}, which the journal never created`)
      const cells = op.op === 'ids' ? { ids: op.ids, audienceIds: op.aud } : { rows: op.rows }
      applyMapping({ action: op.action, idSchema: op.schema, cells, upperCase: op.upper }, state.audiences)
      return
    }
    default:
      throw new Error(`${where}: unknown journal entry ${JSON.stringify((op as { op?: unknown }).op)}`)
  }
}

function audiencesOfRows(rows: unknown[][]): Set<string> {
  const ids = new Set<string>()
  for (const row of rows) for (const cell of row) for (const id of (cell as { audience_ids?: string[] }).audience_ids ?? []) ids.add(id)
  return ids
}

/**
 * `<file>.lock` names the process that keeps the journal: a second emulator on the same file would
 * interleave its lines with the first one's. A lock whose process is gone (kill -9) is taken over.
 */
function takeLock(file: string): string {
  const lock = `${file}.lock`
  if (openFiles.has(file)) throw new Error(`${file} is already open in this process: one emulator per state file`)
  if (existsSync(lock)) {
    const pid = Number(readFileSync(lock, 'utf8').trim())
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processIsAlive(pid)) {
      throw new Error(
        `${file} is in use by another TikTok emulator (pid ${pid}); stop it, give this one another data folder, or delete ${lock} if no emulator runs`
      )
    }
  }
  writeFileSync(lock, `${process.pid}\n`)
  openFiles.add(file)
  return lock
}

function releaseLock(file: string, lock: string): void {
  openFiles.delete(file)
  try {
    if (Number(readFileSync(lock, 'utf8').trim()) === process.pid) rmSync(lock, { force: true })
  } catch {
    // already gone
  }
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
