/** Backends: where troupe's primitives can live beyond one machine. */
export * from './redis/index.js'
