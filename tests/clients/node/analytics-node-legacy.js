'use strict'
// Drives the legacy analytics-node (6.x) against mockseg.
//   send           identify, group and track (flushAt 1), waiting for each callback
//   invalid        one invalid group call with a callback, no errorHandler
//   errorhandler   one invalid group call with the errorHandler option

const Analytics = require('analytics-node')
const { GROUP, INVALID_GROUP, args, describe, outcome, report } = require('./common')

async function main () {
  const { url, writeKey, scenario } = args(['send', 'invalid', 'errorhandler'])
  const options = { host: url, flushAt: 1 }
  if (scenario === 'errorhandler') {
    options.errorHandler = (err) => report({ event: 'errorHandler', error: describe(err) })
  }
  const analytics = new Analytics(writeKey, options)
  const calls = []
  if (scenario === 'send') {
    const identify = outcome('identify')
    const group = outcome('group')
    const track = outcome('track')
    analytics.identify({ userId: 'user123', traits: { email: 'jane@acme.example' }, messageId: 'node-legacy-identify-1' }, identify.callback)
    analytics.group({ ...GROUP, messageId: 'node-legacy-group-1' }, group.callback)
    analytics.track({ userId: 'user123', event: 'Order Completed', properties: { revenue: 99.5 }, messageId: 'node-legacy-track-1' }, track.callback)
    calls.push(identify.done, group.done, track.done)
  } else {
    const group = outcome('group')
    analytics.group({ ...INVALID_GROUP, messageId: `node-legacy-${scenario}-1` }, group.callback)
    calls.push(group.done)
  }
  await Promise.all(calls)
  await analytics.flush()
  report({ event: 'closed' })
}

main()
