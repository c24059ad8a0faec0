'use strict'
// Drives @segment/analytics-node (3.x) against mockseg.
//   send      identify, group and track, then closeAndFlush()
//   invalid   one invalid group call, with an 'error' listener and a callback
//   silent    one invalid group call, with neither

const { Analytics } = require('@segment/analytics-node')
const { GROUP, INVALID_GROUP, args, describe, outcome, report } = require('./common')

async function main () {
  const { url, writeKey, scenario } = args(['send', 'invalid', 'silent'])
  const analytics = new Analytics({ writeKey, host: url, path: '/v1/batch', flushAt: 3, maxRetries: 3 })
  analytics.on('http_response', (res) => report({ event: 'http_response', status: res.status, url: res.url }))
  if (scenario !== 'silent') {
    analytics.on('error', (err) =>
      report({ event: 'error', code: err.code, reason: describe(err.reason) }))
  }
  const calls = []
  if (scenario === 'send') {
    const identify = outcome('identify')
    const group = outcome('group')
    const track = outcome('track')
    analytics.identify({ userId: 'user123', traits: { email: 'jane@acme.example' }, messageId: 'node-next-identify-1' }, identify.callback)
    analytics.group({ ...GROUP, messageId: 'node-next-group-1' }, group.callback)
    analytics.track({ userId: 'user123', event: 'Order Completed', properties: { revenue: 99.5 }, messageId: 'node-next-track-1' }, track.callback)
    calls.push(identify.done, group.done, track.done)
  } else if (scenario === 'invalid') {
    const group = outcome('group')
    analytics.group({ ...INVALID_GROUP, messageId: 'node-next-invalid-1' }, group.callback)
    calls.push(group.done)
  } else {
    analytics.group({ ...INVALID_GROUP, messageId: 'node-next-silent-1' })
  }
  await analytics.closeAndFlush({ timeout: 20000 })
  await Promise.all(calls)
  report({ event: 'closed' })
}

main()
