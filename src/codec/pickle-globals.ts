/**
 * The only globals a troupe pickle may name. Python's unpickler imports and
 * calls whatever a pickle names (`os.system` included); troupe's decoder
 * instead checks this allow-list and builds opaque nodes, never running code.
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
const DATA_BUILTINS = ['set', 'frozenset', 'bytearray', 'bytes', 'complex']

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

// Python 2 module names (and Python 3's protocol-2 spellings) -> Python 3.
const PY2_MODULES: Record<string, string> = { __builtin__: 'builtins', exceptions: 'builtins', Queue: 'queue', _queue: 'queue', copy_reg: 'copyreg' }
// Python 2 names with no Python 3 twin of the same name.
const PY2_NAMES: Record<string, string> = { 'builtins.StandardError': 'builtins.Exception', 'builtins.unicode': 'builtins.str', 'builtins.long': 'builtins.int' }

/** The canonical (Python 3) module and name for a global as a pickle spelled it. */
export function canonicalGlobal(module: string, name: string): [string, string] {
  const m = PY2_MODULES[module] ?? module
  const mapped = PY2_NAMES[`${m}.${name}`]
  if (mapped) {
    const dot = mapped.lastIndexOf('.')
    return [mapped.slice(0, dot), mapped.slice(dot + 1)]
  }
  return [m, name]
}

/** Whether a canonical `module.name` may appear in a pickle troupe decodes. */
export function isAllowedGlobal(module: string, name: string): boolean {
  return allowed.has(`${module}.${name}`)
}

/** How to spell a canonical global for a Python 2 reader (protocol 2); Python 3 maps these back. */
export function py2Global(module: string, name: string): [string, string] {
  if (module === 'builtins') return BUILTIN_EXCEPTIONS.has(name) ? ['exceptions', py2Exception(name)] : ['__builtin__', name]
  if (module === 'queue') return ['Queue', name]
  return [module, name]
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
