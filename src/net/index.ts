export { parseAddress, formatAddress, type Address, type AddressLike } from './address.js'
export { FrameConnection, FrameReader, frameHeader, DEFAULT_MAX_FRAME, type FrameConnectionOptions } from './framing.js'
export {
  authkeyBytes, verifyAnswer, answerFor, deliverChallenge, answerChallenge, serverHandshake, clientHandshake,
  AUTH_FRAME_MAX, DEFAULT_HANDSHAKE_TIMEOUT,
} from './auth.js'
export { listen, connectTo, defaultLog, type Listener, type ListenOptions, type WireOptions } from './listener.js'
export { SpinPolicy, LoopPoller, spinUntil, setSpinning, spinningEnabled } from './hot.js'
