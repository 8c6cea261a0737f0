/**
 * Globals a pickle names. Python's unpickler imports and calls whatever a
 * pickle names (`os.system` included); troupe's decoder imports and calls
 * nothing. It turns the allow-listed data builtins below into JS values,
 * recognises Tokens and exceptions, and keeps every other global as an opaque
 * reference it only writes back (or refuses, with `foreign: 'refuse'`).
 * Names are canonical Python 3 names; Python 2 spellings are mapped to them on
 * decode and back on protocol-2 encode (as CPython's `_compat_pickle` does).
 */

const EXCEPTIONS = [
  'BaseException', 'Exception', 'ArithmeticError', 'AssertionError', 'AttributeError', 'BufferError',
  'EOFError', 'FloatingPointError', 'GeneratorExit', 'ImportError', 'ModuleNotFoundError', 'IndexError',
  'KeyError', 'KeyboardInterrupt', 'LookupError', 'MemoryError', 'NameError', 'NotImplementedError',
  'OSError', 'EnvironmentError', 'IOError', 'OverflowError', 'RecursionError', 'ReferenceError',
  'RuntimeError', 'StopIteration', 'StopAsyncIteration', 'SyntaxError', 'IndentationError', 'TabError',
  'SystemError', 'SystemExit', 'TypeError', 'UnboundLocalError', 'UnicodeError', 'UnicodeEncodeError',
  'UnicodeDecodeError', 'UnicodeTranslateError', 'ValueError', 'ZeroDivisionError', 'BlockingIOError',
  'ChildProcessError', 'ConnectionError', 'BrokenPipeError', 'ConnectionAbortedError',
  'ConnectionRefusedError', 'ConnectionResetError', 'FileExistsError', 'FileNotFoundError',
  'InterruptedError', 'IsADirectoryError', 'NotADirectoryError', 'PermissionError', 'ProcessLookupError',
  'TimeoutError', 'Warning', 'UserWarning', 'DeprecationWarning', 'PendingDeprecationWarning',
  'SyntaxWarning', 'RuntimeWarning', 'FutureWarning', 'ImportWarning', 'UnicodeWarning', 'BytesWarning',
  'ResourceWarning', 'EncodingWarning',
]

/** Builtin exception class names (valid as `builtins.<name>`). */
export const BUILTIN_EXCEPTIONS: ReadonlySet<string> = new Set(EXCEPTIONS)

/** Builtins that the decoder evaluates itself, because they only build plain data. */
const DATA_BUILTINS = ['set', 'frozenset', 'bytearray', 'bytes', 'complex', 'slice']

const allowed = new Set<string>([
  ...EXCEPTIONS.map((n) => `builtins.${n}`),
  ...DATA_BUILTINS.map((n) => `builtins.${n}`),
  'multiprocessing.managers.Token',
  'multiprocessing.managers.RemoteError',
  'multiprocessing.context.TimeoutError',
  'multiprocessing.TimeoutError',
  'queue.Empty',
  'queue.Full',
  'collections.OrderedDict',
  '_codecs.encode',
])

// Python 2 module names -> Python 3 (CPython's _compat_pickle.IMPORT_MAPPING, the entries a
// manager peer can meet, plus `exceptions` and `_queue`, whose classes live in builtins / queue).
const PY2_MODULES: Record<string, string> = {
  __builtin__: 'builtins', exceptions: 'builtins', Queue: 'queue', _queue: 'queue', copy_reg: 'copyreg',
  thread: '_thread', repr: 'reprlib', SocketServer: 'socketserver', ConfigParser: 'configparser',
  xmlrpclib: 'xmlrpc.client', httplib: 'http.client', urlparse: 'urllib.parse', urllib2: 'urllib.request',
  cookielib: 'http.cookiejar', Cookie: 'http.cookies', HTMLParser: 'html.parser', htmlentitydefs: 'html.entities',
  commands: 'subprocess', anydbm: 'dbm', _abcoll: 'collections.abc', _winreg: 'winreg', dummy_thread: '_dummy_thread',
}
// Python 2 names whose Python 3 twin has another name or module (_compat_pickle.NAME_MAPPING).
const PY2_NAMES: Record<string, string> = {
  '__builtin__.xrange': 'builtins.range', '__builtin__.reduce': 'functools.reduce', '__builtin__.intern': 'sys.intern',
  '__builtin__.unichr': 'builtins.chr', '__builtin__.unicode': 'builtins.str', '__builtin__.long': 'builtins.int',
  'itertools.izip': 'builtins.zip', 'itertools.imap': 'builtins.map', 'itertools.ifilter': 'builtins.filter',
  'itertools.ifilterfalse': 'itertools.filterfalse', 'itertools.izip_longest': 'itertools.zip_longest',
  'UserDict.IterableUserDict': 'collections.UserDict', 'UserList.UserList': 'collections.UserList',
  'UserString.UserString': 'collections.UserString', 'exceptions.StandardError': 'builtins.Exception',
}
const PY3_MODULES: Record<string, string> = Object.fromEntries(Object.entries(PY2_MODULES).filter(([m]) => m !== 'exceptions' && m !== '_queue').map(([a, b]) => [b, a]))
// str and int exist in Python 2 under their own names; only the renamed ones are spelled back.
const PY3_NAMES: Record<string, string> = Object.fromEntries(Object.entries(PY2_NAMES)
  .filter(([k]) => !['exceptions.StandardError', '__builtin__.unicode', '__builtin__.long'].includes(k)).map(([a, b]) => [b, a]))

function split(qualified: string): [string, string] {
  const dot = qualified.lastIndexOf('.')
  return [qualified.slice(0, dot), qualified.slice(dot + 1)]
}

/** The canonical (Python 3) module and name for a global as a pickle spelled it. */
export function canonicalGlobal(module: string, name: string): [string, string] {
  const renamed = PY2_NAMES[`${module}.${name}`]
  if (renamed) return split(renamed)
  return [PY2_MODULES[module] ?? module, name]
}

/** Whether a canonical `module.name` is one troupe may turn into data or recognise (the allow-list). */
export function isAllowedGlobal(module: string, name: string): boolean {
  return allowed.has(`${module}.${name}`)
}

/** How to spell a canonical global for a Python 2 reader (protocol 2); Python 3 maps these back. */
export function py2Global(module: string, name: string): [string, string] {
  if (module === 'builtins' && BUILTIN_EXCEPTIONS.has(name)) return ['exceptions', py2Exception(name)]
  const renamed = PY3_NAMES[`${module}.${name}`]
  if (renamed) return split(renamed)
  return [PY3_MODULES[module] ?? module, name]
}

// Python 3 exceptions that Python 2 lacks: name the Python 2 base class, which Python 3 also maps back.
function py2Exception(name: string): string {
  if (/^(BlockingIO|ChildProcess|Connection\w*|BrokenPipe|File\w+|Interrupted|IsADirectory|NotADirectory|Permission|ProcessLookup|Timeout)Error$/.test(name)) return 'OSError'
  if (name === 'ModuleNotFoundError') return 'ImportError'
  if (name === 'RecursionError') return 'RuntimeError'
  if (name === 'StopAsyncIteration') return 'Exception'
  if (name === 'ResourceWarning' || name === 'EncodingWarning') return 'Warning'
  return name
}
