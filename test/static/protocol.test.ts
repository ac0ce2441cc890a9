/**
 * The page cannot import TypeScript, so static/js/protocol.js copies the names of the wire contract
 * (src/wire/login.ts). These tests load the page's module as it is served and hold it to the
 * contract: a status or close code renamed on one side only fails here, not in a visitor's browser.
 */
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { STATIC_ROOT } from '../../plugins/external/static.js'
import { statusMessage } from '../../src/login/status.js'
import { newScene, newBrowserSecret } from '../../src/login/tokens.js'
import type { LoginRecord } from '../../src/login/types.js'
import { CloseCode, LOGIN_STATUSES, StatusMessageSchema, SubscribeMessageSchema } from '../../src/wire/login.js'

interface PageProtocol {
  LOGIN_STATUSES: readonly string[]
  Status: Record<string, string>
  CloseCode: Record<string, number>
  isStatus (value: unknown): boolean
  readStatus (data: unknown): unknown
  subscribeMessage (login: { scene: string, secret: string }): unknown
}

const page = await import(pathToFileURL(join(STATIC_ROOT, 'js', 'protocol.js')).href) as PageProtocol
const statusSchema = TypeCompiler.Compile(StatusMessageSchema)
const subscribeSchema = TypeCompiler.Compile(SubscribeMessageSchema)

t.test('the page knows exactly the statuses of the contract, in its order', async (t) => {
  t.same(page.LOGIN_STATUSES, LOGIN_STATUSES)
  t.same(Object.entries(page.Status), LOGIN_STATUSES.map((status) => [status, status]), 'and names each by itself')
})

t.test('the page knows exactly the close codes of the contract, by the same names', async (t) => {
  t.same(page.CloseCode, CloseCode)
})

t.test('every status message the server sends is one the page accepts', async (t) => {
  const now = Date.now()
  const login = { scene: newScene(), secretHash: '', createdAt: now - 10_000 }
  const records: LoginRecord[] = [
    { ...login, status: 'pending', expiresAt: now + 60_000 },
    { ...login, status: 'scanned', expiresAt: now + 60_000, scannedAt: now },
    { ...login, status: 'confirmed', expiresAt: now + 60_000, code: 'one-time-code', codeExpiresAt: now + 30_000, confirmedAt: now },
    { ...login, status: 'confirmed', expiresAt: now + 60_000, code: 'one-time-code', codeExpiresAt: now - 1, confirmedAt: now - 60_000 },
    { ...login, status: 'denied', expiresAt: now - 1, scannedAt: now - 5000, deniedAt: now - 2000 },
    { ...login, status: 'pending', expiresAt: now - 1 }
  ]
  const messages = records.map((record) => statusMessage(record, now))
  t.same(messages.map((message) => message.status), ['pending', 'scanned', 'confirmed', 'confirmed', 'denied', 'expired'],
    'one of each, a confirmed whose code is gone, and a denial that outlived its QR')
  for (const message of messages) {
    t.ok(statusSchema.Check(message), `${JSON.stringify(message)} is a StatusMessage`)
    t.ok(page.isStatus(message), 'and the page takes it as one')
    t.same(page.readStatus(JSON.stringify(message)), message, 'from a socket frame too')
  }
})

t.test('what is not a status message the page ignores', async (t) => {
  const notStatuses: unknown[] = [
    { type: 'error', error: 'not_found' },
    { type: 'status', status: 'approved', expiresIn: 10 },
    { type: 'status', status: 'pending' },
    { type: 'status', status: 'confirmed', expiresIn: 10, code: 42 },
    { status: 'pending', expiresIn: 10 },
    null,
    'pending'
  ]
  for (const value of notStatuses) {
    t.notOk(statusSchema.Check(value), `${JSON.stringify(value)} is no StatusMessage`)
    t.notOk(page.isStatus(value), 'and the page does not take it for one')
    t.equal(page.readStatus(JSON.stringify(value)), null, 'from a socket frame neither')
  }
  t.equal(page.readStatus('{"type":"status",'), null, 'a broken frame is ignored, not thrown')
  t.equal(page.readStatus(new ArrayBuffer(8)), null, 'so is a binary one')
})

t.test("the page's subscribe message is the one the socket accepts", async (t) => {
  const message = page.subscribeMessage({ scene: newScene(), secret: newBrowserSecret() })
  t.ok(subscribeSchema.Check(message), 'type, scene and secret, shaped as the socket checks them')
})
