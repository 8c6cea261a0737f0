import { test } from 'node:test'
import assert from 'node:assert/strict'
import { marshal, unmarshal, registerPortable, portable, toWireError, fromWireError } from '../../src/codec/index.ts'
import { UnsendableValueError, TimeoutError } from '../../src/errors.ts'

test('a function inside a value is refused with the path to it', () => {
  assert.throws(() => marshal([1, { callback: () => 1 }], 'args'), (err: UnsendableValueError) => {
    assert.ok(err instanceof UnsendableValueError)
    assert.equal(err.path, 'args[1].callback')
    assert.match(err.message, /args\[1\]\.callback is a function/)
    return true
  })
})

test('symbols and sockets-like class instances are refused with their path', () => {
  class Socketish { fd = 3 }
  assert.throws(() => marshal({ a: { s: Symbol('x') } }, 'msg'), /msg\.a\.s is a symbol/)
  assert.throws(() => marshal({ m: new Map([['k', new Socketish()]]) }, 'args'), /args\.m\.get\("k"\) is an instance of Socketish/)
})

test('plain data passes through untouched, without copying', () => {
  const v = { a: [1, 2, { b: 'c' }], d: new Map([[1, 2]]), e: Buffer.from('x'), f: new Date(0) }
  const m = marshal(v)
  assert.equal(m.value, v)
  assert.equal(m.portables, false)
})

test('portables are described on the way out and revived on the way in', () => {
  class Handle { constructor(readonly id: number) {} [portable]() { return { type: 'test-handle', data: this.id } } }
  registerPortable('test-handle', (id: number) => new Handle(id))
  const m = marshal({ list: [new Handle(7)] })
  assert.equal(m.portables, true)
  const back = unmarshal(structuredClone(m.value)) as { list: Handle[] }
  assert.ok(back.list[0] instanceof Handle)
  assert.equal(back.list[0]!.id, 7)
})

test('errors keep class name, message, own properties, stack and origin across the wire', () => {
  class CustomError extends Error { constructor(m: string, readonly detail = 5) { super(m); this.name = 'CustomError' } }
  const wire = structuredClone(toWireError(new CustomError('boom'), 'worker 1'))
  const back = fromWireError(wire) as Error & { detail: number; origin: string; remoteStack: string }
  assert.equal(back.name, 'CustomError')
  assert.equal(back.message, 'boom')
  assert.equal(back.detail, 5)
  assert.equal(back.origin, 'worker 1')
  assert.match(back.remoteStack, /CustomError: boom/)
  assert.match(back.stack!, /received from worker 1/)
  const t = fromWireError(toWireError(new TypeError('bad'), 'x'))
  assert.ok(t instanceof TypeError)
  const troupe = fromWireError(toWireError(new TimeoutError('late'), 'x'))
  assert.ok(troupe instanceof TimeoutError)
  assert.equal((troupe as TimeoutError).code, 'ERR_TROUPE_TIMEOUT')
})
