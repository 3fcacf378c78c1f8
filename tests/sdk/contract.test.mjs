// Commerce Layer's official SDK against our API (a live server started by test_sdk.py).
// Inputs come from the environment: BASE_URL, TOKEN, SOURCE_ORDER_ID, PENDING_ORDER_ID,
// PLACEABLE_ORDER_ID.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CommerceLayerStatic } from '@commercelayer/sdk'
import { CommerceLayer } from '@commercelayer/sdk/bundle'

const { BASE_URL, TOKEN, SOURCE_ORDER_ID, PENDING_ORDER_ID, PLACEABLE_ORDER_ID } = process.env
const cl = CommerceLayer({
  organization: 'acme',
  accessToken: TOKEN,
  fetch: (url, init) => fetch(String(url).replace('https://acme.commercelayer.io', BASE_URL), init),
})

let created

test('create an order copy with an included source order', async () => {
  created = await cl.order_copies.create(
    {
      place_target_order: true,
      reference: 'sdk-1',
      metadata: { batch: 7, channel: 'sdk' },
      source_order: cl.orders.relationship(SOURCE_ORDER_ID),
    },
    { include: ['source_order'] },
  )
  assert.equal(created.type, 'order_copies')
  assert.equal(created.status, 'pending')
  assert.equal(created.place_target_order, true)
  assert.equal(created.reuse_wallet, true)
  assert.equal(created.source_order.id, SOURCE_ORDER_ID)
  assert.equal(created.source_order.status, 'placed')
  assert.equal(created.target_order, null)
})

test('retrieve it', async () => {
  const copy = await cl.order_copies.retrieve(created.id)
  assert.equal(copy.id, created.id)
  assert.deepEqual(copy.metadata, { batch: 7, channel: 'sdk' })
})

test('list with filters, sort, include, fields and page size', async () => {
  const other = await cl.order_copies.create({
    metadata: { batch: 8 },
    source_order: cl.orders.relationship(SOURCE_ORDER_ID),
  })
  const list = await cl.order_copies.list({
    filters: { status_in: 'pending,failed', metadata_jcont: { batch: 7 } },
    sort: { created_at: 'desc' },
    include: ['source_order'],
    fields: { order_copies: ['status', 'metadata', 'source_order'], orders: ['number', 'status'] },
    pageSize: 5,
  })
  assert.equal(list.length, 1)
  assert.equal(list[0].id, created.id)
  assert.equal(list[0].source_order.id, SOURCE_ORDER_ID)
  assert.equal(list[0].reference, undefined, 'sparse fieldset leaves reference out')
  assert.equal(list.meta.recordCount, 1)
  assert.equal(list.meta.pageCount, 1)
  const all = await cl.order_copies.list({ sort: { created_at: 'asc' }, pageSize: 1, pageNumber: 2 })
  assert.equal(all.length, 1)
  assert.equal(all[0].id, other.id)
  assert.equal(all.meta.recordCount, 2)
  assert.equal(all.meta.pageCount, 2)
})

test('count', async () => {
  assert.equal(await cl.order_copies.count(), 2)
  assert.equal(await cl.order_copies.count({ filters: { reference_eq: 'sdk-1' } }), 1)
})

test('update reference and metadata', async () => {
  const updated = await cl.order_copies.update({
    id: created.id,
    reference: 'sdk-2',
    metadata: { batch: 9 },
  })
  assert.equal(updated.reference, 'sdk-2')
  assert.deepEqual(updated.metadata, { batch: 9 })
})

test('related endpoints of an order copy', async () => {
  const source = await cl.order_copies.source_order(created.id)
  assert.equal(source.id, SOURCE_ORDER_ID)
  assert.equal(source.type, 'orders')
  const target = await cl.order_copies.target_order(created.id)
  assert.equal(target, null)
  const events = await cl.order_copies.events(created.id)
  assert.deepEqual(Array.from(events, (e) => e.name), ['order_copies.create', 'order_copies.update'])
  assert.equal(events.meta.recordCount, 2)
  const copies = await cl.orders.order_copies(SOURCE_ORDER_ID)
  assert.equal(copies.length, 2)
})

test('orders: list, retrieve with includes, triggers', async () => {
  const orders = await cl.orders.list({ filters: { status_eq: 'pending' } })
  assert.ok(orders.some((o) => o.id === PENDING_ORDER_ID))
  const order = await cl.orders.retrieve(PENDING_ORDER_ID, { include: ['line_items', 'market'] })
  assert.equal(order.status, 'pending')
  assert.ok(order.line_items.length > 0)
  assert.equal(order.market.type, 'markets')
  const placed = await cl.orders._place(PENDING_ORDER_ID)
  assert.equal(placed.status, 'placed')
  assert.equal(placed.payment_status, 'authorized')
  const approved = await cl.orders._approve(PENDING_ORDER_ID)
  assert.equal(approved.status, 'approved')
  const cancelled = await cl.orders._cancel(PENDING_ORDER_ID)
  assert.equal(cancelled.status, 'cancelled')
  const archived = await cl.orders._archive(PENDING_ORDER_ID)
  assert.ok(archived.archived_at)
})

test('a refused trigger surfaces as ApiError 422 with the reason', async () => {
  await assert.rejects(cl.orders._place(PENDING_ORDER_ID), (error) => {
    assert.ok(CommerceLayerStatic.isApiError(error))
    assert.equal(error.status, 422)
    assert.equal(error.errors[0].code, 'ORDER_NOT_PLACEABLE')
    assert.match(error.errors[0].detail, /cannot transition from cancelled to placed/)
    return true
  })
})

test('an unknown id surfaces as ApiError 404 RECORD_NOT_FOUND', async () => {
  await assert.rejects(cl.order_copies.retrieve('doesNotExi'), (error) => {
    assert.ok(CommerceLayerStatic.isApiError(error))
    assert.equal(error.status, 404)
    assert.equal(error.errors[0].code, 'RECORD_NOT_FOUND')
    return true
  })
})

test('delete an order copy', async () => {
  await cl.order_copies.delete(created.id)
  await assert.rejects(cl.order_copies.retrieve(created.id), (error) => error.status === 404)
  assert.equal(await cl.order_copies.count(), 1)
})

test('order subscriptions: create, read, triggers, related endpoints', async () => {
  const created = await cl.order_subscriptions.create(
    { frequency: 'monthly', source_order: cl.orders.relationship(SOURCE_ORDER_ID) },
    { include: ['source_order', 'market'] },
  )
  assert.equal(created.type, 'order_subscriptions')
  assert.equal(created.status, 'active', 'a placed source order activates it')
  assert.equal(created.frequency, 'monthly')
  assert.equal(created.place_target_order, true)
  assert.equal(created.source_order.id, SOURCE_ORDER_ID)
  assert.ok(created.next_run_at)
  const listed = await cl.order_subscriptions.list({ filters: { frequency_eq: 'monthly', status_in: 'active' } })
  assert.equal(listed.meta.recordCount, 1)
  const inactive = await cl.order_subscriptions._deactivate(created.id)
  assert.equal(inactive.status, 'inactive')
  const active = await cl.order_subscriptions._activate(created.id)
  assert.equal(active.status, 'active')
  const running = await cl.order_subscriptions.update({ id: created.id, _run: true })
  assert.equal(running.status, 'running')
  const copies = await cl.order_subscriptions.order_factories(created.id)
  assert.equal(copies.length, 1)
  assert.equal(copies[0].type, 'order_factories')
  assert.equal(copies[0].place_target_order, true)
  const owner = await cl.order_copies.order_subscription(copies[0].id)
  assert.equal(owner.id, created.id)
  const subs = await cl.orders.order_subscriptions(SOURCE_ORDER_ID)
  assert.deepEqual(Array.from(subs, (s) => s.id), [created.id])
  await assert.rejects(cl.order_subscriptions._deactivate(created.id), (error) => {
    assert.equal(error.status, 422)
    assert.equal(error.errors[0].code, 'SUBSCRIPTION_TRANSITION_REFUSED')
    return true
  })
  const cancelled = await cl.order_subscriptions._cancel(created.id)
  assert.equal(cancelled.status, 'cancelled')
})

test('an Idempotency-Key sent through the SDK options: a retried create makes one copy', async () => {
  const replays = []
  const recording = CommerceLayer({
    organization: 'acme',
    accessToken: TOKEN,
    fetch: async (url, init) => {
      const response = await fetch(String(url).replace('https://acme.commercelayer.io', BASE_URL), init)
      replays.push(response.headers.get('idempotent-replayed'))
      return response
    },
  })
  const before = await recording.order_copies.count()
  const key = `sdk-retry-${Date.now()}`
  const attributes = { reference: 'sdk-idempotent', source_order: cl.orders.relationship(SOURCE_ORDER_ID) }
  const options = { headers: { 'Idempotency-Key': key } }
  const first = await recording.order_copies.create(attributes, {}, options)
  const again = await recording.order_copies.create(attributes, {}, options)
  assert.equal(again.id, first.id)
  assert.deepEqual(replays.slice(-2), [null, 'true'])
  assert.equal(await recording.order_copies.count(), before + 1)
  await assert.rejects(
    recording.order_copies.create({ ...attributes, reference: 'another body' }, {}, options),
    (error) => {
      assert.equal(error.status, 422)
      assert.equal(error.errors[0].code, 'IDEMPOTENCY_KEY_REUSED')
      return true
    },
  )
})

test('filters: _or_, _any arrays, _or_null, relationship paths, sort on a relationship', async () => {
  const source = await cl.orders.retrieve(SOURCE_ORDER_ID, { include: ['market'] })
  const byMarket = await cl.orders.list({
    filters: { market_code_eq: source.market.code, status_in: ['placed', 'approved', 'cancelled'] },
  })
  assert.ok(byMarket.some((o) => o.id === SOURCE_ORDER_ID))
  const either = await cl.orders.list({ filters: { number_or_reference_eq: source.number } })
  assert.deepEqual(Array.from(either, (o) => o.id), [SOURCE_ORDER_ID])
  const anyNumber = await cl.orders.list({ filters: { number_start_any: [source.number, 'zz'] } })
  assert.ok(anyNumber.some((o) => o.id === SOURCE_ORDER_ID))
  const copies = await cl.order_copies.list({
    filters: { source_order_market_code_eq: source.market.code, target_order_number_eq_or_null: 'none' },
    sort: { 'source_order.number': 'desc' },
  })
  assert.ok(copies.length > 0)
  assert.ok(copies.every((c) => c.type === 'order_copies'))
  await assert.rejects(cl.orders.list({ filters: { market_nope_eq: 'x' } }), (error) => {
    assert.equal(error.status, 400)
    assert.equal(error.errors[0].code, 'FILTER_NOT_ALLOWED')
    return true
  })
})

test('tags: create, list, tag and untag an order, filter by tag names, rename, delete', async () => {
  const vip = await cl.tags.create({ name: 'VIP' })
  assert.equal(vip.type, 'tags')
  assert.equal(vip.name, 'vip', 'names are stored in lower case')
  const gift = await cl.tags.create({ name: 'gift' })
  const listed = await cl.tags.list({ filters: { name_in: ['vip', 'gift'] }, sort: { name: 'asc' } })
  assert.deepEqual(Array.from(listed, (t) => t.name), ['gift', 'vip'])
  assert.equal((await cl.tags.retrieve(vip.id)).name, 'vip')

  const tagged = await cl.orders._add_tags(SOURCE_ORDER_ID, 'vip,gift')
  assert.equal(tagged.id, SOURCE_ORDER_ID)
  assert.deepEqual(Array.from(await cl.orders.tags(SOURCE_ORDER_ID), (t) => t.name), ['gift', 'vip'])
  const found = await cl.orders.list({ filters: { tags_name_in: ['vip'] } })
  assert.deepEqual(Array.from(found, (o) => o.id), [SOURCE_ORDER_ID])
  await cl.orders._remove_tags(SOURCE_ORDER_ID, 'vip')
  assert.deepEqual(Array.from(await cl.orders.tags(SOURCE_ORDER_ID), (t) => t.name), ['gift'])
  await cl.orders.update({ id: SOURCE_ORDER_ID, tags: [cl.tags.relationship(vip.id)] })
  assert.deepEqual(Array.from(await cl.orders.tags(SOURCE_ORDER_ID), (t) => t.name), ['vip'])

  const subscription = (await cl.order_subscriptions.list())[0]
  await cl.order_subscriptions._add_tags(subscription.id, 'gift')
  assert.deepEqual(Array.from(await cl.order_subscriptions.tags(subscription.id), (t) => t.name), ['gift'])
  const line = (await cl.orders.line_items(SOURCE_ORDER_ID))[0]
  await cl.line_items._add_tags(line.id, 'vip')
  assert.deepEqual(Array.from(await cl.line_items.tags(line.id), (t) => t.name), ['vip'])
  const order = await cl.orders.retrieve(SOURCE_ORDER_ID, { include: ['customer'] })
  assert.equal((await cl.customers.tags(order.customer.id)).length, 0)

  await assert.rejects(cl.orders._add_tags(SOURCE_ORDER_ID, 'nope'), (error) => {
    assert.equal(error.status, 422)
    assert.equal(error.errors[0].code, 'VALIDATION_ERROR')
    assert.match(error.errors[0].detail, /no tag named nope/)
    return true
  })
  const renamed = await cl.tags.update({ id: vip.id, name: 'vip-2' })
  assert.equal(renamed.name, 'vip-2')
  await cl.tags.delete(gift.id)
  assert.equal(await cl.tags.count(), 1)
  assert.deepEqual(Array.from(await cl.order_subscriptions.tags(subscription.id)), [])
})

test('webhooks: create, list, retrieve, update, triggers, callbacks, delete', async () => {
  const { WEBHOOK_ID, EVENT_ID } = process.env
  const webhook = await cl.webhooks.create({
    name: 'sdk',
    topic: 'order_copies.complete',
    callback_url: 'https://hooks.example.invalid/copies',
    include_resources: ['target_order'],
  })
  assert.equal(webhook.type, 'webhooks')
  assert.equal(webhook.circuit_state, 'closed')
  assert.equal(webhook.circuit_failure_count, 0)
  assert.deepEqual(webhook.include_resources, ['target_order'])
  assert.equal(webhook.shared_secret.length, 64)
  const listed = await cl.webhooks.list({ filters: { topic_eq: 'order_copies.complete' } })
  assert.deepEqual(Array.from(listed, (w) => w.id), [webhook.id])
  assert.equal((await cl.webhooks.retrieve(webhook.id)).name, 'sdk')
  const renamed = await cl.webhooks.update({ id: webhook.id, name: 'sdk-2', topic: 'order_copies.fail' })
  assert.equal(renamed.topic, 'order_copies.fail')
  assert.ok((await cl.webhooks._disable(webhook.id)).disabled_at)
  assert.equal((await cl.webhooks._enable(webhook.id)).disabled_at, null)
  assert.equal((await cl.webhooks._reset_circuit(webhook.id)).circuit_state, 'closed')
  await assert.rejects(cl.webhooks.create({ topic: 'nope', callback_url: 'https://x.invalid/' }), (error) => {
    assert.equal(error.status, 422)
    assert.equal(error.errors[0].source.pointer, '/data/attributes/topic')
    return true
  })
  await cl.webhooks.delete(webhook.id)
  await assert.rejects(cl.webhooks.retrieve(webhook.id), (error) => error.status === 404)

  const [callback] = await cl.webhooks.last_event_callbacks(WEBHOOK_ID)
  assert.equal(callback.type, 'event_callbacks')
  assert.equal(callback.callback_url, 'https://receiver.invalid/hooks')
  assert.equal(callback.response_code, '')
  assert.match(callback.response_message, /does not resolve/)
  assert.equal(callback.payload.data.type, 'orders')
  const callbacks = await cl.event_callbacks.list({ include: ['webhook'] })
  assert.equal(callbacks[0].webhook.id, WEBHOOK_ID)
  assert.equal((await cl.event_callbacks.retrieve(callback.id)).id, callback.id)
  assert.equal((await cl.event_callbacks.webhook(callback.id)).id, WEBHOOK_ID)

  const hooks = await cl.events.webhooks(EVENT_ID)
  assert.deepEqual(Array.from(hooks, (w) => w.id), [WEBHOOK_ID])
  const fired = await cl.events._trigger(EVENT_ID)
  assert.equal(fired.name, 'orders.place')
  const byEvent = await cl.events.last_event_callbacks(EVENT_ID)
  assert.equal(byEvent[0].id, callback.id)
  const webhookFailures = (await cl.webhooks.retrieve(WEBHOOK_ID)).circuit_failure_count
  assert.equal(webhookFailures, 1)
})

test('typed calls pay an order with a stripe payment, add a line by item and place it', async () => {
  const payment = await cl.stripe_payments.create({
    stripe_id: 'pi_sdk',
    order: cl.orders.relationship(PLACEABLE_ORDER_ID),
  })
  assert.equal(payment.type, 'stripe_payments')
  const order = await cl.orders.update(
    { id: PLACEABLE_ORDER_ID, payment_source: cl.stripe_payments.relationship(payment.id) },
    { include: ['line_items'] },
  )
  const sku = order.line_items.find((line) => line.item_type === 'skus').sku_code
  const [item] = await cl.skus.list({ filters: { code_eq: sku } })
  const line = await cl.line_items.create({
    quantity: 1,
    order: cl.orders.relationship(PLACEABLE_ORDER_ID),
    item: cl.skus.relationship(item.id),
  })
  assert.equal(line.quantity, 2) // merged with the order's line of that SKU
  await cl.orders._refresh(PLACEABLE_ORDER_ID)
  const placed = await cl.orders._place(PLACEABLE_ORDER_ID)
  assert.equal(placed.status, 'placed')
})

test('an unsupported trigger is an ApiError 400 naming it, not a silent success', async () => {
  await assert.rejects(cl.orders._capture(PLACEABLE_ORDER_ID), (error) => {
    assert.equal(error.status, 400)
    assert.equal(error.errors[0].code, 'TRIGGER_NOT_SUPPORTED')
    assert.match(error.errors[0].detail, /_capture/)
    return true
  })
})
