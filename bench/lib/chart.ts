/** A small SVG of horizontal bars (throughput panel, latency panel), written by hand: no chart library. */
export interface Bar {
  label: string
  value: number
  /** Shown after the bar, e.g. "12,345 events/s". */
  text: string
  highlight?: boolean
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

export function barChartSvg(title: string, panels: { title: string; bars: Bar[]; target?: { value: number; label: string } }[]): string {
  const width = 900
  const labelWidth = 300
  const barArea = 420
  const rowHeight = 24
  let y = 40
  const parts: string[] = [`<text x="10" y="24" font-size="16" font-weight="bold">${esc(title)}</text>`]
  for (const panel of panels) {
    if (panel.bars.length === 0) continue
    parts.push(`<text x="10" y="${y + 14}" font-size="13" font-weight="bold">${esc(panel.title)}</text>`)
    y += 24
    const max = Math.max(...panel.bars.map((b) => b.value), panel.target?.value ?? 0) || 1
    const top = y
    for (const bar of panel.bars) {
      const w = Math.max(1, (bar.value / max) * barArea)
      parts.push(`<text x="${labelWidth - 8}" y="${y + 16}" font-size="12" text-anchor="end">${esc(bar.label)}</text>`)
      parts.push(`<rect x="${labelWidth}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowHeight - 8}" fill="${bar.highlight ? '#d6336c' : '#4c6ef5'}"/>`)
      parts.push(`<text x="${labelWidth + w + 6}" y="${y + 16}" font-size="12">${esc(bar.text)}</text>`)
      y += rowHeight
    }
    if (panel.target) {
      const x = labelWidth + (panel.target.value / max) * barArea
      parts.push(`<line x1="${x.toFixed(1)}" y1="${top}" x2="${x.toFixed(1)}" y2="${y}" stroke="#2b8a3e" stroke-dasharray="4 3" stroke-width="1.5"/>`)
      parts.push(`<text x="${x.toFixed(1)}" y="${y + 12}" font-size="11" fill="#2b8a3e" text-anchor="middle">${esc(panel.target.label)}</text>`)
      y += 14
    }
    y += 16
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y + 10}" viewBox="0 0 ${width} ${y + 10}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${parts.join('\n')}\n</svg>\n`
}
