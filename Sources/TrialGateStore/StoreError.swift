/// Errors of the event store, with stable codes and messages that say what to do.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public let code: String
    public let message: String

    public init(_ code: String, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    public static let missingCode = "store_missing"
    public static let corruptCode = "store_corrupt"
}
