// Every method the installed @commercelayer/sdk declares on the resources of issue 12, read
// from its .d.ts files (not a hand list), called once against a live server (test_sdk.py).
// Prints one JSON report: per call, the HTTP answers it got and whether a 2xx write changed
// anything (the resource itself, or an event recorded for it). test_sdk.py judges the report.
import { readFileSync, readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { CommerceLayer } from '@commercelayer/sdk/bundle'

const { BASE_URL, TOKEN, POOLS } = process.env
const pools = JSON.parse(POOLS)
export const RESOURCES = [
  'order_copies', 'orders', 'order_subscriptions', 'events', 'line_items', 'addresses',
  'customers', 'customer_payment_sources', 'markets', 'skus', 'payment_methods', 'coupons',
  'promotions', 'tags',
  // Added by issue 12 itself: the SDK's card payment source and the subscription's factories.
  'stripe_payments', 'order_factories',
]
const SKIPPED = new Set(['relationship', 'relationshipToMany', 'type', 'withAdapter'])

let answers = []
const cl = CommerceLayer({
  organization: 'acme',
  accessToken: TOKEN,
  fetch: async (url, init) => {
    const response = await fetch(String(url).replace('https://acme.commercelayer.io', BASE_URL), init)
    answers.push({ status: response.status, type: response.headers.get('content-type') })
    return response
  },
})

// The SDK's declarations: class name → methods (name, kind, trigger value type).
function declarations () {
  const require = createRequire(import.meta.url)
  const lib = path.dirname(require.resolve('@commercelayer/sdk'))
  const text = readdirSync(lib)
    .filter((name) => name.endsWith('.d.ts'))
    .map((name) => readFileSync(path.join(lib, name), 'utf8'))
    .join('\n')
  const classes = {}
  const pattern = /^declare class (\w+) extends (ApiResource|ApiSingleton)<\w+> \{\n([\s\S]*?)^\}/gm
  for (const [, name, base, body] of text.matchAll(pattern)) {
    const type = body.match(/static readonly TYPE: (\w+);/)?.[1]
    const literal = type && text.match(new RegExp(`^type ${type} = '(\\w+)';`, 'm'))?.[1]
    const methods = base === 'ApiResource' ? [{ name: 'retrieve' }, { name: 'list' }, { name: 'count' }] : []
    for (const [, method, params] of body.matchAll(/^ {4}(\w+)\((.*)\): Promise<.*>;$/gm)) {
      if (SKIPPED.has(method) || method.startsWith('is')) continue
      methods.push({ name: method, value: params.match(/triggerValue: (\w+)/)?.[1] })
    }
    if (literal) classes[literal] = methods
  }
  return classes
}

const rel = (type, id) => ({ type, id })
const take = (type) => {
  const pool = pools[type] ?? []
  return pool.length ? pool.shift() : 'NoSuchId00'
}
const CREATE = {
  order_copies: () => ({ source_order: rel('orders', pools.placed_orders[0]) }),
  orders: () => ({ customer_email: 'enumerated@example.com', market: rel('markets', pools.markets[0]) }),
  order_subscriptions: () => ({ frequency: 'monthly', source_order: rel('orders', pools.placed_orders[0]) }),
  line_items: () => ({ quantity: 1, order: rel('orders', take('orders')), item: rel('skus', pools.skus[0]) }),
  addresses: () => ({ line_1: 'Via Roma 1', city: 'Roma', country_code: 'IT', first_name: 'Ada' }),
  customers: () => ({ email: `enumerated-${Date.now()}@example.com` }),
  customer_payment_sources: () => ({
    customer: rel('customers', pools.customers[0]),
    payment_source: rel('stripe_payments', pools.payment_sources[0]),
  }),
  tags: () => ({ name: 'enumerated' }),
  stripe_payments: () => ({ stripe_id: 'pi_enumerated', order: rel('orders', take('orders')) }),
}
const TRIGGER_VALUES = {
  _billing_address_clone_id: () => pools.addresses[0],
  _shipping_address_clone_id: () => pools.addresses[0],
  _customer_payment_source_id: () => pools.customer_payment_sources[0],
}

async function raw (url) {
  const response = await fetch(`${BASE_URL}${url}`, {
    headers: { Authorization: `Bearer ${TOKEN}`, Accept: 'application/vnd.api+json' },
  })
  return response.status === 200 ? response.json() : null
}

// What a write may have changed: the resource as read, and the events recorded for it.
async function state (type, id) {
  const resource = (await raw(`/api/${type}/${id}`))?.data ?? null
  const events = await raw(`/api/events?filter[q][resource_id_eq]=${id}&page[size]=1`)
  if (resource) delete resource.meta.trace_id // the request's, not the resource's
  return JSON.stringify([resource, events?.meta?.record_count ?? null])
}

async function call (type, method) {
  const api = cl[type]
  const readId = (pools[`read_${type}`] ?? [])[0] ?? 'NoSuchId00'
  const write = method.name === 'update' || method.name === 'delete' || method.name.startsWith('_')
  const id = write ? take(type) : readId
  const args = {
    retrieve: () => [id],
    list: () => [],
    count: () => [],
    create: () => [(CREATE[type] ?? (() => ({})))()],
    update: () => [{ id, reference: `enumerated-${method.name}` }],
    delete: () => [id],
  }[method.name]?.() ?? (method.name.startsWith('_')
    ? [id, ...(method.value ? [(TRIGGER_VALUES[method.name] ?? (() => method.value === 'number' ? 100 : 'x'))()] : [])]
    : [id])
  const before = write ? await state(type, id) : null
  answers = []
  let error = null
  let result = null
  try {
    result = await api[method.name](...args)
  } catch (exc) {
    error = { name: exc.constructor?.name, message: String(exc.message).slice(0, 300), codes: exc.errors?.map((e) => e.code) }
  }
  const entry = { resource: type, method: method.name, answers, error }
  const ok = answers.length > 0 && answers.every((a) => a.status < 300)
  if (ok && write) {
    entry.changed = method.name === 'delete'
      ? (await raw(`/api/${type}/${id}`)) === null
      : before !== (await state(type, id))
  }
  if (ok && method.name === 'create') entry.changed = result?.id ? (await raw(`/api/${type}/${result.id}`)) !== null : false
  return entry
}

const classes = declarations()
const report = []
for (const type of RESOURCES) {
  if (!classes[type]) {
    report.push({ resource: type, method: null, error: { message: 'not declared by the installed SDK' } })
    continue
  }
  for (const method of classes[type]) report.push(await call(type, method))
}
console.log(JSON.stringify(report))
