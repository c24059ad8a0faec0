'use strict'
// Node's documented Expect: 100-continue pattern against mockseg: send the headers, write the
// body on 'continue'. Prints one JSON line per interim and final answer.
//   usage: node expect-continue.js URL WRITE_KEY group

const http = require('http')
const { GROUP, args, report } = require('./common')

const { url, writeKey } = args(['group'])
const body = JSON.stringify({ ...GROUP, messageId: 'node-expect-continue-1' })
const req = http.request(new URL('/v1/group', url), {
  method: 'POST',
  headers: {
    Authorization: 'Basic ' + Buffer.from(`${writeKey}:`).toString('base64'),
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
    Expect: '100-continue'
  }
})
req.on('information', (info) => report({ event: 'information', status: info.statusCode }))
req.on('continue', () => {
  report({ event: 'continue' })
  req.end(body)
})
req.on('response', (res) => {
  let text = ''
  res.setEncoding('utf8')
  res.on('data', (chunk) => { text += chunk })
  res.on('end', () => report({ event: 'response', status: res.statusCode, body: text }))
})
req.on('error', (err) => {
  report({ event: 'error', error: String(err.message || err) })
  process.exitCode = 1
})
