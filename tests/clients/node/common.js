'use strict'
// Shared by the SDK drivers: the command line, the messages, and one JSON line per outcome.

const TRAITS = {
  name: 'ACME Corp',
  industry: 'Technology',
  employees: 500,
  plan: 'enterprise',
  address: { street: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' }
}

/** A valid group call, in the shape every SDK here accepts. */
const GROUP = { userId: 'user123', groupId: 'company_acme', traits: TRAITS }

/** A group call that strict mode answers with 400: its groupId has a space. */
const INVALID_GROUP = { userId: 'user123', groupId: 'company acme', traits: TRAITS }

/** URL, write key and scenario from the command line, or exit 2 with the usage. */
function args (scenarios) {
  const [url, writeKey, scenario] = process.argv.slice(2)
  if (!url || !writeKey || !scenarios.includes(scenario)) {
    console.error(`usage: node ${process.argv[1]} URL WRITE_KEY ${scenarios.join('|')}`)
    process.exit(2)
  }
  return { url, writeKey, scenario }
}

/** Print one outcome as a JSON line on stdout. */
function report (outcome) {
  console.log(JSON.stringify(outcome))
}

/** A string for an error or a rejection reason. */
function describe (err) {
  return err === undefined || err === null ? null : String(err && err.message ? err.message : err)
}

/** Node-style callback that resolves a promise and reports what the SDK passed to it. */
function outcome (what) {
  let callback
  const done = new Promise((resolve) => {
    callback = (err) => {
      report({ event: 'callback', call: what, error: describe(err) })
      resolve()
    }
  })
  return { callback, done }
}

// Make a crash visible as a JSON line too, then let Node do what it does by default.
process.on('exit', (code) => report({ event: 'exit', code }))

module.exports = { GROUP, INVALID_GROUP, TRAITS, args, describe, outcome, report }
