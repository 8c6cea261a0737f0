# SyncManager list (ListProxy).
from __future__ import print_function
import harness

LIST = r'''
l = m.list()
len(l)
list(l)
l.pop()
l.append(1)
l.append((1, 2))
l.append([1])
l.append('s')
l.extend([2.0, True, None])
l.extend((3,))
l.extend('ab')
len(l)
list(l)
[x for x in l]
str(l)
repr(l)
l[0]
l[-1]
l[3]
l[10]
l[-11]
l['x']
l[1.0]
l[True]
l[0:2]
l[1:]
l[:-2]
l[::2]
l[::-1]
l[5:2]
l[-100:100]
l[0:3:0]
l.count(1)
l.count(1.0)
l.count(True)
l.count((1, 2))
l.count([1])
l.count(99)
l.index(1)
l.index((1, 2))
l.index([1])
l.index('b')
l.index(99)
l.index(1, 1)
l.index(1, 1, 3)
l.index(2.0, -5)
l.index(1, 'x')
1 in l
(1, 2) in l
[1] in l
99 in l
'a' in l
l + [9]
l + (9,)
l * 2
2 * l
l * -1
l * 'x'
l[0] = 'first'
l[0]
l[-1] = 'last'
l[-1]
l[99] = 1
l[-99] = 1
l['x'] = 1
l[0:2] = ['A', 'B', 'C']
list(l)
l[::2] = [0]
l[0:1] = 5
del l[0]
del l[-1]
del l[99]
del l[0:2]
del l[::3]
list(l)
l.insert(0, 'i0')
l.insert(-1, 'i-1')
l.insert(99, 'i99')
l.insert(-99, 'i-99')
l.insert('x', 1)
list(l)
l.remove('i0')
l.remove('missing')
l.remove(1.0)
l.pop()
l.pop(0)
l.pop(-1)
l.pop(99)
l.pop('x')
list(l)
l.reverse()
list(l)
reversed(l)
list(reversed(l))
l2 = m.list([3, 1, 2])
l2.sort()
list(l2)
l2.sort(reverse=True)
list(l2)
l3 = m.list([3, 'a', 1])
l3.sort()
list(l3)
l4 = m.list([(2, 'b'), (1, 'z'), (1, 'a')])
l4.sort()
list(l4)
l5 = m.list(['b', 'B', 'a', u'\u00e9', 'Z'])
l5.sort()
list(l5)
l6 = m.list([2.5, 1, True, -3, 10**20])
l6.sort()
list(l6)
l6 *= 2
len(l6)
l6 += [7]
l6[-1]
l6 *= 0
list(l6)
l7 = m.list(range(5))
list(l7)
m.list('abc')._getvalue()
m.list((1, 2))._getvalue()
m.list(5)
m.list([1], [2])
m.list(x=1)
l7._getvalue()
l7._callmethod('append')
l7._callmethod('append', (1, 2))
l7._callmethod('sort', (1,))
l7._callmethod('sort', (), {'key': None})
l7._callmethod('clear')
l7._callmethod('copy')
l7._callmethod('__iter__')
l7._callmethod('__getitem__', (slice(1, 3),))
l7._callmethod('__getitem__', (slice(None, None, -2),))
l7._callmethod('__reversed__')
py2: l7[1:3]
py2: l7[1:3] = [9]
py2: del l7[0:1]
py2: list(l7)
py2: l7._callmethod('__getslice__', (0, 2))
big = m.list(range(1200))
len(list(big))
big[1000:1003]
m.list([[1, 2], {'a': 1}, set([3])])._getvalue()
'''

SECTIONS = [('list', LIST, {})]

if __name__ == '__main__':
    harness.main(SECTIONS)
