# SyncManager dict (DictProxy).
from __future__ import print_function
import harness

DICT = r'''
d = m.dict()
len(d)
d['a'] = 1
d[(1, 2)] = 'tuple'
d[b'k'] = 'bytes'
d[2.0] = 'float'
d[frozenset([1])] = 'frozenset'
d[None] = 'none'
d[1] = 'int'
d[True] = 'true'
d[u'\u00e9'] = 'unicode'
d[-0.0] = 'zero'
d[10**20] = 'big'
len(d)
d['a']
d[(1, 2)]
d[b'k']
d[2]
d[2.0]
d[frozenset([1])]
d[None]
d[1]
d[1.0]
d[True]
d[u'\u00e9']
d[0]
d[False]
d[10**20]
d[float(10**20)]
d['missing']
d[(1, 3)]
d[[1]]
d[{}]
d[set()]
d[[1]] = 1
d[{}] = 1
(1, 2) in d
b'k' in d
1.0 in d
'missing' in d
[1] in d
d.get('a')
d.get('missing')
d.get('missing', 42)
d.get((1, 2))
d.get([1])
d.get()
sorted(d.keys(), key=repr)
sorted(d.values(), key=repr)
sorted(d.items(), key=repr)
type(d.keys())
type(d.items())
sorted(d, key=repr)
sorted(list(d), key=repr)
len([k for k in d])
d.pop('a')
d.pop('a')
d.pop('a', 'default')
d.pop([1], 0)
d.pop((1, 2))
d.pop()
d.setdefault('s', 1)
d.setdefault('s', 2)
d.setdefault('n')
d['n']
d.setdefault([1], 1)
del d['s']
del d['s']
del d[[1]]
d.update({'u': 1})
d.update([('w', 3)])
d.update([('x', 4), ('y', 5)], z=6)
d.update(v=7)
d.update(1)
d.update([1])
d.update([(1, 2, 3)])
d.update({'a': 1}, {'b': 2})
d['x'], d['y'], d['z'], d['v'], d['w']
c = d.copy()
type(c)
len(c)
d2 = m.dict()
d2['only'] = 1
str(d2)
repr(d2)
d2.popitem()
d2.popitem()
d3 = m.dict([(1, 2), (3, 4)])
d3[1]
d3[3]
py3: list(d3)
py3: d3.popitem()
py3: d3.popitem()
d4 = m.dict({'a': 1}, b=2)
sorted(d4.items())
d5 = m.dict(a=1)
d5['a']
m.dict([(1, 2, 3)])
m.dict(1)
m.dict([1])
m.dict({[1]: 2})
d6 = m.dict({(1, (2, 3)): 'nested', (1, 2.0): 'f'})
d6[(1, (2, 3))]
d6[(1, 2)]
d6[(True, 2)]
d6._getvalue()
d.clear()
len(d)
d.clear()
d._getvalue()
d._callmethod('__getitem__')
d._callmethod('__getitem__', (1, 2))
d._callmethod('get', (1, 2, 3))
d._callmethod('keys', (1,))
d._callmethod('fromkeys', ([1],))
d._callmethod('__iter__', (1,))
py2: d.has_key('a')
py2: d['k'] = 1; d.has_key('k')
py2: d.has_key(u'k')
py2: d._callmethod('iteritems')
py3: d._callmethod('has_key', ('a',))
d7 = m.dict()
d7['x'] = 1
it = iter(d7)
next(it)
next(it)
d7['y'] = 2
d8 = m.dict({'a': 1, 'b': 2})
it8 = iter(d8)
next(it8)
d8['c'] = 3
next(it8)
d9 = m.dict()
d9[float('nan')] = 1
len(d9)
d9[float('nan')] = 2
len(d9)
d9[float('inf')] = 'inf'
d9[float('inf')]
'''

SECTIONS = [('dict', DICT, {})]

if __name__ == '__main__':
    harness.main(SECTIONS)
