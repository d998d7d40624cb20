import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import {
  closedVector, contextHasSeen, descends, discard, dotKey, emptyDvvSet, NOTHING_SEEN, readContext, sync, update,
  versionVector, writeContext, type CausalContext, type Dot, type DvvSet
} from '../../../gateway/src/version/dvv.js'
import { DEFAULT_PRUNING, pruneClock } from '../../../gateway/src/version/pruning.js'

type S = DvvSet<string>
const values = (s: S): string[] => s.siblings.map((x) => x.value).sort()

/** A tiny model of replicas stamping writes: each actor has its own growing counter. */
class Stamper {
  #counters = new Map<string, number>()
  dot (actor: string): Dot {
    const next = (this.#counters.get(actor) ?? 0) + 1 + Math.floor(Math.random() * 3) // gaps: node-wide counters
    this.#counters.set(actor, next)
    return { actor, counter: next }
  }
}

describe('dotted version vector sets', () => {
  test('a write with the context of a read replaces what was read; a blind write adds a sibling', () => {
    const st = new Stamper()
    let s: S = emptyDvvSet()
    s = update(s, NOTHING_SEEN, st.dot('a'), 'v1', 1)
    const ctx = readContext(s)
    s = update(s, ctx, st.dot('a'), 'v2', 2)
    expect(values(s)).toEqual(['v2'])
    s = update(s, NOTHING_SEEN, st.dot('a'), 'blind', 3)
    expect(values(s)).toEqual(['blind', 'v2'])
    // Two writes from the same (old) context: both survive, the first one's supersession still holds.
    const old = ctx
    s = update(s, old, st.dot('b'), 'x', 4)
    s = update(s, old, st.dot('a'), 'y', 5)
    expect(values(s)).toEqual(['blind', 'v2', 'x', 'y'])
    s = update(s, readContext(s), st.dot('b'), 'merged', 6)
    expect(values(s)).toEqual(['merged'])
  })

  test('the context after a write covers the new version but not the siblings left beside it', () => {
    const st = new Stamper()
    let s: S = emptyDvvSet()
    const concurrent = st.dot('a')
    s = update(s, NOTHING_SEEN, concurrent, 'other client', 1)
    const mine = st.dot('a')
    s = update(s, NOTHING_SEEN, mine, 'mine', 2)
    const ctx = writeContext(s, mine)
    expect(contextHasSeen(ctx, mine)).toBe(true)
    expect(contextHasSeen(ctx, concurrent)).toBe(false)
    // A plain vector could not say this: a:mine >= a:concurrent.
    expect(versionVector(s).get('a')).toBeGreaterThanOrEqual(concurrent.counter)
    s = update(s, ctx, st.dot('a'), 'mine again', 3)
    expect(values(s)).toEqual(['mine again', 'other client'])
    // Only the closed part (below the unseen dot) is folded into clocks.
    expect(closedVector(ctx).get('a') ?? 0).toBe(concurrent.counter - 1)
  })

  test('a stale dot is refused rather than hidden', () => {
    let s: S = emptyDvvSet()
    s = update(s, NOTHING_SEEN, { actor: 'a', counter: 5 }, 'v', 1)
    expect(() => update(s, NOTHING_SEEN, { actor: 'a', counter: 5 }, 'w', 2)).toThrow(/not fresh/)
  })

  test('discard keeps siblings the context has not seen and folds the context into the clock', () => {
    let s: S = emptyDvvSet()
    s = update(s, NOTHING_SEEN, { actor: 'a', counter: 1 }, 'a1', 1)
    s = update(s, NOTHING_SEEN, { actor: 'b', counter: 1 }, 'b1', 1)
    const d = discard(s, { vv: new Map([['a', 1], ['c', 9]]), unseen: [] })
    expect(values(d)).toEqual(['b1'])
    expect(d.clock.get('c')).toEqual({ counter: 9, timestamp: 0 })
  })

  test('sync: concurrent siblings from both sides survive, superseded ones do not', () => {
    let base: S = emptyDvvSet()
    base = update(base, NOTHING_SEEN, { actor: 'a', counter: 1 }, 'v0', 1)
    const ctx = readContext(base)
    const left = update(base, ctx, { actor: 'a', counter: 2 }, 'left', 2)
    const right = update(base, ctx, { actor: 'b', counter: 1 }, 'right', 2)
    const merged = sync(left, right)
    expect(values(merged)).toEqual(['left', 'right'])
    expect(values(sync(merged, base))).toEqual(['left', 'right'])
    const resolved = update(merged, readContext(merged), { actor: 'b', counter: 2 }, 'resolved', 3)
    expect(values(sync(resolved, left))).toEqual(['resolved'])
    expect(values(sync(right, resolved))).toEqual(['resolved'])
    expect(descends(versionVector(resolved), versionVector(merged))).toBe(true)
    expect(descends(versionVector(left), versionVector(right))).toBe(false)
  })

  test('property: replicas that exchange sets converge, and no write is lost unless a context saw it', () => {
    const actors = ['a', 'b', 'c']
    // A history: each step writes at one replica (with that replica's current context, or blind),
    // or syncs one replica from another.
    const step = fc.oneof(
      fc.record({ kind: fc.constant('write' as const), at: fc.nat(2), blind: fc.boolean() }),
      fc.record({ kind: fc.constant('sync' as const), at: fc.nat(2), from: fc.nat(2) })
    )
    fc.assert(fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
      const replicas: S[] = [emptyDvvSet(), emptyDvvSet(), emptyDvvSet()]
      const counters = [0, 0, 0]
      const superseded = new Set<string>()
      const written: string[] = []
      for (const [i, s] of steps.entries()) {
        if (s.kind === 'write') {
          const current = replicas[s.at]!
          const ctx: CausalContext = s.blind ? NOTHING_SEEN : readContext(current)
          if (!s.blind) for (const sib of current.siblings) superseded.add(sib.value)
          counters[s.at] = counters[s.at]! + 1 + (i % 2)
          const value = `w${i}`
          written.push(value)
          replicas[s.at] = update(current, ctx, { actor: actors[s.at]!, counter: counters[s.at]! }, value, i)
        } else {
          replicas[s.at] = sync(replicas[s.at]!, replicas[s.from]!)
        }
      }
      const all = replicas.reduce((x, y) => sync(x, y))
      // Convergence: merging in any order gives the same set.
      const other = [replicas[2]!, replicas[0]!, replicas[1]!].reduce((x, y) => sync(y, x))
      expect(values(all)).toEqual(values(other))
      expect(sync(all, all)).toEqual(all)
      // Every write that no context superseded is still there.
      for (const value of written) {
        if (!superseded.has(value)) expect(values(all)).toContain(value)
      }
      for (const sib of all.siblings) expect(superseded.has(sib.value)).toBe(false)
    }), { numRuns: 300 })
  })

  test('dotKey and the canonical order of siblings', () => {
    let s: S = emptyDvvSet()
    s = update(s, NOTHING_SEEN, { actor: 'z', counter: 3 }, 'z', 1)
    s = update(s, NOTHING_SEEN, { actor: 'a', counter: 7 }, 'a', 1)
    expect(s.siblings.map((x) => dotKey(x.dot))).toEqual(['a:7', 'z:3'])
    expect([...s.clock.keys()]).toEqual(['a', 'z'])
  })
})

describe('clock pruning', () => {
  function withActors (n: number, timestampOf: (i: number) => number, live: number[] = []): S {
    const clock = new Map<string, { counter: number, timestamp: number }>()
    for (let i = 0; i < n; i++) clock.set(`actor${String(i).padStart(3, '0')}`, { counter: 10, timestamp: timestampOf(i) })
    return { clock, siblings: live.map((i) => ({ dot: { actor: `actor${String(i).padStart(3, '0')}`, counter: 10 }, value: `v${i}` })) }
  }
  const now = 1_000_000_000
  const day = 86_400_000

  test('small clocks are never pruned, however old', () => {
    const s = withActors(DEFAULT_PRUNING.small, () => 0)
    expect(pruneClock(s, DEFAULT_PRUNING, now)).toBe(s)
  })

  test('above small, entries older than old are dropped, oldest first, down to small', () => {
    const s = withActors(15, (i) => now - 2 * day + i)
    const p = pruneClock(s, DEFAULT_PRUNING, now)
    expect(p.clock.size).toBe(DEFAULT_PRUNING.small)
    expect([...p.clock.keys()][0]).toBe('actor005') // the five oldest went
  })

  test('between small and big, entries that are not old stay', () => {
    const s = withActors(30, () => now - 60_000)
    expect(pruneClock(s, DEFAULT_PRUNING, now).clock.size).toBe(30)
  })

  test('above big, entries are dropped down to big, but never young ones', () => {
    const s = withActors(70, (i) => now - 60_000 - (70 - i))
    expect(pruneClock(s, DEFAULT_PRUNING, now).clock.size).toBe(DEFAULT_PRUNING.big)
    const young = withActors(70, () => now - 1_000)
    expect(pruneClock(young, DEFAULT_PRUNING, now).clock.size).toBe(70)
  })

  test('an entry whose actor has a live sibling is never dropped', () => {
    const s = withActors(15, (i) => now - 2 * day + i, [0, 1])
    const p = pruneClock(s, DEFAULT_PRUNING, now)
    expect(p.clock.has('actor000')).toBe(true)
    expect(p.clock.has('actor001')).toBe(true)
    expect(p.clock.size).toBe(DEFAULT_PRUNING.small)
    expect(p.siblings).toHaveLength(2)
  })
})
