import Foundation
import Logging
import NIOCore
import TrialGateCore
import TrialGateService

/// What to do with one request frame, decided without touching the store.
enum Step {
    /// Answer now (nil: no answer), then carry on as `Next` says.
    case reply(JSONValue?, LineServer.Next)
    /// Run a command on a worker and answer with its result.
    case run(Command, id: JSONValue?, cmd: String)
    /// Switch the connection to streaming the log from `from`.
    case subscribe(id: JSONValue?, from: Int64)
}

extension LineServer {
    enum Next {
        case `continue`(Principal?)
        case close
    }

    /// Decides what a frame asks for. Pure protocol logic: its only effects are log lines and the
    /// authentication rate-limit counters.
    func step(_ frame: Frame, principal: Principal?, peer: Peer) -> Step {
        let bytes: [UInt8]
        switch frame {
        case .tooLong(let limit):
            return .reply(Self.error(nil, .lineTooLong, "request lines are limited to \(limit) bytes; the line was dropped"), .continue(principal))
        case .line(let b):
            bytes = b
        }
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return .reply(nil, .continue(principal)) }
        let request: JSONValue
        do { request = try JSONParser.parse(bytes) } catch {
            return .reply(Self.error(nil, .invalidJSON, TrialGateError(error).message), .continue(principal))
        }
        let id = request["id"]
        guard case .object(let members) = request, let cmd = members["cmd"]?.stringValue else {
            return .reply(Self.error(id, .badRequest, "a request is a JSON object with a \"cmd\""), .continue(principal))
        }
        if cmd == "auth" {
            let (reply, next) = authenticate(members, id: id, current: principal, peer: peer)
            return .reply(reply, next)
        }
        guard let principal else {
            logger.notice("request before authentication", metadata: ["peer": "\(peer)", "cmd": .untrusted(cmd)])
            return .reply(Self.error(id, .unauthenticated, "send {\"cmd\":\"auth\",\"token\":\"…\"} first"), .continue(nil))
        }
        // An account disabled, removed, expired or given a new token since this session authenticated acts no more.
        guard state.allows(principal) else {
            logger.notice("session of a revoked principal refused", metadata: ["peer": "\(peer)"])
            // Answered, then closed: the connection holds no slot as a logged-in one any more.
            return .reply(Self.error(id, .revoked, "this session's account is no longer in force (disabled, removed, expired or its token replaced); connect and authenticate again"),
                          .close)
        }
        if cmd == "subscribe" {
            let extra = members.keys.filter { $0 != "id" && $0 != "cmd" && $0 != "from" }
            let from = members["from"].map { $0.intValue } ?? 1
            guard extra.isEmpty, let from, from >= 1 else {
                return .reply(Self.error(id, .badRequest, "subscribe takes \"from\": a sequence number ≥ 1"), .continue(principal))
            }
            guard Access.maySubscribe(principal.role) else {
                logger.notice("forbidden", metadata: ["peer": "\(peer)", "principal": .untrusted(principal.name), "cmd": "subscribe"])
                return .reply(Self.error(id, .forbidden, "\(principal.name) (\(principal.role.rawValue)) may not subscribe"), .continue(principal))
            }
            return .subscribe(id: id, from: Int64(from))
        }
        let command: Command
        do { command = try Command.parse(request) } catch {
            return .reply(Self.error(id, TrialGateError(error).code, TrialGateError(error).message), .continue(principal))
        }
        if case .initialise = command {
            return .reply(Self.error(id, .forbidden, "init is done once, from the command line"), .continue(principal))
        }
        return .run(command, id: id, cmd: cmd)
    }

    /// The reply to a command's result, logging refusals with the principal and the peer.
    func reply(to result: Result<JSONValue, TrialGateError>, id: JSONValue?, cmd: String, principal: Principal, peer: Peer) -> JSONValue {
        switch result {
        case .success(let value):
            var reply: [String: JSONValue] = ["ok": true, "result": value]
            if let id { reply["id"] = id }
            return .object(reply)
        case .failure(let e):
            if e.code == .forbidden {
                logger.notice("forbidden", metadata: ["peer": "\(peer)", "principal": .untrusted(principal.name), "cmd": .untrusted(cmd), "reason": .untrusted(e.message)])
            }
            // A wrong signature component is an attempt to sign as someone (21 CFR 11.300(d)): said loudly, every time.
            if [.signingFailed, .badSignature, .signingComponents, .signingLocked].contains(e.code) {
                logger.warning("signing refused", metadata: ["peer": "\(peer)", "principal": .untrusted(principal.name), "cmd": .untrusted(cmd),
                                                             "code": .untrusted(e.code.rawValue), "reason": .untrusted(e.message)])
            }
            return Self.error(id, e.code, e.message)
        }
    }

    /// The reply line to a worker's answer. An encoded result is placed as it is into the reply's canonical form,
    /// `{"id":…,"ok":true,"result":…}` (the keys in RFC 8785 order), which is byte for byte the encoding of `reply(to:…)`.
    func replyLine(to result: Result<Answer, TrialGateError>, id: JSONValue?, cmd: String, principal: Principal, peer: Peer) -> ByteBuffer {
        let value: Result<JSONValue, TrialGateError>
        switch result {
        case .success(.encoded(let encoded)):
            let encodedID = id.map(CanonicalJSON.encode)
            var out = ByteBuffer()
            out.reserveCapacity(encoded.count + (encodedID?.count ?? 0) + 32)
            out.writeStaticString("{")
            if let encodedID {
                out.writeStaticString("\"id\":")
                out.writeBytes(encodedID)
                out.writeStaticString(",")
            }
            out.writeStaticString("\"ok\":true,\"result\":")
            out.writeBytes(encoded)
            out.writeStaticString("}\n")
            return out
        case .success(.value(let v)): value = .success(v)
        case .failure(let e): value = .failure(e)
        }
        return Self.line(reply(to: value, id: id, cmd: cmd, principal: principal, peer: peer))
    }

    /// Checks a token (`UserDirectory.authenticate` compares digests in constant time). A valid token is let in even
    /// from a source the failure limit has stopped (see `AuthFailureLimiter`: the limit sheds floods, it does not
    /// guard 256-bit tokens). A wrong one is logged until its source reaches the limit; after that it is answered
    /// `rate_limited` and the connection closed without a log line each, so a flood cannot flood the log either.
    private func authenticate(_ members: [String: JSONValue], id: JSONValue?, current: Principal?, peer: Peer) -> (JSONValue?, Next) {
        let extra = members.keys.filter { $0 != "id" && $0 != "cmd" && $0 != "token" }
        guard extra.isEmpty, let token = members["token"]?.stringValue else {
            return (Self.error(id, .badRequest, "auth takes exactly \"token\""), .continue(current))
        }
        guard let principal = state.users.authenticate(token: token, now: SystemClock().now()) else {
            let wasLimited = state.isLimited(peer.source)
            let limited = state.authFailed(from: peer.source)
            if wasLimited {
                return (Self.error(id, .rateLimited, "too many failed authentications from \(peer.source); wait and try again"), .close)
            }
            logger.warning("authentication failed", metadata: ["peer": "\(peer)", "source": "\(peer.source)", "rate_limited": "\(limited)"])
            return (Self.error(id, .authFailed, "unknown token"), limited ? .close : .continue(current))
        }
        logger.info("authenticated", metadata: ["peer": "\(peer)", "principal": .untrusted(principal.name), "role": "\(principal.role.rawValue)"])
        var reply: [String: JSONValue] = ["ok": true, "result": ["principal": .string(principal.name), "role": .string(principal.role.rawValue),
                                                                  "sites": .array(principal.sites.map { .string($0) })]]
        if let id { reply["id"] = id }
        return (.object(reply), .continue(principal))
    }

    /// The acknowledgement that starts a subscription's stream.
    static func subscribed(_ id: JSONValue?, from: Int64) -> JSONValue {
        var ack: [String: JSONValue] = ["ok": true, "result": ["subscribed": true, "from": .number(Double(from))]]
        if let id { ack["id"] = id }
        return .object(ack)
    }

    static func error(_ id: JSONValue?, _ code: ErrorCode, _ message: String) -> JSONValue {
        var reply: [String: JSONValue] = ["ok": false, "error": ["code": .string(code.rawValue), "message": .string(message)]]
        if let id { reply["id"] = id }
        return .object(reply)
    }

    static func line(_ value: JSONValue) -> ByteBuffer {
        var bytes = CanonicalJSON.encode(value)
        bytes.append(UInt8(ascii: "\n"))
        return ByteBuffer(bytes: bytes)
    }

    /// Whether `step`'s outcome is a strike against a connection that has not authenticated: before login every
    /// reply but a successful `auth` is an error, and blank lines get none.
    static func isStrike(_ step: Step, before principal: Principal?) -> Bool {
        guard principal == nil, case .reply(.some(_), .continue(.none)) = step else { return false }
        return true
    }
}
