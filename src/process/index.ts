export { locate, locateNow, load, isMainModule, inTroupeWorker, assertNotBootstrapping, type ModuleRef } from './locate.js'
export { Endpoint, signalNumber, type Kind, type Transferable, type ExitInfo, type EndpointOptions, type Boot, type Link } from './endpoint.js'
export { currentPlace, placeLabel, parentProcess, cpuCount, type PlaceInfo } from './place.js'
export {
  serve, connect, placeAddress, isUnder, onPlaceDown, beforePlaceExit, runPlaceExitHooks, reviveAsync, isRouterFrame,
  type ObjectAddress, type RequestContext, type RequestOptions, type Handler, type Served, type Remote,
} from './router.js'
export { Lane, type Prepared } from './lane.js'
export { Process, currentProcess, activeChildren, processRuntime, type ProcessOptions } from './process.js'
export { HotParent, HotChild, HOT_SLOTS, WAIT_COLD, WAIT_BLOCKING, WAIT_SPINNING, type HotLink } from './hot-channel.js'
