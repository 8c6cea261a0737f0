# Deep equality that also checks Python types (int and long count as one), for 2.7 and 3.x.


def norm_type(v):
    t = type(v).__name__
    return 'int' if t == 'long' else t


def same(a, b, path='value'):
    if norm_type(a) != norm_type(b):
        return '%s: type %s != %s' % (path, norm_type(a), norm_type(b))
    if isinstance(a, BaseException):
        return None if a.args == b.args else '%s: args %r != %r' % (path, a.args, b.args)
    if isinstance(a, float):
        if a != b or repr(a) != repr(b):
            return '%s: %r != %r' % (path, a, b)
        return None
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return '%s: length %d != %d' % (path, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            e = same(x, y, '%s[%d]' % (path, i))
            if e:
                return e
        return None
    if isinstance(a, dict):
        if sorted(map(repr, a.keys())) != sorted(map(repr, b.keys())):
            return '%s: keys %r != %r' % (path, list(a.keys())[:5], list(b.keys())[:5])
        for k in a:
            e = same(a[k], b[k], '%s[%r]' % (path, k)) or same_key_type(a, b, k, path)
            if e:
                return e
        return None
    if a != b:
        return '%s: %r != %r' % (path, a, b)
    return None


def same_key_type(a, b, k, path):
    kb = [x for x in b if x == k][0]
    return None if norm_type(kb) == norm_type(k) else '%s: key %r type %s != %s' % (path, k, norm_type(k), norm_type(kb))
