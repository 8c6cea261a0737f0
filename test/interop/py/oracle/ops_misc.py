# SyncManager Value, Array and Namespace.
from __future__ import print_function
import harness

VALUE = r'''
v = m.Value('i', 5)
v.get()
v.value
v.set(7)
v.value
v.value = 'text'
v.get()
str(v)
repr(v)
v.set()
v._callmethod('set', (1, 2))
v._callmethod('get', (1,))
v._getvalue()
v2 = m.Value('d', 1.5, lock=False)
v2.value
v3 = m.Value('i')
m.Value()
m.Value('i', 1, 2)
m.Value('zz', [1, (2,)]).value
str(m.Value(u'c', u'x'))
str(m.Value('d', 2.0))
'''

ARRAY = r'''
a = m.Array('i', [1, 2, 3])
len(a)
a[0]
a[-1]
a[2]
a[3]
a[-4]
a['x']
list(a)
[x for x in a]
a[:]
a[0:2]
a[::-1]
a[5:]
a[0] = 10
a[0]
a[-1] = 30
a[2]
a[3] = 1
a[0] = 'x'
a[0] = 1.5
a[0] = 2**40
a[0] = 2**31
a[0] = -2**31
a[0]
a[0:2] = [7, 8]
str(a)
repr(a)
a._getvalue()
a._callmethod('__getitem__')
a._callmethod('append', (1,))
d = m.Array('d', [1, 2.5])
d[0]
d[1]
d[0] = 3
d[0]
d[0] = 'x'
list(d)
f = m.Array('f', [0.1])
f[0]
b = m.Array('b', [127])
b[0] = 128
b[0] = -128
b[0]
B = m.Array('B', [0])
B[0] = -1
B[0] = 255
B[0]
h = m.Array('h', [1])
h[0] = 32768
H = m.Array('H', [1])
H[0] = 65535
H[0]
I = m.Array('I', [1])
I[0] = 2**32 - 1
I[0]
I[0] = 2**32
L = m.Array('l', [1])
L[0] = 2**63 - 1
L[0]
L[0] = 2**63
q = m.Array('q', [-1])
q[0]
Q = m.Array('Q', [2**64 - 1])
Q[0]
c = m.Array('c', 'ab')
m.Array('u', u'ab')[1]
m.Array('z', [1])
m.Array('i', 3)
m.Array('i', [1.5])
m.Array('i', ['x'])
m.Array('i', [2**40])
m.Array('i')
m.Array('i', [], lock=False)[:]
len(m.Array('d', range(4)))
m.Array('i', (1, 2))[:]
m.Array('d', [1])._getvalue()
'''

NAMESPACE = r'''
ns = m.Namespace()
ns.x = 1
ns.x
ns.y
ns.x = (1, 2)
ns.x
del ns.x
ns.x
del ns.x
str(ns)
ns.b = 2; ns.a = 'A'
str(ns)
repr(ns)
ns._getvalue()
n2 = m.Namespace(a=1, b=[2])
n2.a
n2.b
str(n2)
n2._callmethod('__getattribute__', ('a',))
n2._callmethod('__getattribute__', ('__dict__',))
n2._callmethod('__getattribute__', ('zz',))
n2._callmethod('__getattribute__', ())
n2._callmethod('__setattr__', ('c',))
n2._callmethod('__setattr__', ('_hidden', 5))
n2._callmethod('__getattribute__', ('_hidden',))
n2._callmethod('__delattr__', ('nope',))
n2._callmethod('__setattr__', (1, 2))
str(n2)
m.Namespace(1)
m.Namespace(**{'with space': 1})._callmethod('__getattribute__', ('with space',))
'''

SECTIONS = [('Value', VALUE, {}), ('Array', ARRAY, {}), ('Namespace', NAMESPACE, {})]

if __name__ == '__main__':
    harness.main(SECTIONS)
