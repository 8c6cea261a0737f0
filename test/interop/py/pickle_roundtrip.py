# Pickle round trips between CPython (2.7 and 3.x) and troupe's codec.
#   dump <protocol>  write a pickle of samples() to stdout
#   check            read a pickle from stdin; it must equal samples(), same types, shared refs kept
#   js               read a pickle made from JS values by the test; it must equal js_expected()
from __future__ import print_function
import sys, pickle
from compare import same

PY2 = sys.version_info[0] == 2
stdin = sys.stdin if PY2 else sys.stdin.buffer
stdout = sys.stdout if PY2 else sys.stdout.buffer


def samples():
    shared = [1, u'two']
    return {
        u'must_show': (1, 'a', None, 2.5, b'x', [1, 2], {'k': True}, 2 ** 70, -1, set([1, 2]), u'\u00e9\u2603\U0001F600'),
        u'ints': (0, 1, 255, 256, 65535, 65536, -1, -2 ** 31, 2 ** 31 - 1, 2 ** 31, 2 ** 53, 2 ** 53 + 1,
                  -2 ** 63, 2 ** 64, -(2 ** 70), 2 ** 2100, -(2 ** 2100), 127, 128, -128, -129),
        u'floats': (2.5, 2.0, -0.0, 1e300, float('inf'), float('-inf'), 0.1, 1.0),
        u'text': (u'', u'a', u'x' * 300, u'\u00e9' * 200, u'\u2603'),
        u'bytes': (b'', b'x', b'\x00\xff' * 200),
        u'containers': ((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [1], [1, [2, [3]]], {},
                        {'k': True, 1: None, (1, 2): 'tuple key'}, set(), set([1, 2]), frozenset([3]),
                        frozenset(), bytearray(b'ba'), list(range(2500)), dict((i, i) for i in range(1500))),
        u'none_bool': (None, True, False),
        u'shared': (shared, shared),
        u'exceptions': (ValueError('bad', 2), KeyError('k')),
    }


def native(text):
    # What troupe sends a JS string as: Python 2 gets ASCII text as its native str (as its literals are).
    return str(text) if PY2 and all(ord(c) < 128 for c in text) else text


def js_expected():
    value = {
        u'str': u'hello', u'int': 7, u'big': 2 ** 70, u'neg': -(2 ** 64), u'float': 1.5, u'float_integral': 2.0,
        u'tuple': (1, u'a'), u'list': [1, [2]], u'dict': {1: u'one', u'k': None}, u'set': set([1, 2]),
        u'frozenset': frozenset([u'x']), u'bytes': b'\x00\x01' if not PY2 else '\x00\x01', u'none': None,
        u'bool': (True, False), u'nested_obj': {u'a': {u'b': [1, 2.5]}}, u'bytearray': bytearray(b'ab'),
        u'emoji': u'\u00e9\u2603\U0001F600', u'error': ValueError(u'nope'),
    }
    if PY2:
        value = dict((native(k), v) for k, v in value.items())
        value['str'] = native(u'hello')
        value['tuple'] = (1, native(u'a'))
        value['dict'] = {1: native(u'one'), native(u'k'): None}
        value['frozenset'] = frozenset([native(u'x')])
        value['nested_obj'] = {native(u'a'): {native(u'b'): [1, 2.5]}}
        value['error'] = ValueError(native(u'nope'))
        value['big'], value['neg'] = long(2 ** 70), -long(2 ** 64)
    return value


def main():
    mode = sys.argv[1]
    if mode == 'dump':
        stdout.write(pickle.dumps(samples(), int(sys.argv[2])))
        return 0
    value = pickle.loads(stdin.read())
    expected = samples() if mode == 'check' else js_expected()
    err = same(expected, value)
    if not err and mode == 'check' and value[u'shared'][0] is not value[u'shared'][1]:
        err = 'shared reference was not kept'
    if err:
        print(err, file=sys.stderr)
        return 1
    print('ok')
    return 0


sys.exit(main())
