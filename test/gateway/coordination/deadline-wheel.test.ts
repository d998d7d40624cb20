import { expect, test } from 'vitest'
import { DeadlineWheel } from '../../../gateway/src/coordination/deadline-wheel.js'

test('work that settles in time passes through; work that does not is failed with the given error', async () => {
  const wheel = new DeadlineWheel()
  await expect(wheel.race(Promise.resolve(7), 1_000, () => new Error('late'))).resolves.toBe(7)
  await expect(wheel.race(Promise.reject(new Error('boom')), 1_000, () => new Error('late'))).rejects.toThrow('boom')
  let finish: (v: string) => void = () => {}
  const slow = new Promise<string>((resolve) => { finish = resolve })
  await expect(wheel.race(slow, 30, () => new Error('deadline passed'))).rejects.toThrow('deadline passed')
  finish('too late') // settling afterwards changes nothing
  await expect(wheel.race(new Promise<never>(() => {}), 1, () => new Error('second'))).rejects.toThrow('second')
})
