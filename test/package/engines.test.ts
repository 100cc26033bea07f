// package.json's engines must tell the truth: every Node version it admits must be one that every
// installed package admits too, or `npm ci` warns EBADENGINE (issue 20.8: cookie@2 needed Node 22).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import semver from 'semver'

const root = new URL('../../', import.meta.url)
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { engines: { node: string } }
const lock = JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8')) as {
  packages: Record<string, { version?: string; optional?: boolean; engines?: { node?: string } | string[] }>
}

test('every installed package admits every Node version package.json admits', () => {
  const ours = pkg.engines.node
  assert.ok(semver.validRange(ours), `engines.node "${ours}" is a valid range`)
  const refusing: string[] = []
  for (const [path, entry] of Object.entries(lock.packages)) {
    // Optional packages are platform builds (wasm, other OSes) that npm skips where they do not fit.
    if (path === '' || entry.optional) continue
    const theirs = Array.isArray(entry.engines) ? undefined : entry.engines?.node
    if (!theirs || !semver.validRange(theirs)) continue
    if (!semver.subset(ours, theirs)) {
      refusing.push(`${path.replace(/^.*node_modules\//, '')}@${entry.version} needs node ${theirs}`)
    }
  }
  assert.deepEqual(refusing, [], `packages that refuse part of "${ours}"`)
})

test('the lock file records the same engines as package.json', () => {
  const lockRoot = lock.packages[''] as { engines?: { node?: string } }
  assert.equal(lockRoot.engines?.node, pkg.engines.node)
})

test('the Node running the tests is one package.json admits', () => {
  assert.ok(semver.satisfies(process.versions.node, pkg.engines.node), `${process.versions.node} in ${pkg.engines.node}`)
})
