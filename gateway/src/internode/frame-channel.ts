import { connect as connectTcp, isIP, type Socket } from 'node:net'
import { connect as connectTls } from 'node:tls'
import type { NodeTls } from '../node/node-tls.js'
import type { InternodeAuth } from './internode-auth.js'
import { SIGNED_HEADERS } from './internode-auth.js'
import {
  decodeAnswer, encodeRequestFrame, FrameReader, FRAMES_PATH, FRAMES_PROTOCOL, openReceived, type FrameKeys, type ReceivedFrame, type FrameRequest
} from './frame-codec.js'

/**
 * Largest answer frame a caller accepts: a replica write's cap (twice the sibling limit of the
 * largest values, body-limits.ts) at the default 1 MiB values, with room. The length comes before
 * the MAC, so this bounds what a forged length can make the caller buffer.
 */
export const MAX_ANSWER_FRAME_BYTES = 256 * 1024 * 1024

/** Longest the upgrade's answer head may be: it has three headers. */
const MAX_UPGRADE_HEAD_BYTES = 16 * 1024

/** Sequence numbers are u32: a connection that used them all is replaced by a new one. */
const LAST_ID = 0xffff_ffff

/** An answer to a call, in the terms the internode client checks answers in. */
export interface ChannelAnswer {
  readonly status: number
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  readonly body: Buffer
}

/**
 * Why a call on a channel got no answer. `code` is the socket's error code when the connection
 * failed (so the caller can tell a connection never made), FRAME_TIMEOUT when the answer did not come
 * in time, FRAME_REFUSED when the peer answered the upgrade with something else than 101 (`answer`
 * is that answer). `sent` is false when the call never left this node.
 */
export class ChannelError extends Error {
  readonly code: string
  readonly sent: boolean
  readonly answer: ChannelAnswer | undefined

  constructor (message: string, code: string, sent: boolean, answer?: ChannelAnswer) {
    super(message)
    this.code = code
    this.sent = sent
    this.answer = answer
  }
}

export const FRAME_TIMEOUT = 'LEVELRING_FRAME_TIMEOUT'
export const FRAME_REFUSED = 'LEVELRING_FRAME_REFUSED'

/** A call waiting for its answer; `id` is 0 until its frame is written (a call queued while the connection opens has none). */
interface Pending {
  readonly request: FrameRequest
  readonly resolve: (answer: ChannelAnswer) => void
  readonly reject: (err: ChannelError) => void
  timer: NodeJS.Timeout | undefined
  id: number
}

export interface FrameChannelOptions {
  readonly auth: InternodeAuth
  /** The member called: the upgrade is signed for it, and only it can answer the frames. */
  readonly node: string
  readonly address: string
  readonly tls?: NodeTls
  readonly connectTimeoutMs: number
}

/**
 * One frame connection from this node to a member (frame-codec.ts): opened by a signed upgrade whose
 * 101 must carry the member's signature, then every call is one request frame and one answer frame.
 * Calls made while it opens wait for it; frames written in one turn of the event loop leave in one
 * write. When the connection fails every call waiting on it fails; the channel is then closed for
 * good (the client opens another).
 */
export class FrameChannel {
  readonly #options: FrameChannelOptions
  readonly #socket: Socket
  readonly #pending = new Map<number, Pending>()
  #keys: FrameKeys | undefined
  #queued: Pending[] = []
  #nextId = 1
  #closed = false
  #corked = false

  constructor (options: FrameChannelOptions) {
    this.#options = options
    const { host, port } = splitAddress(options.address)
    const tls = options.tls
    this.#socket = tls === undefined
      ? connectTcp({ host, port, noDelay: true })
      : connectTls({ host, port, ca: tls.ca, cert: tls.cert, key: tls.key, ...(isIP(host) === 0 ? { servername: host } : {}) })
    this.#socket.setNoDelay(true)
    const connectTimer = setTimeout(() => { this.#fail(new ChannelError(`no connection within ${options.connectTimeoutMs} ms`, 'UND_ERR_CONNECT_TIMEOUT', false)) }, options.connectTimeoutMs)
    this.#socket.once(tls === undefined ? 'connect' : 'secureConnect', () => {
      clearTimeout(connectTimer)
      this.#upgrade()
    })
    this.#socket.on('error', (err: Error & { code?: string }) => {
      clearTimeout(connectTimer)
      this.#fail(new ChannelError(err.message, err.code ?? '', this.#keys !== undefined))
    })
    this.#socket.once('close', () => {
      clearTimeout(connectTimer)
      this.#fail(new ChannelError('the connection closed', 'ECONNRESET', this.#keys !== undefined))
    })
  }

  /** False once the connection failed or closed, or used its last sequence number: open another. */
  get usable (): boolean {
    return !this.#closed && this.#nextId < LAST_ID
  }

  /** Send one call; resolves with its answer, rejects with a ChannelError. */
  async call (request: FrameRequest, timeoutMs: number): Promise<ChannelAnswer> {
    if (!this.usable) throw new ChannelError('the connection is closed', 'ECONNRESET', false)
    return new Promise<ChannelAnswer>((resolve, reject) => {
      const call: Pending = { request, resolve, reject, timer: undefined, id: 0 }
      call.timer = setTimeout(() => {
        // A call that times out while the connection still opens was never written and took no sequence
        // number: the server, which closes the connection on a gap in the numbers, never misses it.
        if (call.id === 0) this.#queued.splice(this.#queued.indexOf(call), 1)
        else this.#pending.delete(call.id)
        reject(new ChannelError(`no answer within ${timeoutMs} ms`, FRAME_TIMEOUT, call.id !== 0))
      }, timeoutMs)
      if (this.#keys === undefined) this.#queued.push(call)
      else this.#send(call)
    })
  }

  /** Close the connection; calls waiting on it fail. */
  close (): void {
    this.#fail(new ChannelError('this node closed the connection', 'ECONNRESET', false))
  }

  /** Give `call` the next sequence number and write its frame. */
  #send (call: Pending): void {
    call.id = this.#nextId++
    this.#pending.set(call.id, call)
    this.#write(call.id, call.request)
  }

  #write (id: number, request: FrameRequest): void {
    if (!this.#corked) {
      this.#corked = true
      this.#socket.cork()
      process.nextTick(() => { this.#corked = false; this.#socket.uncork() })
    }
    this.#socket.write(encodeRequestFrame(this.#keys!.request, id, request))
  }

  #upgrade (): void {
    const { auth, node, address } = this.#options
    const headers = auth.signRequest('GET', FRAMES_PATH, undefined, node)
    const nonce = headers[SIGNED_HEADERS.nonce]!
    let head = `GET ${FRAMES_PATH} HTTP/1.1\r\nHost: ${address}\r\nConnection: Upgrade\r\nUpgrade: ${FRAMES_PROTOCOL}\r\n`
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`
    this.#socket.write(head + '\r\n')
    let received = Buffer.alloc(0)
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk])
      const end = received.indexOf('\r\n\r\n')
      if (end === -1) {
        if (received.length > MAX_UPGRADE_HEAD_BYTES) this.#fail(new ChannelError('the upgrade answer has no end', 'EPROTO', false))
        return
      }
      const { status, fields } = parseHead(received.subarray(0, end).toString('latin1'))
      const rest = received.subarray(end + 4)
      if (status !== 101) {
        // Read the refusal's body (its problem says why), then give up on the connection.
        const length = Number(fields['content-length'] ?? 0)
        if (rest.length < length && Number.isSafeInteger(length) && length <= MAX_UPGRADE_HEAD_BYTES) return
        const answer = { status, headers: fields, body: rest.subarray(0, length) }
        this.#socket.off('data', onData)
        this.#fail(new ChannelError(`the peer answered the upgrade with ${status}`, FRAME_REFUSED, false, answer))
        return
      }
      this.#socket.off('data', onData)
      if (!auth.answerIsFrom(node, 101, 'GET', FRAMES_PATH, nonce, Buffer.alloc(0), fields[SIGNED_HEADERS.signature])) {
        this.#fail(new ChannelError(`its answer (101) is not signed by node ${node} with the cluster secret`, FRAME_REFUSED, false, { status: 101, headers: fields, body: Buffer.alloc(0) }))
        return
      }
      this.#keys = auth.callerFrameKeys(nonce, node)
      this.#listen(rest)
      const queued = this.#queued
      this.#queued = []
      for (const call of queued) this.#send(call)
    }
    this.#socket.on('data', onData)
  }

  #listen (first: Buffer): void {
    const reader = new FrameReader(MAX_ANSWER_FRAME_BYTES)
    const onData = (chunk: Buffer): void => {
      let frames: ReceivedFrame[]
      try { frames = reader.push(chunk) } catch (err) { this.#fail(new ChannelError((err as Error).message, 'EPROTO', true)); return }
      for (const frame of frames) {
        if (frame.skipped !== undefined) { this.#fail(new ChannelError(`an answer frame of ${frame.skipped} bytes, more than ${MAX_ANSWER_FRAME_BYTES}`, 'EPROTO', true)); return }
        const payload = openReceived(this.#keys!.answer, frame)
        // An answer that does not verify ends the connection: nothing in it is used.
        if (payload === undefined) { this.#fail(new ChannelError(`an answer frame not signed by node ${this.#options.node} for this connection`, 'EPROTO', true)); return }
        const id = frame.id
        const pending = this.#pending.get(id)
        if (pending === undefined) continue // its call timed out (an answer is accepted once)
        this.#pending.delete(id)
        clearTimeout(pending.timer)
        let answer
        try { answer = decodeAnswer(payload) } catch (err) { pending.reject(new ChannelError((err as Error).message, 'EPROTO', true)); continue }
        pending.resolve({ status: answer.status, headers: answer.contentType === '' ? {} : { 'content-type': answer.contentType }, body: answer.body })
      }
    }
    this.#socket.on('data', onData)
    if (first.length > 0) onData(first)
  }

  #fail (err: ChannelError): void {
    if (!this.#closed) {
      this.#closed = true
      this.#socket.destroy()
    }
    const queued = this.#queued
    this.#queued = []
    // A call still queued never left this node, whatever broke the connection.
    for (const call of queued) { clearTimeout(call.timer); call.reject(new ChannelError(err.message, err.code, false, err.answer)) }
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer)
      pending.reject(err)
    }
    this.#pending.clear()
  }
}

function splitAddress (address: string): { host: string, port: number } {
  const colon = address.lastIndexOf(':')
  const host = address.slice(0, colon)
  return { host: host.startsWith('[') ? host.slice(1, -1) : host, port: Number(address.slice(colon + 1)) }
}

function parseHead (head: string): { status: number, fields: Record<string, string> } {
  const lines = head.split('\r\n')
  const status = Number(/^HTTP\/1\.[01] ([0-9]{3})/.exec(lines[0] ?? '')?.[1] ?? 0)
  const fields: Record<string, string> = {}
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':')
    if (colon > 0) fields[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  return { status, fields }
}
