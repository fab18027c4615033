import Logging
import TrialGateCore

/// What a served connection's account directory and failure limit answer to a token.
public enum AuthAttempt: Sendable {
    /// The token is an account's in force.
    case admitted(Principal)
    /// Unknown token; `nowLimited` when this failure brought its source to the limit.
    case refused(nowLimited: Bool)
    /// Unknown token from a source already at the failure limit.
    case limited
}

/// Who lets a connection's client in: the accounts in force and the failure limit of the client's source.
public protocol Gatekeeper: Sendable {
    /// The source the failure limit counts the client under, as messages name it.
    var sourceName: String { get }
    func authenticate(token: String) -> AuthAttempt
    /// Whether a principal authenticated earlier still acts (not disabled, removed, expired or given a new token since).
    func allows(_ principal: Principal) -> Bool
}

/// A request the protocol accepted, for a dispatcher to run (`Dispatcher.respond(to:)`).
public struct Request: Sendable {
    /// Who runs it: the host (`exec`: the command line's actor, no account) or an authenticated principal.
    public enum Caller: Sendable {
        case host(actor: String)
        case principal(Principal)
    }

    public let command: Command
    /// The request's `id`, echoed in its reply.
    public let id: JSONValue?
    public let caller: Caller

    public init(command: Command, id: JSONValue?, caller: Caller) {
        (self.command, self.id, self.caller) = (command, id, caller)
    }
}

/// The line protocol of one client, as a state machine with no IO: it takes frames and says what to do with each
/// (`Action`), and builds every reply line. One machine serves `exec` (a host caller, no authentication), a served
/// connection (`ServedConnection`) and an in-process session (`ProtocolSession`, which the fuzzer drives).
///
/// A client connection must authenticate first (`{"cmd":"auth","token":…}`); before that every reply but a
/// successful `auth` is an error and a strike, and more than `maxErrorsBeforeAuth` strikes close it. An account
/// revoked since it authenticated is answered `revoked` and closed. Role and site rules are `Access`'s, applied by
/// the dispatcher.
public struct LineProtocol: Sendable {
    public enum State: Sendable {
        case host(actor: String)
        case unauthenticated(strikes: Int)
        case authenticated(Principal)
        /// The connection streams the log to this principal and takes no more requests.
        case streaming(Principal)
        case closed
    }

    /// After a reply: go on reading, or close the connection.
    public enum Next: Sendable, Equatable {
        case `continue`
        case close
    }

    public enum Action: Sendable {
        /// A blank line, or a line after the connection closed: no reply.
        case none
        /// Send this error reply line (without its newline), then go on or close.
        case refuse([UInt8], Next)
        /// Send this reply to a successful `auth`: the connection now acts as `Principal`.
        case welcome([UInt8], Principal)
        /// Run the request on a dispatcher, then send `reply(to:for:)` of its result.
        case run(Request)
        /// Send `ack`, then stream the log from `from` on (the connection takes no more requests).
        case subscribe(from: Int64, ack: [UInt8])
    }

    public private(set) var state: State
    private let gate: (any Gatekeeper)?
    private let maxErrorsBeforeAuth: Int
    private let logger: Logger
    /// The client's address as logs name it (`ip:port`, `unix`, `exec`).
    private let peer: String

    /// `exec`'s protocol: requests run as `actor`, the host's user, with no account and no authentication.
    public static func host(actor: String) -> LineProtocol {
        LineProtocol(state: .host(actor: actor), gate: nil, maxErrorsBeforeAuth: .max,
                     logger: Logger(label: "trialgate.exec", factory: { _ in SwiftLogNoOpLogHandler() }), peer: "exec")
    }

    /// A client connection's protocol.
    public init(gate: any Gatekeeper, peer: String, maxErrorsBeforeAuth: Int, logger: Logger) {
        self.init(state: .unauthenticated(strikes: 0), gate: gate, maxErrorsBeforeAuth: maxErrorsBeforeAuth, logger: logger, peer: peer)
    }

    private init(state: State, gate: (any Gatekeeper)?, maxErrorsBeforeAuth: Int, logger: Logger, peer: String) {
        self.state = state
        self.gate = gate
        self.maxErrorsBeforeAuth = maxErrorsBeforeAuth
        self.logger = logger
        self.peer = peer
    }

    /// The authenticated principal, if any.
    public var principal: Principal? {
        switch state {
        case .authenticated(let p), .streaming(let p): return p
        default: return nil
        }
    }

    /// Decides what a frame asks for.
    public mutating func receive(_ frame: Frame) -> Action {
        switch state {
        case .closed, .streaming: return .none
        default: break
        }
        let action = step(frame)
        if case .refuse(_, .close) = action { state = .closed }
        if case .subscribe = action, let principal { state = .streaming(principal) }
        // Before login every reply but a successful `auth` is an error: a strike.
        if case .unauthenticated(let strikes) = state, case .refuse(_, .continue) = action {
            guard strikes < maxErrorsBeforeAuth else {
                state = .closed
                logger.debug("connection closed: too many errors before authentication", metadata: ["peer": "\(peer)"])
                return .refuse(Envelope.failure(id: nil, .tooManyErrors, "\(maxErrorsBeforeAuth) requests failed before authentication; the connection is closed"), .close)
            }
            state = .unauthenticated(strikes: strikes + 1)
        }
        return action
    }

    /// The reply line to a request's result, logging refusals with the caller and the peer.
    public func reply(to result: Result<[UInt8], TrialGateError>, for request: Request) -> [UInt8] {
        switch result {
        case .success(let encoded):
            return Envelope.success(id: request.id, encodedResult: encoded)
        case .failure(let e):
            if case .principal(let principal) = request.caller { logRefusal(e, principal: principal, cmd: request.command.name) }
            return Envelope.failure(id: request.id, e)
        }
    }

    private func logRefusal(_ e: TrialGateError, principal: Principal, cmd: String) {
        if e.code == .forbidden {
            logger.notice("forbidden", metadata: ["peer": "\(peer)", "principal": .untrusted(principal.name), "cmd": .untrusted(cmd), "reason": .untrusted(e.message)])
        }
        // A wrong signature component is an attempt to sign as someone (21 CFR 11.300(d)): said loudly, every time.
        if [.signingFailed, .badSignature, .signingComponents, .signingLocked].contains(e.code) {
            logger.warning("signing refused", metadata: ["peer": "\(peer)", "principal": .untrusted(principal.name), "cmd": .untrusted(cmd),
                                                         "code": .untrusted(e.code.rawValue), "reason": .untrusted(e.message)])
        }
    }

    private mutating func step(_ frame: Frame) -> Action {
        let bytes: [UInt8]
        switch frame {
        case .tooLong(let limit):
            return .refuse(Envelope.failure(id: nil, .lineTooLong, "request lines are limited to \(limit) bytes; the line was dropped"), .continue)
        case .line(let b):
            bytes = b
        }
        if frame.isBlank { return .none }
        let request: JSONValue
        do { request = try JSONParser.parse(bytes) } catch {
            return .refuse(Envelope.failure(id: nil, .invalidJSON, TrialGateError(error).message), .continue)
        }
        let id = request["id"]
        let caller: Request.Caller
        switch state {
        case .closed, .streaming: return .none
        case .host(let actor): caller = .host(actor: actor)
        case .unauthenticated, .authenticated:
            // A client's request is routed by its `cmd` before anything else, so that `auth` is found.
            guard case .object(let members) = request, let cmd = members["cmd"]?.stringValue else {
                return .refuse(Envelope.failure(id: id, .badRequest, "a request is a JSON object with a \"cmd\""), .continue)
            }
            if cmd == "auth" { return authenticate(members, id: id) }
            guard let principal else {
                logger.notice("request before authentication", metadata: ["peer": "\(peer)", "cmd": .untrusted(cmd)])
                return .refuse(Envelope.failure(id: id, .unauthenticated, "send {\"cmd\":\"auth\",\"token\":\"…\"} first"), .continue)
            }
            // An account disabled, removed, expired or given a new token since this session authenticated acts no more.
            guard gate?.allows(principal) == true else {
                logger.notice("session of a revoked principal refused", metadata: ["peer": "\(peer)"])
                // Answered, then closed: the connection holds no slot as a logged-in one any more.
                return .refuse(Envelope.failure(id: id, .revoked, "this session's account is no longer in force (disabled, removed, expired or its token replaced); connect and authenticate again"),
                              .close)
            }
            caller = .principal(principal)
        }
        let command: Command
        do { command = try Command.parse(request) } catch {
            return .refuse(Envelope.failure(id: id, TrialGateError(error)), .continue)
        }
        guard case .subscribe(let from) = command, case .principal(let principal) = caller else {
            return .run(Request(command: command, id: id, caller: caller))
        }
        // Streaming is a served connection's: its access is checked here, as the dispatcher would for a command.
        do { try Access.check(principal, command, siteOfCandidate: { _ in nil }, eventAt: { _ in nil }) } catch {
            let e = TrialGateError(error)
            logger.notice("forbidden", metadata: ["peer": "\(peer)", "principal": .untrusted(principal.name), "cmd": "subscribe"])
            return .refuse(Envelope.failure(id: id, e), .continue)
        }
        return .subscribe(from: from, ack: Envelope.success(id: id, result: ["subscribed": true, "from": .number(Double(from))]))
    }

    /// Checks a token. A valid token is let in even from a source the failure limit has stopped (the limit sheds
    /// floods, it does not guard 256-bit tokens). A wrong one is logged until its source reaches the limit; after
    /// that it is answered `rate_limited` and the connection closed without a log line each, so a flood cannot flood
    /// the log either.
    private mutating func authenticate(_ members: [String: JSONValue], id: JSONValue?) -> Action {
        let extra = members.keys.filter { $0 != "id" && $0 != "cmd" && $0 != "token" }
        guard extra.isEmpty, let token = members["token"]?.stringValue, let gate else {
            return .refuse(Envelope.failure(id: id, .badRequest, "auth takes exactly \"token\""), .continue)
        }
        switch gate.authenticate(token: token) {
        case .admitted(let principal):
            logger.info("authenticated", metadata: ["peer": "\(peer)", "principal": .untrusted(principal.name), "role": "\(principal.role.rawValue)"])
            state = .authenticated(principal)
            return .welcome(Envelope.success(id: id, result: ["principal": .string(principal.name), "role": .string(principal.role.rawValue),
                                                             "sites": .array(principal.sites.map { .string($0) })]), principal)
        case .limited:
            return .refuse(Envelope.failure(id: id, .rateLimited, "too many failed authentications from \(sourceName); wait and try again"), .close)
        case .refused(let nowLimited):
            logger.warning("authentication failed", metadata: ["peer": "\(peer)", "source": "\(sourceName)", "rate_limited": "\(nowLimited)"])
            return .refuse(Envelope.failure(id: id, .authFailed, "unknown token"), nowLimited ? .close : .continue)
        }
    }

    private var sourceName: String { gate?.sourceName ?? peer }
}
