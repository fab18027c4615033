import Foundation
import NIOCore
import TrialGateCore
import TrialGateService

/// A served connection's gatekeeper: the accounts the account watcher installed, and the failure limit of the
/// client's source.
struct ConnectionGate: Gatekeeper {
    let state: ServerState
    let source: PeerSource

    var sourceName: String { "\(source)" }

    func authenticate(token: String) -> AuthAttempt {
        if let principal = state.users.authenticate(token: token, now: SystemClock().now()) { return .admitted(principal) }
        let wasLimited = state.isLimited(source)
        let nowLimited = state.authFailed(from: source)
        return wasLimited ? .limited : .refused(nowLimited: nowLimited)
    }

    func allows(_ principal: Principal) -> Bool { state.allows(principal) }
}

extension LineServer {
    /// A new connection's line protocol.
    func lineProtocol(peer: Peer) -> LineProtocol {
        LineProtocol(gate: ConnectionGate(state: state, source: peer.source), peer: peer.description,
                     maxErrorsBeforeAuth: config.maxErrorsBeforeAuth, logger: logger)
    }

    /// A reply line for the socket: the envelope's bytes and a newline.
    static func line(_ bytes: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(bytes.count + 1)
        buffer.writeBytes(bytes)
        buffer.writeInteger(UInt8(ascii: "\n"))
        return buffer
    }

    /// An error line the connection itself sends (limits, deadlines, shutdown), outside any request.
    static func line(_ code: ErrorCode, _ message: String, id: JSONValue? = nil) -> ByteBuffer {
        line(Envelope.failure(id: id, code, message))
    }
}
