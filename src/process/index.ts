export { locate, load, isMainModule, inTroupeWorker, type ModuleRef } from './locate.js'
export { Endpoint, signalNumber, type Kind, type ExitInfo, type EndpointOptions, type Boot, type Link } from './endpoint.js'
export { currentPlace, placeLabel, type PlaceInfo } from './place.js'
