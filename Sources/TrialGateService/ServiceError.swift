import TrialGateAudit
import TrialGateCore
import TrialGateStore

/// The error every command reports: a stable code (sent as `error.code` on the socket) and a message.
public struct ServiceError: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: String
    public let message: String

    public init(_ code: String, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    /// Wraps any error from the core, the store or the audit module.
    public init(_ error: any Error) {
        switch error {
        case let e as ServiceError: self = e
        case let e as CoreError: self.init(e.code.rawValue, e.message)
        case let e as StoreError: self.init(e.code, e.message)
        case let e as AuditError: self.init(e.code, e.message)
        default: self.init("internal", "\(error)")
        }
    }

    /// The JSON form of the error inside a reply.
    public var json: JSONValue { ["code": .string(code), "message": .string(message)] }

    public static let badRequest = "bad_request"
    public static let verificationFailed = "verification_failed"
    public static let replayMismatch = "replay_mismatch"
    public static let noStore = "no_store"
}
