import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'

/** Encrypts secrets at rest (TikTok access tokens) with AES-256-GCM. */
export class SecretBox {
  private readonly key: Buffer
  constructor(secret: string) {
    this.key = createHash('sha256').update(secret).digest()
  }
  encrypt(plain: string): string {
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', this.key, iv)
    const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()])
    return `v1:${iv.toString('base64')}:${cipher.getAuthTag().toString('base64')}:${ct.toString('base64')}`
  }
  decrypt(sealed: string): string {
    const [v, iv, tag, ct] = sealed.split(':')
    if (v !== 'v1' || !iv || !tag || ct === undefined) throw new Error('Stored secret is not in the expected format')
    const d = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64'))
    d.setAuthTag(Buffer.from(tag, 'base64'))
    try {
      return Buffer.concat([d.update(Buffer.from(ct, 'base64')), d.final()]).toString('utf8')
    } catch {
      throw new Error('Cannot decrypt a stored secret: SECRET_KEY differs from the one it was encrypted with')
    }
  }
}

/**
 * SECRET_KEY from the environment, else a key generated once into `keyFile` (with a warning,
 * since losing that file makes stored tokens unreadable).
 */
export function loadSecretKey(keyFile: string | undefined, warn: (msg: string) => void): string {
  const fromEnv = process.env.SECRET_KEY
  if (fromEnv) return fromEnv
  if (!keyFile) return randomBytes(32).toString('base64')
  if (existsSync(keyFile)) return readFileSync(keyFile, 'utf8').trim()
  mkdirSync(dirname(keyFile), { recursive: true })
  const key = randomBytes(32).toString('base64')
  writeFileSync(keyFile, key + '\n', { mode: 0o600 })
  warn(`SECRET_KEY is not set: generated one into ${keyFile}. Keep that file (or set SECRET_KEY) or stored TikTok tokens become unreadable.`)
  return key
}
