import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import TrialGateCore
import TrialGateService
import TrialGateStore

extension LineServer {
    /// Serves one connection: authenticate first, then one reply per request line, in order.
    func serve(_ connection: NIOAsyncChannel<Frame, ByteBuffer>, workers: Workers) async {
        let channel = connection.channel
        let peer = Self.peerName(channel)
        guard state.open(channel, limit: config.maxConnections) else {
            logger.warning("connection refused: too many connections or draining", metadata: ["peer": "\(peer)"])
            try? await connection.executeThenClose { _, outbound in
                try await outbound.write(Self.line(["ok": false, "error": ["code": "too_many_connections", "message": "the server is at its connection limit or shutting down; try again later"]]))
            }
            return
        }
        defer { state.close(channel) }
        do {
            try await connection.executeThenClose { inbound, outbound in
                var principal: Principal?
                for try await frame in inbound {
                    guard state.setBusy(channel, true) else { break }
                    let (reply, next) = await handle(frame, principal: principal, peer: peer, workers: workers)
                    if let reply { try await outbound.write(Self.line(reply)) }
                    switch next {
                    case .continue(let p): principal = p
                    case .close: return
                    case .subscribe(let id, let from, let p):
                        try await stream(from: from, id: id, principal: p, channel: channel, outbound: outbound)
                        return
                    }
                    guard state.setBusy(channel, false) else { break }
                }
            }
        } catch {
            logger.debug("connection ended", metadata: ["peer": "\(peer)", "error": "\(error)"])
        }
    }

    enum Next {
        case `continue`(Principal?)
        case close
        case subscribe(id: JSONValue?, from: Int64, principal: Principal)
    }

    /// Answers one frame. Pure protocol logic: the only effects are the worker call and log lines.
    func handle(_ frame: Frame, principal: Principal?, peer: String, workers: Workers) async -> (JSONValue?, Next) {
        let bytes: [UInt8]
        switch frame {
        case .tooLong(let limit):
            return (Self.error(nil, "line_too_long", "request lines are limited to \(limit) bytes; the line was dropped"), .continue(principal))
        case .line(let b):
            bytes = b
        }
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return (nil, .continue(principal)) }
        let request: JSONValue
        do { request = try JSONParser.parse(bytes) } catch {
            return (Self.error(nil, "invalid_json", ServiceError(error).message), .continue(principal))
        }
        let id = request["id"]
        guard case .object(let members) = request, let cmd = members["cmd"]?.stringValue else {
            return (Self.error(id, "bad_request", "a request is a JSON object with a \"cmd\""), .continue(principal))
        }
        if cmd == "auth" {
            return authenticate(members, id: id, current: principal, peer: peer)
        }
        guard let principal else {
            logger.notice("request before authentication", metadata: ["peer": "\(peer)", "cmd": "\(cmd)"])
            return (Self.error(id, "unauthenticated", "send {\"cmd\":\"auth\",\"token\":\"…\"} first"), .continue(nil))
        }
        if cmd == "subscribe" {
            let extra = members.keys.filter { $0 != "id" && $0 != "cmd" && $0 != "from" }
            let from = members["from"].map { $0.intValue } ?? 1
            guard extra.isEmpty, let from, from >= 1 else {
                return (Self.error(id, "bad_request", "subscribe takes \"from\": a sequence number ≥ 1"), .continue(principal))
            }
            guard principal.role == .sponsor || principal.role == .regulator else {
                logger.notice("forbidden", metadata: ["peer": "\(peer)", "principal": "\(principal.name)", "cmd": "subscribe"])
                return (Self.error(id, "forbidden", "\(principal.name) (\(principal.role.rawValue)) may not subscribe"), .continue(principal))
            }
            return (nil, .subscribe(id: id, from: Int64(from), principal: principal))
        }
        let command: Command
        do { command = try Command.parse(request) } catch {
            return (Self.error(id, ServiceError(error).code, ServiceError(error).message), .continue(principal))
        }
        if case .initialise = command {
            return (Self.error(id, "forbidden", "init is done once, from the command line"), .continue(principal))
        }
        switch await workers.run(command, as: principal) {
        case .success(let result):
            var reply: [String: JSONValue] = ["ok": true, "result": result]
            if let id { reply["id"] = id }
            return (.object(reply), .continue(principal))
        case .failure(let e):
            if e.code == "forbidden" {
                logger.notice("forbidden", metadata: ["peer": "\(peer)", "principal": "\(principal.name)", "cmd": "\(cmd)", "reason": "\(e.message)"])
            }
            return (Self.error(id, e.code, e.message), .continue(principal))
        }
    }

    private func authenticate(_ members: [String: JSONValue], id: JSONValue?, current: Principal?, peer: String) -> (JSONValue?, Next) {
        let host = Self.host(of: peer)
        if state.isLimited(peer: host, limit: config.authFailureLimit, window: config.authFailureWindow) {
            logger.warning("authentication refused: rate limited", metadata: ["peer": "\(peer)"])
            return (Self.error(id, "rate_limited", "too many failed authentications from \(host); wait and try again"), .close)
        }
        let extra = members.keys.filter { $0 != "id" && $0 != "cmd" && $0 != "token" }
        guard extra.isEmpty, let token = members["token"]?.stringValue else {
            return (Self.error(id, "bad_request", "auth takes exactly \"token\""), .continue(current))
        }
        let directory: UserDirectory
        do { directory = try UserDirectory.load(path: config.usersPath) } catch {
            logger.error("users file unreadable", metadata: ["error": "\(error)"])
            return (Self.error(id, "internal", "the users file cannot be read"), .continue(current))
        }
        guard let principal = directory.authenticate(token: token) else {
            let limited = state.authFailed(peer: host, limit: config.authFailureLimit, window: config.authFailureWindow)
            logger.warning("authentication failed", metadata: ["peer": "\(peer)", "rate_limited": "\(limited)"])
            return (Self.error(id, "auth_failed", "unknown token"), limited ? .close : .continue(current))
        }
        logger.info("authenticated", metadata: ["peer": "\(peer)", "principal": "\(principal.name)", "role": "\(principal.role.rawValue)"])
        var reply: [String: JSONValue] = ["ok": true, "result": ["principal": .string(principal.name), "role": .string(principal.role.rawValue),
                                                                  "sites": .array(principal.sites.map { .string($0) })]]
        if let id { reply["id"] = id }
        return (.object(reply), .continue(principal))
    }

    /// Catch-up from `from`, then the live log, one `{"event": …}` line per event. Never holds up writers:
    /// it reads the store on its own connection at its own pace, and learns of new commits by polling a counter.
    func stream(from: Int64, id: JSONValue?, principal: Principal, channel: Channel,
                outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws {
        if let idle = try? await channel.pipeline.handler(type: IdleCloser.self).get() {
            try? await channel.eventLoop.submit { idle.exempt = true }.get()
        }
        let store = try await NIOThreadPool.singleton.runIfActive { try EventStore.open(path: self.config.storePath) }
        defer { store.close() }
        logger.info("subscribed", metadata: ["principal": "\(principal.name)", "from": "\(from)"])
        var ack: [String: JSONValue] = ["ok": true, "result": ["subscribed": true, "from": .number(Double(from))]]
        if let id { ack["id"] = id }
        try await outbound.write(Self.line(.object(ack)))
        var last = from - 1
        var quiet = ContinuousClock.now
        while !Task.isCancelled && !state.draining && channel.isActive {
            if state.committedSize > last {
                let upTo = last
                let events = try await NIOThreadPool.singleton.runIfActive { try store.events(from: upTo + 1, through: upTo + 500) }
                if events.isEmpty {
                    try await Task.sleep(for: .milliseconds(20))
                    continue
                }
                var buffer = ByteBuffer()
                for e in events {
                    buffer.writeBytes(CanonicalJSON.encode(["event": e.json]))
                    buffer.writeInteger(UInt8(ascii: "\n"))
                }
                try await outbound.write(buffer)
                last = events.last!.seq
                quiet = .now
            } else {
                if ContinuousClock.now - quiet > .seconds(Int64(config.heartbeatInterval.nanoseconds / 1_000_000_000)) {
                    try await outbound.write(Self.line(["heartbeat": ["log_size": .number(Double(last))]]))
                    quiet = .now
                }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    static func error(_ id: JSONValue?, _ code: String, _ message: String) -> JSONValue {
        var reply: [String: JSONValue] = ["ok": false, "error": ["code": .string(code), "message": .string(message)]]
        if let id { reply["id"] = id }
        return .object(reply)
    }

    static func line(_ value: JSONValue) -> ByteBuffer {
        var bytes = CanonicalJSON.encode(value)
        bytes.append(UInt8(ascii: "\n"))
        return ByteBuffer(bytes: bytes)
    }

    static func peerName(_ channel: Channel) -> String {
        guard let address = channel.remoteAddress else { return "unix" }
        switch address {
        case .v4, .v6: return "\(address.ipAddress ?? "?"):\(address.port ?? 0)"
        default: return "unix"
        }
    }

    static func host(of peer: String) -> String {
        guard let colon = peer.lastIndex(of: ":") else { return peer }
        return String(peer[..<colon])
    }
}
