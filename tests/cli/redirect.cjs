// Preloaded into Commerce Layer's CLI by test_cli.py (NODE_OPTIONS=--require). The CLI builds
// https://<slug>.<domain>/api/... and https://auth.<domain>/oauth/token with no way to choose
// the scheme; this sends those requests, unchanged otherwise, to the live test server
// (CL_TEST_SERVER) for the test domain (CL_TEST_DOMAIN) only.
const target = process.env.CL_TEST_SERVER
const domain = (process.env.CL_TEST_DOMAIN || '').replace(/\./g, '\\.')
const pattern = new RegExp(`^https://[a-z0-9-]+\\.${domain}(?=/)`)
const original = globalThis.fetch
globalThis.fetch = (input, init) => {
  if (typeof input === 'string' || input instanceof URL) {
    return original(String(input).replace(pattern, target), init)
  }
  return original(new Request(input.url.replace(pattern, target), input), init)
}
