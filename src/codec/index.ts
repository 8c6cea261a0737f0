export { toWireError, fromWireError, type WireError } from './error.js'
export { approxBytes } from './size.js'
export { marshal, unmarshal, registerPortable, reviverModules, portable, PORTABLE_TAG, type Portable, type Marshalled } from './marshal.js'
export { encodeV8, decodeV8, V8_FIRST_BYTE } from './v8.js'
export { checkV8, V8_DEFAULT_LIMITS, type V8Limits, type V8Check, type V8Refusal } from './v8-check.js'
export { checkJson } from './json-check.js'
export { encodePickle, errorToPy, type PickleEncodeOptions } from './pickle-encode.js'
export { decodePickle, decodePickleWithProtocol, decodePickleAsync, PICKLE_DEFAULT_LIMITS, type PickleDecodeOptions, type DecodedPickle } from './pickle-decode.js'
export { PICKLE_FIRST_BYTE } from './pickle-opcodes.js'
export {
  Tuple, tuple, tupleFrom, isTuple, TUPLE_PORTABLE, PyFloat, float, FrozenSet, ByteArray, OrderedDict, Slice, PyGlobal, PyObject,
  pyException, isPyException, pyToken, readToken, pyText, py2Unicode, isPy2Unicode, py2Int, isPy2Int, type PyToken,
} from './pickle-types.js'
export {
  pyTypeName, pyHashKey, pyEquals, pyLess, pySort, pyRepr, pyStr, pyFloatRepr, pyTruthy, isPyInt, pyIntValue, isPyNumber, pyNumberValue, type PyFlavor,
} from './py-value.js'
export { LOOSE_STRING, pack, unpack, encodeList, decodeList, isPacked, weight, packedBytes, ownBytes, movableBuffer, packForThread, unpacked, type Packed } from './packed.js'
