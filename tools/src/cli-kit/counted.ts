/** "1 record", "2 records": a count with its noun in the right number (plural given when not noun + 's'). */
export function counted (n: number, noun: string, plural = noun + 's'): string {
  return `${n} ${n === 1 ? noun : plural}`
}
