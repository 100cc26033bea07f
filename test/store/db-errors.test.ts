/** Which database failures count as "the database is unavailable" (503 / wait and retry) and which are faults of the work. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { asDatabaseError, DatabaseUnavailableError, isDatabaseUnavailable } from '../../src/store/errors.js'
import { postgresStartProblem } from '../../src/store/startup.js'

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code })

test('connection-class failures are DatabaseUnavailableError; query faults are not', () => {
  for (const code of ['57P01', '57P02', '57P03', '08006', '08001', '08P01', '53300', '57014', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE']) {
    assert.ok(isDatabaseUnavailable(withCode(code)), code)
  }
  for (const message of [
    'Connection terminated unexpectedly',
    'Connection terminated due to connection timeout',
    'timeout exceeded when trying to connect',
    'Query read timeout',
    'Client has encountered a connection error and is not queryable'
  ]) {
    assert.ok(isDatabaseUnavailable(new Error(message)), message)
  }
  // localhost: Node tries ::1 and 127.0.0.1 and reports both refusals together.
  assert.ok(isDatabaseUnavailable(new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')], '')))
  for (const code of ['23505', '42P01', '22P02', '40P01', '3D000']) assert.equal(isDatabaseUnavailable(withCode(code, 'bad query')), false, code)
  assert.equal(isDatabaseUnavailable('57P01'), false)

  const wrapped = asDatabaseError(withCode('57P01', 'terminating connection due to administrator command'))
  assert.ok(wrapped instanceof DatabaseUnavailableError)
  assert.equal(wrapped.code, '57P01')
  assert.match(wrapped.message, /administrator command/)
  const other = withCode('23505', 'duplicate key')
  assert.equal(asDatabaseError(other), other, 'other errors pass unchanged')
})

test('start-up problems name host, port and database, never the password', () => {
  const url = 'postgres://app:s3cret@db.internal:6543/audiences'
  assert.equal(
    postgresStartProblem(withCode('ECONNREFUSED'), url),
    'PostgreSQL database "audiences" at db.internal:6543: connection refused; is PostgreSQL running, on that port?'
  )
  assert.match(postgresStartProblem(withCode('3D000'), url)!, /createdb -h db\.internal -p 6543 -U app audiences/)
  assert.match(postgresStartProblem(withCode('28000'), url)!, /no role "app".*createuser -h db\.internal -p 6543 app/)
  assert.match(postgresStartProblem(withCode('28P01'), url)!, /password of "app" was refused/)
  assert.match(postgresStartProblem(new Error('timeout exceeded when trying to connect'), url)!, /no answer \(timeout exceeded/)
  assert.equal(postgresStartProblem(withCode('42601', 'syntax error'), url), undefined, 'a failed migration is not a start-up wait')
  for (const code of ['ECONNREFUSED', '3D000', '28000', '28P01']) assert.doesNotMatch(postgresStartProblem(withCode(code), url)!, /s3cret/)
})
