/**
 * Publish/subscribe by subject, NATS style: subjects are dot-separated
 * tokens (`evt.ping`); a pattern token `*` matches exactly one token and a
 * final `>` matches one or more. Subscriptions live in the root place of the
 * troupe, so a subscription made by an actor in a child process reaches
 * publishers in every other place; publishing from a child sends one frame to
 * the root, which fans out.
 */
import { marshal, portable, unmarshal } from '../codec/index.js'
import type { ActorRef } from './ref.js'
import { placeId, rootPlaceId } from './place.js'
import { onFrame, route } from './router.js'
import { watch } from './watch.js'

interface Subscription {
  pattern: string
  tokens: string[]
  ref: ActorRef<any, any>
  unwatch: () => void
}

// key: `${pattern}\0${place}#${id}`, so subscribing the same actor twice (e.g. from onStart after a restart) is one subscription.
const subs = new Map<string, Subscription>()

function refKey(ref: ActorRef<any, any>): string {
  const d = (ref as unknown as { [portable]?: () => { data: { place: string; id: number } } })[portable]?.()
  if (!d) throw new TypeError('subscribe() needs an ActorRef')
  return `${d.data.place}#${d.data.id}`
}

/** Split a subject or pattern into tokens, refusing empty tokens, wildcards in subjects and a '>' before the end. */
export function checkSubject(subject: string, what: 'subject' | 'pattern'): string[] {
  if (typeof subject !== 'string' || subject.length === 0) throw new TypeError(`${what} must be a non-empty string like 'evt.ping'`)
  const tokens = subject.split('.')
  tokens.forEach((t, i) => {
    if (t.length === 0) throw new TypeError(`${what} '${subject}' has an empty token`)
    if (what === 'subject' && (t === '*' || t === '>')) throw new TypeError(`cannot publish to '${subject}': wildcards belong in subscription patterns`)
    if (t === '>' && i !== tokens.length - 1) throw new TypeError(`pattern '${subject}': '>' must be the last token`)
  })
  return tokens
}

/** True when `subject` matches the pattern's tokens. */
export function subjectMatches(patternTokens: readonly string[], subjectTokens: readonly string[]): boolean {
  const n = patternTokens.length
  for (let i = 0; i < n; i++) {
    const p = patternTokens[i]
    if (p === '>') return subjectTokens.length > i
    if (i >= subjectTokens.length) return false
    if (p !== '*' && p !== subjectTokens[i]) return false
  }
  return n === subjectTokens.length
}

function addLocal(pattern: string, ref: ActorRef<any, any>): void {
  const key = `${pattern}\0${refKey(ref)}`
  if (subs.has(key)) return
  const sub: Subscription = { pattern, tokens: checkSubject(pattern, 'pattern'), ref, unwatch: () => {} }
  subs.set(key, sub)
  // An actor that ends is unsubscribed from everything.
  sub.unwatch = watch(ref, () => { subs.delete(key) })
}

function removeLocal(pattern: string, ref: ActorRef<any, any>): void {
  const key = `${pattern}\0${refKey(ref)}`
  const sub = subs.get(key)
  if (!sub) return
  subs.delete(key)
  sub.unwatch()
}

function deliverLocal(subject: string, msg: unknown): number {
  const tokens = subject.split('.')
  let n = 0
  for (const [key, sub] of subs) {
    if (!subjectMatches(sub.tokens, tokens)) continue
    try {
      const r = sub.ref.send(msg)
      if (r) r.catch(() => {})
      n++
    } catch {
      // Closed or stopped: it will not take messages again.
      subs.delete(key)
      sub.unwatch()
    }
  }
  return n
}

/** Subscribe `ref` to every subject matching `pattern` (`evt.ping`, `evt.*`, `evt.>`). Returns a function that unsubscribes. */
export function subscribe(pattern: string, ref: ActorRef<any, any>): () => void {
  checkSubject(pattern, 'pattern')
  if (placeId() === rootPlaceId()) addLocal(pattern, ref)
  else route({ t: 'sub', to: rootPlaceId(), pattern, ref: marshal(ref, 'ref').value })
  return () => unsubscribe(pattern, ref)
}

/** Remove a subscription made with `subscribe`. */
export function unsubscribe(pattern: string, ref: ActorRef<any, any>): void {
  if (placeId() === rootPlaceId()) removeLocal(pattern, ref)
  else route({ t: 'unsub', to: rootPlaceId(), pattern, ref: marshal(ref, 'ref').value })
}

/** Send `msg` to every actor subscribed to a pattern matching `subject`, wherever it lives. */
export function publish(subject: string, msg: unknown): void {
  checkSubject(subject, 'subject')
  if (placeId() === rootPlaceId()) { deliverLocal(subject, msg); return }
  const m = marshal(msg, 'message')
  route({ t: 'pub', to: rootPlaceId(), subject, m: m.value, p: m.portables })
}

/** How many subscriptions the root holds (0 elsewhere): for tests and diagnostics. */
export function subscriptionCount(): number {
  return subs.size
}

onFrame('sub', (f: { pattern: string; ref: unknown }) => addLocal(f.pattern, unmarshal(f.ref) as ActorRef<any, any>))
onFrame('unsub', (f: { pattern: string; ref: unknown }) => removeLocal(f.pattern, unmarshal(f.ref) as ActorRef<any, any>))
onFrame('pub', (f: { subject: string; m: unknown; p: boolean }) => { deliverLocal(f.subject, unmarshal(f.m, f.p)) })
