import { describe, it, expect } from 'vitest'
import { ClockCache } from '../../../engine/src/sstable/clock-cache.js'

describe('ClockCache', () => {
  it('evicts entries not hit since the hand last passed, and tells onEvict about every entry that leaves', () => {
    const gone: string[] = []
    const c = new ClockCache<string, number>(3, (k) => gone.push(k))
    c.set('a', 1); c.set('b', 2); c.set('c', 3)
    expect(c.get('a')).toBe(1)
    c.set('d', 4) // a was hit: b goes
    expect(gone).toEqual(['b'])
    expect(c.get('b')).toBeUndefined()
    c.set('e', 5) // the hand cleared a's flag on its way: c goes (not hit), then a on the next
    expect(gone).toEqual(['b', 'c'])
    c.set('a', 10) // replacing reports the old value
    expect(gone).toEqual(['b', 'c', 'a'])
    expect(c.get('a')).toBe(10)
    expect(c.delete('d')).toBe(true)
    expect(c.delete('d')).toBe(false)
    expect(gone).toEqual(['b', 'c', 'a', 'd'])
    expect(c.size).toBe(2)
    c.clear()
    expect(gone.sort()).toEqual(['a', 'a', 'b', 'c', 'd', 'e'])
    expect(c.size).toBe(0)
    expect(c.charged).toBe(0)
  })

  it('bounds the total charge, refuses an entry above capacity, and deletes by predicate', () => {
    const c = new ClockCache<number, string>(100)
    c.set(1, 'big', 101)
    expect(c.get(1)).toBeUndefined()
    for (let i = 0; i < 1000; i++) {
      c.set(i, String(i), 1 + (i % 30))
      if (i % 3 === 0) c.get(i - 7)
      expect(c.charged).toBeLessThanOrEqual(100)
    }
    c.deleteWhere((k) => k % 2 === 0)
    expect([...c.values()].every((v) => Number(v) % 2 === 1)).toBe(true)
    for (let i = 0; i < 300; i++) c.set(10_000 + i, 'x', 1)
    expect(c.size).toBe(100)
    expect(c.charged).toBe(100)
  })
})
