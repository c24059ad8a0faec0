// The test page's script: the real @segment/analytics-next, configured from the query string.
//
//   ?writeKey=KEY&cdnURL=URL             where the settings come from (nothing else is configured)
//   &strategy=standard|batching          the Segment.io destination's delivery strategy
//   &size=N&timeout=MS                   the batching strategy's config
//   &message={"userId","groupId","traits"}  what identify, group and track send
//
// It identifies the user, sends the group call, then a track call, and sets
// window.mockseg.summary: each call's delivery and the SDK's error events. With no writeKey the
// page does nothing: a blank page of this origin.
import { AnalyticsBrowser } from '@segment/analytics-next'

const query = new URLSearchParams(window.location.search)

function deliveryStrategy() {
  if (query.get('strategy') !== 'batching') {
    return { strategy: 'standard', config: {} }
  }
  return {
    strategy: 'batching',
    config: {
      size: Number(query.get('size') || 10),
      timeout: Number(query.get('timeout') || 5000),
    },
  }
}

function delivery(ctx) {
  const failed = ctx.failedDelivery()
  return {
    type: ctx.event.type,
    messageId: ctx.event.messageId,
    failed: failed ? String(failed.reason) : null,
  }
}

async function run() {
  const message = JSON.parse(query.get('message') || '{}')
  const errors = []
  const [analytics] = await AnalyticsBrowser.load(
    { writeKey: query.get('writeKey'), cdnURL: query.get('cdnURL') },
    {
      integrations: { 'Segment.io': { deliveryStrategy: deliveryStrategy() } },
      // Nothing kept between page loads: each test starts with an empty queue.
      disableClientPersistence: true,
    }
  )
  analytics.on('error', (error) => {
    errors.push({ code: error.code, reason: String(error.reason) })
  })
  const calls = [
    await analytics.identify(message.userId, { email: 'user@example.com' }),
    await analytics.group(message.groupId, message.traits),
    await analytics.track('Report Viewed', { report: 'usage' }),
  ]
  const segmentio = analytics.queue.plugins.find((plugin) => plugin.name === 'Segment.io')
  return {
    version: analytics.VERSION,
    apiHost: segmentio ? segmentio.metadata.apiHost : null,
    protocol: segmentio ? segmentio.metadata.protocol : null,
    calls: calls.map(delivery),
    errors,
  }
}

if (query.has('writeKey')) {
  window.mockseg = {}
  run()
    .catch((error) => ({ failed: String((error && error.stack) || error) }))
    .then((summary) => {
      document.getElementById('state').textContent = summary.failed ? 'failed' : 'sent'
      window.mockseg.summary = summary
    })
} else {
  document.getElementById('state').textContent = 'blank'
}
