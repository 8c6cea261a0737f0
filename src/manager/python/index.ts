/**
 * CPython's manager dialect: troupe managers serve Python `BaseManager`
 * clients on the same port as troupe peers, and `connect({ dialect: 'python' })`
 * reaches Python `BaseManager` servers. See docs/interop.md.
 */
export { servePythonConnection, PYTHON_CONTROL } from './serve.js'
export { snakeCase, camelCase, errorFromPython, tracebackError } from './adapt.js'
export { PythonChannel, PYTHON_MAX_CONNECTIONS } from './channel.js'
