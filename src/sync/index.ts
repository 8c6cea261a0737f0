export { Queue, SimpleQueue, JoinableQueue, type QueueWaitOptions, type IterateOptions, type QueueDescriptor } from './queue.js'
export { Pipe, Connection } from './pipe.js'
