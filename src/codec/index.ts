export { toWireError, fromWireError, type WireError } from './error.js'
export { marshal, unmarshal, registerPortable, portable, PORTABLE_TAG, type Portable, type Marshalled } from './marshal.js'
export { encodeV8, decodeV8, V8_FIRST_BYTE } from './v8.js'
