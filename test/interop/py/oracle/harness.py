# Runs a list of operations on a SyncManager and prints one transcript line per operation:
#   <section> | <code> -> <type>:<repr>      the value (sets sorted; Python 2 dicts sorted; 0x... addresses masked)
#   <section> | <code> -> !<Exception>: <first line of str(e)>
#   <section> | <code> -> HANG               the operation did not finish within the time bound
# The same script runs against CPython's SyncManager and a troupe Manager; the test diffs the transcripts.
# An op line may start with "py2:" or "py3:" (run on that major only); "#" lines are comments.
# TypeError and RemoteError are recorded by class only: their texts name CPython internals that change
# with every release (arity wording, traceback file paths); the class is the contract.
from __future__ import print_function
import sys, signal, re
from multiprocessing.managers import SyncManager, BaseProxy

PY2 = sys.version_info[0] == 2
BOUND = 5.0


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


signal.signal(signal.SIGALRM, _alarm)
ADDR = re.compile(r'0x[0-9a-fA-F]+')


def crepr(v, stack=()):
    t = type(v)
    if isinstance(v, BaseProxy):
        return '<proxy %s>' % t.__name__
    if id(v) in stack:
        return '...'
    inner = stack + (id(v),)
    if t in (set, frozenset):
        return '%s{%s}' % (t.__name__, ', '.join(sorted(crepr(x, inner) for x in v)))
    if t is dict:
        items = ['%s: %s' % (crepr(k, inner), crepr(x, inner)) for k, x in v.items()]
        if PY2:
            items.sort()
        return '{%s}' % ', '.join(items)
    if t is list:
        return '[%s]' % ', '.join(crepr(x, inner) for x in v)
    if t is tuple:
        return '(%s%s)' % (', '.join(crepr(x, inner) for x in v), ',' if len(v) == 1 else '')
    return ADDR.sub('0x?', repr(v))


def show(v):
    if isinstance(v, BaseProxy):
        return 'proxy:' + ADDR.sub('0x?', type(v).__name__)
    return '%s:%s' % (type(v).__name__, crepr(v))


def show_error(e):
    name = type(e).__name__
    if name in ('TypeError', 'RemoteError'):
        return '!' + name
    text = str(e).strip().split('\n')[0] if str(e).strip() else ''
    return '!%s: %s' % (name, ADDR.sub('0x?', text)) if text else '!' + name


def reset_connections(ns):
    # A hung call leaves its reply pending on the thread's connection: drop that connection.
    for v in list(ns.values()):
        if isinstance(v, BaseProxy):
            conn = getattr(v._tls, 'connection', None)
            if conn is not None:
                try:
                    conn.close()
                except Exception:
                    pass
                del v._tls.connection


def run_ops(section, text, ns):
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith('#'):
            continue
        if line.startswith('py2:') or line.startswith('py3:'):
            if (line[2] == '2') != PY2:
                continue
            line = line[4:].strip()
        signal.setitimer(signal.ITIMER_REAL, BOUND)
        try:
            try:
                code, expr = compile(line, '<op>', 'eval'), True
            except SyntaxError:
                code, expr = compile(line, '<op>', 'exec'), False
            if expr:
                out = show(eval(code, ns))
            else:
                exec(code, ns)
                out = 'ok'
        except Hang:
            out = 'HANG'
            reset_connections(ns)
        except BaseException as e:
            signal.setitimer(signal.ITIMER_REAL, 0)
            out = show_error(e)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        print('%s | %s -> %s' % (section, line, out))
        sys.stdout.flush()


def connect(address, key):
    m = SyncManager(address=address, authkey=key)
    m.connect()
    return m


def main(sections):
    # argv: address authkey [section ...]
    address, key = sys.argv[1], sys.argv[2].encode('ascii')
    wanted = sys.argv[3:]
    m = connect(address, key)
    for name, text, extra in sections:
        if wanted and name not in wanted:
            continue
        ns = {'m': m, 'PY2': PY2}
        ns.update(extra)
        run_ops(name, text, ns)
