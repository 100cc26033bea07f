/** The one table markup of the console: column headers, one row per item, an optional empty state. */
import type { HTMLAttributes, Key, ReactNode } from 'react'

export interface Column<T> {
  /** Header text; also the column's React key unless `key` is given. */
  header: string
  /** Header read by screen readers only (action columns). */
  hideHeader?: boolean
  cell(row: T): ReactNode
  /** The cell is the row's header (`<th scope="row">`), named by it for screen readers. */
  rowHeader?: boolean
  /** On the body cells of the column. */
  className?: string
  /** Columns this row's cell spans (the following ones are then not rendered for the row). */
  span?(row: T): number
  key?: string
}

export interface DataTableProps<T> {
  columns: Column<T>[]
  rows: readonly T[]
  rowKey(row: T): Key
  /** Extra attributes of a row's `<tr>` (e.g. `data-*` for tests and styles). */
  rowProps?(row: T): HTMLAttributes<HTMLTableRowElement> & Record<`data-${string}`, string>
  caption?: ReactNode
  /** Show the caption; by default it names the table for screen readers only. */
  showCaption?: boolean
  /** Accessible name when there is no caption. */
  label?: string
  /** Without the scrolling `.table-wrap` frame (a table inside another element). */
  bare?: boolean
  /** Shown instead of the table when there are no rows (`null`: nothing); without it the table shows its headers. */
  empty?: ReactNode
}

export function DataTable<T>({ columns, rows, rowKey, rowProps, caption, showCaption, label, bare, empty }: DataTableProps<T>) {
  if (rows.length === 0 && empty !== undefined) return <>{empty}</>
  const table = (
    <table aria-label={label}>
      {caption !== undefined && <caption className={showCaption ? undefined : 'visually-hidden'}>{caption}</caption>}
      <thead>
        <tr>
          {columns.map((c) => (
            <th key={c.key ?? c.header} scope="col">
              {c.hideHeader ? <span className="visually-hidden">{c.header}</span> : c.header}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={rowKey(row)} {...rowProps?.(row)}>
            {cells(columns, row)}
          </tr>
        ))}
      </tbody>
    </table>
  )
  return bare ? table : <div className="table-wrap">{table}</div>
}

function cells<T>(columns: Column<T>[], row: T): ReactNode[] {
  const out: ReactNode[] = []
  for (let i = 0; i < columns.length;) {
    const c = columns[i]
    if (!c) break
    const span = Math.max(1, c.span?.(row) ?? 1)
    const key = c.key ?? c.header
    const props = { className: c.className, colSpan: span > 1 ? span : undefined }
    out.push(
      c.rowHeader ? (
        <th key={key} scope="row" {...props}>
          {c.cell(row)}
        </th>
      ) : (
        <td key={key} {...props}>
          {c.cell(row)}
        </td>
      )
    )
    i += span
  }
  return out
}
