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
