import { useState } from 'preact/hooks'
import type { ActionResult, QueueAction } from '../../src/cli/dashboard/model.ts'
import { pageToken } from './stream.ts'

/** The last action's outcome, for the page's notice line. */
export interface ActionNotice { ok: boolean; text: string; at: number }

/**
 * POST an action the way the server wants it: JSON, with the page's token in
 * a header (the server never acts on a cookie alone).
 */
export async function postAction(action: QueueAction): Promise<ActionResult> {
  const token = pageToken()
  const res = await fetch('api/actions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { 'x-troupe-token': token } : {}) },
    body: JSON.stringify(action),
  })
  const body = await res.json().catch(() => ({ ok: false, error: `HTTP ${res.status}` })) as ActionResult & { error?: string }
  if (!res.ok || !body.ok) throw new Error(body.error ?? body.message ?? `HTTP ${res.status}`)
  return body
}

/** `act(action)` and the notice of the last one. */
export function useActions(): { act: (a: QueueAction) => Promise<void>; notice?: ActionNotice; busy: boolean } {
  const [notice, setNotice] = useState<ActionNotice>()
  const [busy, setBusy] = useState(false)
  const act = async (a: QueueAction) => {
    setBusy(true)
    try {
      const r = await postAction(a)
      setNotice({ ok: true, text: r.message, at: Date.now() })
    } catch (err) {
      setNotice({ ok: false, text: (err as Error).message, at: Date.now() })
    } finally {
      setBusy(false)
    }
  }
  return { act, notice, busy }
}
