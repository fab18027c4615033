/// Errors of the audit module: keys, signatures and chain checks.
public struct AuditError: Error, Sendable, CustomStringConvertible {
    /// A stable code (`key_unreadable`, `key_insecure`, `bad_key`, …).
    public let code: String
    public let message: String

    public init(_ code: String, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
