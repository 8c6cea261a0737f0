import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { existsSync, readFileSync } from 'node:fs'
import {
  decodePickle, decodePickleWithProtocol, encodePickle, tuple, isTuple, Tuple, float, PyFloat, FrozenSet, ByteArray,
  PyObject, PyGlobal, pyException, pyToken, readToken, isPyException, marshal, unmarshal, encodeV8, decodeV8,
} from '../../src/codec/index.ts'
import { DecodeError, ForbiddenGlobalError, UnsendableValueError, Empty } from '../../src/errors.ts'
import { runPython, PY_DIR, type PyLabel } from '../interop/python.ts'

const script = join(PY_DIR, 'pickle_roundtrip.py')
const py = (label: PyLabel, code: string, input?: Uint8Array) => runPython(label, ['-c', code], input)

const cases: [PyLabel, number[], 2 | 4 | 5][] = [
  ['2.7', [2], 2],
  ['3.11', [2, 3, 4, 5], 4],
  ['3.12', [4, 5], 4],
  ['3.13', [4, 5], 5],
]
for (const [label, protocols, back] of cases) {
  test(`values pickled by Python ${label} decode and go back with the same Python types (protocols ${protocols.join(', ')})`, () => {
    for (const p of protocols) {
      const decoded = decodePickleWithProtocol(runPython(label, [script, 'dump', String(p)]))
      assert.equal(decoded.protocol, p)
      // Python 3 only reads its bytes back as bytes from protocol 3+; protocol 2 is the Python 2 dialect.
      const out = encodePickle(decoded.value, { protocol: label === '2.7' ? 2 : back })
      assert.equal(runPython(label, [script, 'check'], out).toString().trim(), 'ok', `protocol ${p}`)
    }
  })
}

test('the must-show tuple decodes to the documented JS types', () => {
  const v = decodePickle(py('3.11', "import pickle,sys; sys.stdout.buffer.write(pickle.dumps((1, 'a', None, 2.5, b'x', [1, 2], {'k': True}, 2**70, -1, {1, 2}, 'é☃😀', 2.0)))")) as Tuple
  assert.ok(isTuple(v))
  assert.deepEqual([...v.slice(0, 4)], [1, 'a', null, 2.5])
  assert.ok(Buffer.isBuffer(v[4]) && v[4].toString() === 'x')
  assert.deepEqual(v[5], [1, 2])
  assert.ok(!isTuple(v[5]))
  assert.deepEqual(v[6], new Map([['k', true]]))
  assert.equal(v[7], 2n ** 70n)
  assert.equal(v[8], -1)
  assert.deepEqual(v[9], new Set([1, 2]))
  assert.equal(v[10], 'é☃😀')
  assert.ok(v[11] instanceof PyFloat && v[11].value === 2)
})

for (const label of ['2.7', '3.11', '3.13'] as PyLabel[]) {
  test(`JS values encode to the Python types documented (Python ${label})`, () => {
    const value = {
      str: 'hello', int: 7, big: 2n ** 70n, neg: -(2n ** 64n), float: 1.5, float_integral: float(2),
      tuple: tuple(1, 'a'), list: [1, [2]], dict: new Map<unknown, unknown>([[1, 'one'], ['k', null]]), set: new Set([1, 2]),
      frozenset: new FrozenSet(['x']), bytes: Buffer.from([0, 1]), none: null, bool: tuple(true, false),
      nested_obj: { a: { b: [1, 2.5] } }, bytearray: ByteArray.fromBytes(Buffer.from('ab')), emoji: 'é☃😀',
      error: new TypeError('nope'),
    }
    // TypeError has no Python twin of the same name... except builtins.TypeError: check the mapping by name.
    const withValueError = { ...value, error: pyException('builtins', 'ValueError', 'nope') }
    const out = encodePickle(withValueError, { protocol: label === '2.7' ? 2 : 4 })
    assert.equal(runPython(label, [script, 'js'], out).toString().trim(), 'ok')
  })
}

test('globals outside the allow-list stay opaque names that are never run, or are refused by name', () => {
  const evil = py('3.11', "import pickle,sys,os; sys.stdout.buffer.write(pickle.dumps(os.system))")
  assert.throws(() => decodePickle(evil, { foreign: 'refuse' }), (err: Error) => err instanceof ForbiddenGlobalError && /posix\.system/.test(err.message))
  const ref = decodePickle(evil)
  assert.ok(ref instanceof PyGlobal && ref.qualifiedName === 'posix.system')
  // The classic payload: os.system('...') through REDUCE, written by hand in protocol 0. Relayed, it is only a node.
  const marker = join(tmpdir(), `troupe-pwned-${process.pid}`)
  const classic = Buffer.from(`cos\nsystem\n(S'touch ${marker}'\ntR.`, 'latin1')
  assert.throws(() => decodePickle(classic, { foreign: 'refuse' }), ForbiddenGlobalError)
  const node = decodePickle(classic) as PyObject
  assert.ok(node instanceof PyObject && node.type === 'os.system' && node.args[0] === `touch ${marker}`)
  assert.equal(existsSync(marker), false)
  // Written back it is the same call for a Python reader, which would run it: relaying is Python's trust model (the authkey), troupe runs nothing.
  const dis = py('3.12', 'import pickletools,sys; pickletools.dis(sys.stdin.buffer.read())', encodePickle(node, { protocol: 2 })).toString()
  assert.match(dis, /GLOBAL\s+'os system'[\s\S]*touch [\s\S]*REDUCE/)
  assert.equal(existsSync(marker), false)
  const stack = Buffer.from('\x80\x04\x8c\x08builtins\x94\x8c\x04eval\x94\x93\x94.', 'latin1')
  assert.throws(() => decodePickle(stack, { foreign: 'refuse' }), /builtins\.eval/)
})

test('the pickle decoder cannot import or call anything: it imports only codec data modules and has no dynamic code', () => {
  // The invariant behind the opaque relay, checked on the source: whatever a pickle names stays a name.
  const source = readFileSync(new URL('../../src/codec/pickle-decode.ts', import.meta.url), 'utf8')
  const imports = [...source.matchAll(/^import .* from '([^']+)'/gm)].map((m) => m[1]).sort()
  assert.deepEqual(imports, ['../errors.js', './pickle-globals.js', './pickle-opcodes.js', './pickle-types.js'])
  for (const dynamic of [/\bimport\(/, /\brequire\(/, /\beval\(/, /\bnew Function\b/, /\bprocess\./, /child_process/, /\bReflect\./]) {
    assert.doesNotMatch(source, dynamic)
  }
})

test('Tokens and exceptions from Python decode as opaque nodes that re-encode unchanged', () => {
  const bytes = py('3.12', "import pickle,sys,queue\nfrom multiprocessing.managers import Token\nsys.stdout.buffer.write(pickle.dumps((Token('Box', ('127.0.0.1', 5000), '7f01'), queue.Empty(), queue.Full(), KeyError('k'))))")
  const [token, empty, full, keyError] = decodePickle(bytes) as Tuple
  assert.deepEqual(readToken(token), { typeid: 'Box', address: tuple('127.0.0.1', 5000), id: '7f01' })
  assert.ok(isPyException(empty) && (empty as PyObject).type === 'queue.Empty')
  assert.equal((full as PyObject).type, 'queue.Full')
  assert.equal((keyError as PyObject).type, 'builtins.KeyError')
  const back = encodePickle(tuple(token, empty, pyToken('Q', '/tmp/s', 'ab'), new Empty('x')))
  const text = py('3.12', "import pickle,sys; t=pickle.loads(sys.stdin.buffer.read()); print(repr(t[0]), type(t[1]).__name__, repr(t[2]), type(t[3]).__module__, type(t[3]).__name__)", back).toString()
  assert.equal(text.trim(), "Token(typeid='Box', address=('127.0.0.1', 5000), id='7f01') Empty Token(typeid='Q', address='/tmp/s', id='ab') _queue Empty")
})

test('protocol 0 and 1 pickles from Python 2 decode', () => {
  const v = decodePickle(py('2.7', "import pickle,sys; sys.stdout.write(pickle.dumps((1, 2**70, 2.5, 'a\\'b\\n', u'\\u2603', [1], {'k': None}, True, (1,2), -7), 0))")) as Tuple
  assert.equal(v[0], 1)
  assert.equal(v[1], 2n ** 70n)
  assert.equal(v[2], 2.5)
  assert.equal((v[3] as Buffer).toString(), "a'b\n")
  assert.equal(v[4], '☃')
  assert.deepEqual(v[5], [1])
  const [[key, val]] = [...(v[6] as Map<Buffer, unknown>)]
  assert.equal(key!.toString(), 'k')
  assert.equal(val, null)
  assert.equal(v[7], true)
  assert.ok(isTuple(v[8]))
  assert.equal(v[9], -7)
  const v1 = decodePickle(py('2.7', "import pickle,sys; sys.stdout.write(pickle.dumps(([1, 'x'], {'a': (1,)}), 1))")) as Tuple
  assert.equal((v1[0] as unknown[])[0], 1)
})

test('integral floats stay floats and other numbers keep their kind', () => {
  const v = decodePickle(encodePickle(tuple(float(2), 2, 2.5, -0, NaN, Infinity, 2n ** 53n + 1n, 9007199254740991))) as Tuple
  assert.ok(v[0] instanceof PyFloat && v[0].value === 2)
  assert.equal(v[1], 2)
  assert.equal(v[2], 2.5)
  assert.ok(v[3] instanceof PyFloat && Object.is(v[3].value, -0))
  assert.ok(Number.isNaN(v[4]))
  assert.equal(v[5], Infinity)
  assert.equal(v[6], 2n ** 53n + 1n)
  assert.equal(v[7], 9007199254740991)
})

test('a plain object encodes as a str-keyed dict, decoded back as a Map', () => {
  const v = decodePickle(encodePickle({ a: 1, b: [true] }))
  assert.deepEqual(v, new Map<string, unknown>([['a', 1], ['b', [true]]]))
})

test('shared and self-referencing lists survive a round trip', () => {
  const inner = [1]
  const selfish: unknown[] = []
  selfish.push(selfish)
  const v = decodePickle(encodePickle(tuple(inner, inner, selfish))) as Tuple
  assert.equal(v[0], v[1])
  const s = v[2] as unknown[]
  assert.equal(s[0], s)
})

test('lone surrogates survive like CPython surrogatepass', () => {
  const s = 'a\ud800b\udc00'
  assert.equal(decodePickle(encodePickle(s)), s)
  const fromPy = decodePickle(py('3.11', "import pickle,sys; sys.stdout.buffer.write(pickle.dumps('x\\ud800y'))"))
  assert.equal(fromPy, 'x\ud800y')
})

test('values with no pickle form are refused with the path to them', () => {
  assert.throws(() => encodePickle({ a: [1, { cb: () => 1 }] }), (err: UnsendableValueError) => {
    assert.ok(err instanceof UnsendableValueError)
    assert.equal(err.path, 'value.a[1].cb')
    return true
  })
  assert.throws(() => encodePickle(new Date()), UnsendableValueError)
  const t: unknown[] = []
  const cyc = tuple(t)
  t.push(cyc)
  assert.throws(() => encodePickle(cyc), /contains itself/)
})

test('decoder limits: depth, memo, int size, bogus lengths', () => {
  const deep = Buffer.concat([Buffer.from([0x80, 4]), Buffer.alloc(2000, 0x5d), Buffer.alloc(1999, 0x61), Buffer.from('.')])
  assert.throws(() => decodePickle(deep), /maxDepth/)
  assert.doesNotThrow(() => decodePickle(deep, { maxDepth: 5000 }))
  const memo = Buffer.concat([Buffer.from([0x80, 4, 0x4e]), Buffer.alloc(20, 0x94), Buffer.from('.')])
  assert.throws(() => decodePickle(memo, { maxMemo: 10 }), /maxMemo/)
  const huge = Buffer.from([0x80, 4, 0x8e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x2e])
  assert.throws(() => decodePickle(huge), (err: Error) => err instanceof DecodeError && /left/.test(err.message))
  const long4 = Buffer.from([0x80, 4, 0x8b, 0xff, 0xff, 0xff, 0x7f, 0x2e])
  assert.throws(() => decodePickle(long4), /maxIntBytes/)
  // Depth built through memo sharing (children filled after being nested) is still caught.
  const parts: number[] = [0x80, 4]
  for (let i = 0; i < 50; i++) parts.push(0x5d, 0x94) // 50 empty lists, memo 0..49
  for (let i = 0; i < 49; i++) parts.push(0x30) // leave only list 0 on the stack
  for (let i = 0; i < 49; i++) parts.push(0x68, i, 0x68, i + 1, 0x61, 0x30) // list[i].append(list[i+1]), outermost first
  parts.push(0x2e)
  assert.throws(() => decodePickle(Buffer.from(parts), { maxDepth: 20 }), /maxDepth/)
  assert.equal((decodePickle(Buffer.from(parts)) as unknown[]).length, 1)
})

test('protocol 0 INST and OBJ build opaque objects (a fuzz find: they once crashed)', () => {
  const inst = Buffer.from("(S'bad'\nibuiltins\nValueError\n.", 'latin1')
  const v = decodePickle(inst) as PyObject
  assert.equal(v.type, 'builtins.ValueError')
  assert.equal((v.args[0] as Buffer).toString(), 'bad')
  const obj = Buffer.from("(cbuiltins\nKeyError\nS'k'\no.", 'latin1')
  assert.equal((decodePickle(obj) as PyObject).type, 'builtins.KeyError')
  const found = Buffer.from('80027d71002858060000006e65737465645d7101285d71025d71035d71044b01616161635f5f6275696c74696e5f5f0a66726f7a656e7365740a5d284b016585527105695f5f6275696c74696e5f5f0a6279746561727261790a5802000000616258070000006c6174696e2d318652', 'hex')
  assert.throws(() => decodePickle(found), DecodeError)
})

test('malformed pickles fail with DecodeError naming the byte', () => {
  for (const bad of ['', '\x80', '\x80\x04', '\x80\x04N', '\x80\x04(.', '\x80\x04a.', '\x80\x04h\x05.', '\x80\x09N.', '\x80\x04\xff']) {
    assert.throws(() => decodePickle(Buffer.from(bad, 'latin1')), DecodeError, JSON.stringify(bad))
  }
})

test("a Tuple stays a Tuple across troupe's own wire (marshal + v8), and its marshalled form still pickles as a tuple", () => {
  const m = marshal({ t: tuple(1, tuple(2, 'x')), f: float(3) })
  assert.equal(m.portables, true)
  const back = unmarshal(decodeV8(encodeV8(m.value))) as { t: Tuple; f: Number }
  assert.ok(isTuple(back.t) && isTuple(back.t[1]))
  assert.deepEqual([...(back.t[1] as Tuple)], [2, 'x'])
  assert.equal(+back.f, 3)
  const py = decodePickle(encodePickle(m.value)) as Map<string, unknown>
  assert.ok(isTuple(py.get('t')) && isTuple((py.get('t') as Tuple)[1]))
  assert.ok(py.get('f') instanceof PyFloat)
})
