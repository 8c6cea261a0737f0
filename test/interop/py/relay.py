# Values troupe cannot construct, relayed through a troupe manager between Python clients.
#   put ADDRESS          put every sample into get_queue, and into get_dict as values (and keys, where hashable)
#   get ADDRESS          read them back: same type, equal, and pickled by this Python to the same bytes
#   one ADDRESS          put one datetime into get_queue (a JS reader looks at it)
#   xput / xget ADDRESS  like put / get with the values that exist alike in Python 2 and 3 (one side 2.7, the other 3.x)
# ADDRESS is host:port. The classes below live in __main__, so the reading process (this script) has them too.
from __future__ import print_function
import sys, os, pickle, datetime, decimal, fractions, uuid, array, collections
from multiprocessing.managers import BaseManager

PY2 = sys.version_info[0] == 2


class M(BaseManager):
    pass


M.register('get_queue')
M.register('get_dict')

Pair = collections.namedtuple('Pair', 'left right')


class Plain(object):
    def __init__(self, a, b):
        self.a, self.b = a, b

    def __eq__(self, other):
        return type(other) is Plain and self.__dict__ == other.__dict__


class Slotted(object):
    __slots__ = ('x', 'y')

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return type(other) is Slotted and (self.x, self.y) == (other.x, other.y)


class Reduced(object):
    def __init__(self, *parts):
        self.parts = parts

    def __reduce__(self):
        return (Reduced, self.parts)

    def __eq__(self, other):
        return type(other) is Reduced and self.parts == other.parts


class Stateful(object):
    def __init__(self, n):
        self.n = n

    def __getstate__(self):
        return {'n': self.n, 'seen': True}

    def __setstate__(self, state):
        self.n = state['n']

    def __eq__(self, other):
        return type(other) is Stateful and self.n == other.n


class Loop(object):
    def __eq__(self, other):
        return type(other) is Loop and other.me is other


def samples():
    loop = Loop()
    loop.me = loop
    day = datetime.date(2021, 5, 6)
    out = [
        ('datetime', datetime.datetime(2020, 1, 2, 3, 4, 5, 6)),
        ('date', day),
        ('time', datetime.time(3, 4, 5, 6)),
        ('timedelta', datetime.timedelta(days=1, seconds=2, microseconds=3)),
        ('Decimal', decimal.Decimal('1.10')),
        ('Fraction', fractions.Fraction(1, 3)),
        ('UUID', uuid.UUID('12345678-1234-5678-1234-567812345678')),
        ('array', array.array('d', [1.5, -2.0])),
        ('deque', collections.deque([1, (2, 3)], maxlen=5)),
        ('defaultdict', collections.defaultdict(list, {'a': [1]})),
        ('Counter', collections.Counter('aab')),
        ('OrderedDict', collections.OrderedDict([('b', 1), ('a', (2,))])),
        ('namedtuple', Pair(1, 'two')),
        ('class instance', Plain(1, [2, 3])),
        ('__slots__', Slotted(1, 2)),
        ('__reduce__', Reduced(1, 'x', (2,))),
        ('__getstate__', Stateful(7)),
        ('self-reference', loop),
        ('class', Plain),
        ('builtin function', len),
        ('type', int),
        ('structseq', os.stat_result(tuple(range(10)))),
        ('shared dates', [day, day, {'when': day}]),
        ('nested', {'amounts': [decimal.Decimal('3'), decimal.Decimal('4.5')], 'at': datetime.datetime(2019, 12, 31)}),
        ('range', xrange(1, 9, 2) if PY2 else range(1, 9, 2)),
    ]
    if not PY2:
        out.append(('aware datetime', datetime.datetime(2020, 1, 2, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))))
        out.append(('Ellipsis', Ellipsis))
    return out


def portable_samples():
    # Values whose classes Python 2 and 3 share: they cross between the versions through troupe.
    return [
        ('datetime', datetime.datetime(2020, 1, 2, 3, 4, 5, 6)), ('date', datetime.date(2021, 5, 6)),
        ('timedelta', datetime.timedelta(1, 2, 3)), ('Decimal', decimal.Decimal('1.10')), ('Fraction', fractions.Fraction(1, 3)),
        ('UUID', uuid.UUID('12345678-1234-5678-1234-567812345678')), ('OrderedDict', collections.OrderedDict([('a', 1)])),
        ('deque', collections.deque([1, 2])), ('Counter', collections.Counter('aab')), ('namedtuple', Pair(1, 2)),
        ('class instance', Plain(1, [2, 3])),
    ]


def same(a, b):
    if type(a) is not type(b):
        return 'type %s != %s' % (type(a).__name__, type(b).__name__)
    if isinstance(a, (xrange if PY2 else range)):
        ok = (a.__reduce__() == b.__reduce__())
    else:
        ok = a is b or a == b
    if not ok:
        return '%r != %r' % (a, b)
    # The strongest check this side can make: this Python pickles what came back to the very bytes it pickles what it sent.
    if type(a) is not Loop and pickle.dumps(a, 2) != pickle.dumps(b, 2):
        return 'pickles differently: %r' % (b,)
    return None


def connect(address):
    host, port = address.rsplit(':', 1)
    m = M(address=(host, int(port)), authkey=b'abc')
    m.connect()
    return m


def main():
    mode, address = sys.argv[1], sys.argv[2]
    m = connect(address)
    q, d = m.get_queue(), m.get_dict()
    if mode == 'one':
        q.put(datetime.datetime(2020, 1, 2, 3, 4, 5))
        print('ok')
        return 0
    cross = mode.startswith('x')
    items = portable_samples() if cross else samples()
    if cross:
        mode = mode[1:]
    if mode == 'put':
        for name, v in items:
            q.put(v)
            d.__setitem__(name, v)
            try:
                hash(v)
                d.__setitem__(('key', v), name)
            except TypeError:
                pass
        print('ok %d' % len(items))
        return 0
    failures = []
    for name, v in items:
        for where, got in (('queue', q.get(timeout=10)), ('dict', d[name])):
            # Across versions the bytes each Python pickles a value to differ; type and value must not.
            err = same(v, got) if not cross else (None if type(v) is type(got) and v == got else '%r != %r' % (v, got))
            if err:
                failures.append('%s via %s: %s' % (name, where, err))
        try:
            hash(v)
        except TypeError:
            continue
        # An opaque key is found by a key pickled the same way: across Python versions some classes pickle differently.
        if not cross and d.get(('key', v)) != name:
            failures.append('%s as a dict key was not found' % name)
    if failures:
        print('\n'.join(failures), file=sys.stderr)
        return 1
    print('ok %d' % len(items))
    return 0


sys.exit(main())
