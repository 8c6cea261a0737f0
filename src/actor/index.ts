/**
 * troupe's actors: `Actor`, `spawn`, `ActorRef`, subjects, supervision,
 * death watch and seed 001's `Worker`. One ActorRef whether the actor lives
 * here, in a worker thread or in a child process.
 */
export { Actor, isTerminated, type ActorClass, type ActorHooks, type MessageOf, type ReplyOf, type ReplyHandle, type StopReason, type Terminated, type Cancel } from './actor.js'
export { spawn, type SpawnOptions, type Placement } from './spawn.js'
export type { ActorRef, JoinOptions } from './ref.js'
export type { AskOptions } from './pending.js'
export { pendingAsks } from './pending.js'
export type { MailboxOptions, MailboxStats, Overflow } from './mailbox.js'
export { publish, subscribe, unsubscribe, subscriptionCount, subjectMatches } from './subjects.js'
export { supervise, Supervisor, type SupervisionNode, type ChildSpec, type ActorChildSpec, type SupervisorChildSpec, type SupervisorOptions, type Strategy, type RestartType } from './supervisor.js'
export { watch } from './watch.js'
export { Worker, Result, TaskRunner, type WorkerOptions, type Task } from './worker.js'
export { deadLetterCount } from './router.js'
export { ACTOR_BATCH, TURN_BUDGET } from './dispatcher.js'
