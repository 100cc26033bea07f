/** Writes docs/ACTIONS.md from the destination definitions: node --import tsx scripts/gen-docs.ts */
import { writeFileSync } from 'node:fs'
import { renderActionsMarkdown } from '../src/destination/docs.js'

const target = new URL('../docs/ACTIONS.md', import.meta.url)
writeFileSync(target, renderActionsMarkdown())
console.log(`wrote ${target.pathname}`)
