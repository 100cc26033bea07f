/** Applying a config from several processes at once creates each native audience on TikTok once. */
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { applyConfig } from '../../src/config/apply.js'
import { startEmulator } from '../../src/emulator/index.js'
import { openStore } from '../../src/store/index.js'
import { listConnections, listSources } from '../../src/store/sql/config.js'
import { TikTokClient } from '../../src/tiktok/client.js'

test('concurrent config applies: one TikTok audience per connection, one default source', async () => {
  const emu = await startEmulator({ log: false })
  const store = await openStore(`sqlite:${join(mkdtempSync(join(tmpdir(), 'tta-apply-')), 'db.sqlite')}`, { secretKey: 'k' })
  try {
    const config = {
      destinations: [
        {
          name: 'tiktok',
          mode: 'native' as const,
          accessToken: 'emulator-access-token',
          audiences: [
            { key: 'vip', name: 'VIP', advertiserId: '7000000000000000001' },
            { key: 'churn', name: 'Churn risk', advertiserId: '7000000000000000001' }
          ]
        }
      ]
    }
    // Slow TikTok down so the applies overlap while the first one is creating.
    await fetch(`${emu.url}/_emulator/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rules: [{ path: '/segment/audience/', latencyMs: 200 }] })
    })
    const tiktok = new TikTokClient({ baseUrl: emu.apiUrl })
    const results = await Promise.all([applyConfig(store, config, tiktok), applyConfig(store, config, tiktok), applyConfig(store, config, tiktok)])
    for (const r of results) assert.deepEqual(r.problems, [])
    const audiences = ((await (await fetch(`${emu.url}/_emulator/audiences`)).json()) as { audiences: { audience_id: string; name: string }[] }).audiences
    assert.deepEqual(audiences.map((a) => a.name).sort(), ['Churn risk', 'VIP'], 'each audience created once')
    const connections = await listConnections(store.db)
    assert.deepEqual(connections.map((c) => c.externalAudienceId).sort(), audiences.map((a) => a.audience_id).sort())
    assert.equal((await listSources(store.db)).length, 1)
  } finally {
    await store.close()
    await emu.close()
  }
})
