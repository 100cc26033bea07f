/** The request log: every call to TikTok's mapping/audience endpoints, with samples for Event Delivery. */
import type { Db } from '../db.js'
import { must } from '../../util/must.js'

export interface RequestRecord {
  destinationId: number | null
  partitionId: number | null
  kind: 'mapping' | 'create_audience'
  sentAt: number
  durationMs: number
  httpStatus: number | null
  code: number | null
  message: string | null
  tiktokRequestId: string | null
  rowCount: number
  outcome: 'delivered' | 'retry' | 'failed' | 'paused'
  requestSample: string
  response: string
}

export async function insertRequest(db: Db, r: RequestRecord): Promise<number> {
  const row = await db.get<{ id: number }>(
    `INSERT INTO requests (destination_id, partition_id, kind, sent_at, duration_ms, http_status, code, message,
       tiktok_request_id, row_count, outcome, request_sample, response)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
    [
      r.destinationId,
      r.partitionId,
      r.kind,
      r.sentAt,
      r.durationMs,
      r.httpStatus,
      r.code,
      r.message,
      r.tiktokRequestId,
      r.rowCount,
      r.outcome,
      r.requestSample,
      r.response
    ]
  )
  return must(row, 'the recorded request').id
}
